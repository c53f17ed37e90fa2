"""The asyncio Redis client of this process and loop (pools cannot cross event loops)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from pytake.settings import get_settings

_clients: dict[tuple[int, str], aioredis.Redis] = {}


def client() -> aioredis.Redis | None:
    """None in embedded mode."""
    url = get_settings().redis_url
    if url is None:
        return None
    key = (id(asyncio.get_running_loop()), url)
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = aioredis.Redis.from_url(
            url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30
        )
    return found


async def close() -> None:
    loop = id(asyncio.get_running_loop())
    for key in [key for key in _clients if key[0] == loop]:
        await _clients.pop(key).aclose()
