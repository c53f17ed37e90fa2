"""Reachability of the database and Redis, for /healthz and the start-up check."""

from __future__ import annotations

import redis
import sqlalchemy as sa

from pytake import db
from pytake.db import check_database
from pytake.settings import SettingsError, get_settings

WRITE_WAIT = 2.0  # seconds /healthz waits for the lock a webhook's store takes


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


def check_storing() -> None:
    """Whether a webhook could be stored now: the lock its INSERT takes (on SQLite, the
    write lock) is granted within ``WRITE_WAIT``. A database that answers reads while a
    held lock stops every write is not healthy. (A full disk is only seen by a real write.)"""
    try:
        with db.session(write=True, wait=WRITE_WAIT) as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(sa.text("LOCK TABLE webhook_event IN ROW EXCLUSIVE MODE"))
            else:
                s.execute(sa.text("SELECT 1"))  # its BEGIN IMMEDIATE is the probe
            s.rollback()
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SettingsError(f"PYTAKE_DATABASE_URL: cannot write: {reason}") from None


def report() -> tuple[bool, dict[str, str]]:
    """``(healthy, {"database": ..., "redis": ...})`` with a short reason for each failure."""
    result: dict[str, str] = {}
    healthy = True
    for name, check in (
        ("database", check_database),
        ("database", check_storing),
        ("redis", check_redis),
    ):
        if result.get(name, "ok") != "ok":
            continue  # unreachable says more than unwritable
        try:
            check()
            result[name] = "ok"
        except SettingsError as exc:
            healthy = False
            result[name] = str(exc).split(": ", 2)[-1][:200]
    if get_settings().redis_url is None:
        result["redis"] = "not configured (embedded mode)"
    return healthy, result
