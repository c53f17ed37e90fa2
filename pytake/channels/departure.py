"""When a call's request left this host.

Meta counts a send when it arrives. A call held up here after its rate-limit grant (a busy
event loop, a full connection pool) arrives later than it was granted, so the limiter
(``jobs.limits``) logs it at the moment it left. The HTTP client notes that moment through
httpx's ``trace`` extension; a transport that does not trace (the tests' in-process one)
leaves the limiter to log the call at its answer, the latest it can have arrived.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_watching: ContextVar[list[float] | None] = ContextVar("departures", default=None)


@contextlib.contextmanager
def watched() -> Iterator[list[float]]:
    """The ``time.monotonic()`` at which each request made inside the block was written."""
    times: list[float] = []
    token = _watching.set(times)
    try:
        yield times
    finally:
        _watching.reset(token)


async def _trace(event: str, info: dict) -> None:
    if event.endswith(".send_request_body.complete"):
        times = _watching.get()
        if times is not None:
            times.append(time.monotonic())


def extensions() -> dict:
    """httpx request extensions: the trace, only while someone is watching."""
    return {"trace": _trace} if _watching.get() is not None else {}
