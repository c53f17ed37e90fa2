"""The asyncio Redis client of this process and loop (pools cannot cross event loops)."""

from __future__ import annotations

import asyncio

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
