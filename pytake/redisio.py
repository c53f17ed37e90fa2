"""The asyncio Redis client of this process and loop (pools cannot cross event loops)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis

from pytake.settings import get_settings

_clients: dict[str, tuple[asyncio.AbstractEventLoop, aioredis.Redis]] = {}


def client() -> aioredis.Redis | None:
    """None in embedded mode."""
    url = get_settings().redis_url
    if url is None:
        return None
    loop = asyncio.get_running_loop()
    found = _clients.get(url)
    if found is None or found[0] is not loop:  # a client of a finished loop cannot be reused
        found = _clients[url] = (
            loop,
            aioredis.Redis.from_url(
                url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30
            ),
        )
    return found[1]


async def close() -> None:
    loop = asyncio.get_running_loop()
    for url in [url for url, (owner, _) in _clients.items() if owner is loop]:
        await _clients.pop(url)[1].aclose()


@contextlib.asynccontextmanager
async def exclusive(client: aioredis.Redis, name: str, seconds: float) -> AsyncIterator[bool]:
    """Whether this worker holds the lock ``name`` (for at most ``seconds``); one worker
    at a time does what it guards, the others skip it this round."""
    lock = client.lock(f"pytake:lock:{name}", timeout=seconds)
    if not await lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(redis.exceptions.LockError):
            await lock.release()
