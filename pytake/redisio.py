"""The asyncio Redis client of this process and loop (pools cannot cross event loops), a
blocking one for code off the loop, and pub/sub subscriptions.

A process opens at most ``PYTAKE_REDIS_MAX_CONNECTIONS`` connections to Redis (managed plans
cap them; five web workers once held 384): the pools are bounded and a command waits for a
connection to come back. How the budget is shared (``share``) depends on what the process
does: a web worker leaves most of it to Reflex's own clients (the tabs' states and tokens),
a job process keeps it for its readers and the commands its jobs send.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis

from pytake.settings import get_settings

_clients: dict[str, tuple[asyncio.AbstractEventLoop, aioredis.Redis]] = {}
IDLE = 5.0  # seconds a subscriber waits for a message before asking again
# Past its bound, a command waits this long for a connection to come back, then fails like an
# unreachable Redis (callers fall back: the sweeper, the next load).
POOL_WAIT_SECONDS = 5.0
BLOCKING_CONNECTIONS = 2  # commit hooks in worker threads: one short PUBLISH each
SUBSCRIPTIONS = 2  # a web worker's: live changes and revocations, each holds one
COMMANDS = 4  # a web worker's own commands: publications, presence, sequence numbers


@dataclasses.dataclass(frozen=True)
class Share:
    own: int  # PyTake's asyncio pool
    blocking: int  # PyTake's blocking pool
    reflex_each: int  # REFLEX_REDIS_MAX_CONNECTIONS: its state manager's and token manager's


class BudgetTooSmall(ValueError):
    pass


def share(total: int, *, pages: bool, job_readers: int) -> Share:
    """``total`` shared out in a process that serves pages or not and runs ``job_readers``
    jobs (each job's reader blocks on one connection)."""
    if not pages:
        return Share(total - BLOCKING_CONNECTIONS, BLOCKING_CONNECTIONS, 0)
    own = SUBSCRIPTIONS + job_readers + COMMANDS
    reflex_each = (total - BLOCKING_CONNECTIONS - own) // 2
    if reflex_each < 3:  # Reflex's token manager alone keeps two subscriptions
        needed = BLOCKING_CONNECTIONS + own + 6
        raise BudgetTooSmall(
            f"PYTAKE_REDIS_MAX_CONNECTIONS={total} is too few for a web worker"
            + (" that also runs the jobs" if job_readers else "")
            + f": it needs at least {needed}"
        )
    return Share(own, BLOCKING_CONNECTIONS, reflex_each)


_page_server_readers: int | None = None  # set in web workers: the job readers they run


def serve_pages(job_readers: int) -> Share:
    """Told once by the web app, before any client is made: this process serves pages (and
    runs ``job_readers`` jobs' readers); its pools shrink to leave Reflex its share."""
    global _page_server_readers
    _page_server_readers = job_readers
    return current_share()


def current_share() -> Share:
    total = get_settings().redis_max_connections
    if _page_server_readers is None:
        return share(total, pages=False, job_readers=0)
    return share(total, pages=True, job_readers=_page_server_readers)


def client() -> aioredis.Redis | None:
    """None in embedded mode."""
    url = get_settings().redis_url
    if url is None:
        return None
    loop = asyncio.get_running_loop()
    found = _clients.get(url)
    if found is None or found[0] is not loop:  # a client of a finished loop cannot be reused
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=current_share().own,
            timeout=POOL_WAIT_SECONDS,
            socket_connect_timeout=3,
            socket_timeout=10,
            health_check_interval=30,
            client_name=f"pytake-{os.getpid()}",
        )
        found = _clients[url] = (loop, aioredis.Redis.from_pool(pool))
    return found[1]


def blocking_client() -> redis.Redis | None:
    """None in embedded mode. For code that runs off the event loop and has no loop to
    await on (a commit hook in a worker thread, the CLI); thread-safe, one per process."""
    url = get_settings().redis_url
    return None if url is None else _blocking(url)


@functools.cache
def _blocking(url: str) -> redis.Redis:
    # Short timeouts: its callers have just committed and must not hang on a sick Redis.
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=current_share().blocking,
        timeout=1,
        socket_connect_timeout=1,
        socket_timeout=1,
        client_name=f"pytake-{os.getpid()}",
    )
    return redis.Redis.from_pool(pool)


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
