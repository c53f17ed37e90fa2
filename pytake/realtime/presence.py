"""Who is online: the members with a PyTake tab open, shared by every worker.

Each web worker vouches for the people behind its connected tabs: when a tab opens a page,
and again every ``REFRESH`` seconds while it stays connected. A member nobody vouched for
within ``TTL`` seconds is offline. With Redis the registry is one sorted set per
organization (member → expiry); embedded, a dictionary of this process.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable

import redis

from pytake import redisio

log = logging.getLogger("pytake.realtime")
TTL = 75.0
REFRESH = 30.0
PREFIX = "pytake:online:"

_local: dict[int, dict[int, float]] = collections.defaultdict(dict)


async def seen(organization_id: int, user_ids: Iterable[int]) -> None:
    users = set(user_ids)
    if not users:
        return
    client = redisio.client()
    if client is None:
        until = time.monotonic() + TTL
        _local[organization_id].update(dict.fromkeys(users, until))
        return
    key = f"{PREFIX}{organization_id}"
    until = time.time() + TTL
    try:
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, dict.fromkeys((str(u) for u in users), until))
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.expire(key, int(TTL) + 1)
            await pipe.execute()
    except redis.RedisError as exc:  # presence is a hint; the workspace goes on without it
        log.warning("presence not recorded: %s", exc)


async def online(organization_id: int) -> set[int]:
    client = redisio.client()
    if client is None:
        now = time.monotonic()
        return {u for u, until in _local[organization_id].items() if until > now}
    try:
        members = await client.zrangebyscore(f"{PREFIX}{organization_id}", time.time(), "+inf")
    except redis.RedisError as exc:
        log.warning("presence not read: %s", exc)
        return set()
    return {int(m) for m in members}
