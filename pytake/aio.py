"""asyncio helpers for long-running loops."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Python 3.11's asyncio.timeout (used inside redis-py) can turn a cancellation that
    arrives as its own deadline expires into TimeoutError; loops that catch errors check for
    a pending cancellation themselves, or shutdown would wait forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
