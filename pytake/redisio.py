"""The asyncio Redis client of this process and loop (pools cannot cross event loops), a
blocking one for code off the loop, and pub/sub subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis

from pytake.settings import get_settings

_clients: dict[str, tuple[asyncio.AbstractEventLoop, aioredis.Redis]] = {}
IDLE = 5.0  # seconds a subscriber waits for a message before asking again


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


def blocking_client() -> redis.Redis | None:
    """None in embedded mode. For code that runs off the event loop and has no loop to
    await on (a commit hook in a worker thread, the CLI); thread-safe, one per process."""
    url = get_settings().redis_url
    return None if url is None else _blocking(url)


@functools.cache
def _blocking(url: str) -> redis.Redis:
    # Short timeouts: its callers have just committed and must not hang on a sick Redis.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


@contextlib.asynccontextmanager
async def subscription(client: aioredis.Redis, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
    """Inside the block, the messages published on ``channel`` from now on. Iterating raises
    ``redis.RedisError`` or ``OSError`` when the connection drops: subscribe again."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel)
        yield _messages(pubsub)
    finally:
        await pubsub.aclose()


async def _messages(pubsub: aioredis.client.PubSub) -> AsyncIterator[bytes]:
    while True:
        # A bounded wait: an idle channel must not hit the client's socket timeout.
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=IDLE)
        if message is not None:
            yield message["data"]


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
