"""Reachability of the database and Redis, for /healthz and the start-up check."""

from __future__ import annotations

import redis

from pytake.db import check_database
from pytake.settings import SettingsError, get_settings


def check_redis() -> None:
    url = get_settings().redis_url
    if url is None:
        return
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SettingsError(f"PYTAKE_REDIS_URL: cannot connect: {exc}") from None
    finally:
        client.close()


def report() -> tuple[bool, dict[str, str]]:
    """``(healthy, {"database": ..., "redis": ...})`` with a short reason for each failure."""
    result: dict[str, str] = {}
    healthy = True
    for name, check in (("database", check_database), ("redis", check_redis)):
        try:
            check()
            result[name] = "ok"
        except SettingsError as exc:
            healthy = False
            result[name] = str(exc).split(": ", 2)[-1][:200]
    if get_settings().redis_url is None:
        result["redis"] = "not configured (embedded mode)"
    return healthy, result
