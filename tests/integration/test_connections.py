"""The PostgreSQL pool: connections in steady use skip the ping, idle ones are checked, and
a server that dropped them (a restart, a firewall) costs at most one failed session."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from pytake import db
from tests.conftest import POSTGRES_ADMIN_URL


def _drop_connections(url: str) -> int:
    """What a server restart does to every connection the pool holds."""
    name = sa.make_url(url).database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchone()[0]


def _read(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT 1")).scalar_one()


def _pings(engine: sa.Engine) -> list[int]:
    """Counts each ping the pool sends (the dialect's do_ping), by wrapping it."""
    count = [0]
    ping = engine.dialect.do_ping

    def counted(dbapi_connection):
        count[0] += 1
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted
    return count


def test_busy_connections_are_not_pinged(postgres_url):
    engine = db.engine_for(postgres_url)
    pings = _pings(engine)
    for _ in range(5):
        assert _read(engine) == 1
    assert pings[0] == 0


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(postgres_url, monkeypatch):
    engine = db.engine_for(postgres_url)
    pings = _pings(engine)
    assert _read(engine) == 1
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # as if it had been idle for long
    assert _drop_connections(postgres_url) >= 1
    assert _read(engine) == 1  # the ping found it dead; the pool reconnected first
    assert pings[0] == 1


def test_a_connection_dropped_while_busy_fails_one_session_then_the_pool_reconnects(
    postgres_url,
):
    engine = db.engine_for(postgres_url)
    assert _read(engine) == 1
    assert _drop_connections(postgres_url) >= 1
    with pytest.raises(sa.exc.OperationalError):
        _read(engine)
    assert _read(engine) == 1
