"""asyncio helpers for long-running loops."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Python 3.11's asyncio.timeout (used inside redis-py) can turn a cancellation that
    arrives as its own deadline expires into TimeoutError, and some library calls return
    normally after one; loops check for a pending cancellation themselves, or shutdown
    would wait forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def pause(seconds: float) -> None:
    """Sleep between rounds of a loop, unless a cancellation was swallowed in the round (the
    sleep itself would not notice it, and a long pause would hold shutdown up)."""
    stop_if_cancelled()
    await asyncio.sleep(seconds)
