"""Database engine and sessions, shared by the web app, the CLI and the workers."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pytake import nul
from pytake.folding import fold
from pytake.settings import SettingsError, get_settings

T = TypeVar("T")


BUSY_MS = 10000  # how long a SQLite writer queues for the lock, unless told (``wait``)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLAlchemy, not the driver, starts transactions (see _sqlite_begin): savepoints work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the web process read while a worker writes; the timeout queues writers.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # PostgreSQL gets the same SQL function from migration 0008.
    dbapi_connection.create_function("pytake_fold", 1, fold, deterministic=True)
    cursor.close()


def _sqlite_begin(connection) -> None:
    """Writers take the write lock up front: a read-then-write transaction would otherwise
    fail at once with 'database is locked' when another writer committed in between."""
    options = connection.get_execution_options()
    wait = options.get("pytake_wait")
    # Set on every transaction: the pooled connection must not keep another's bound.
    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wait * 1000) if wait else BUSY_MS}")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("pytake_write") else "BEGIN")


def _postgresql_begin(connection) -> None:
    """A transaction told how long it may wait (``wait``) gives up on a lock, or on a
    statement, after that long, instead of hanging with the request that runs it."""
    wait = connection.get_execution_options().get("pytake_wait")
    if wait:
        ms = int(wait * 1000)
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")


# A connection idle this long is pinged before use: the server may have restarted or a
# firewall dropped it since. One in steady use is not (a round trip on every session, a
# quarter of a one-query read's); if the server goes away under load, the session that
# meets the broken connection fails and the whole pool reconnects.
PING_AFTER_IDLE = 2.0  # seconds


def _checked_in(_dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _pinger(dialect: sa.Dialect) -> Callable[..., None]:
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("checked_in")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # new, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # Its siblings went idle at the same server: replace them all, not one by one.
            raise sa.exc.InvalidatePoolError(str(exc)) from exc

    return ping_if_idle


_engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    engine = _engines.get(url)
    if engine is not None:
        return engine
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            json_serializer=nul.dumps,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    else:
        # Connections kept open per process: enough for the sessions a busy process holds at
        # once, so connecting (a new PostgreSQL backend each time) is not paid per request.
        engine = sa.create_engine(
            url,
            pool_size=get_settings().database_pool_size,
            max_overflow=10,
            connect_args={"connect_timeout": 5},
            json_serializer=nul.dumps,
        )
        sa.event.listen(engine, "checkin", _checked_in)
        sa.event.listen(engine, "checkout", _pinger(engine.dialect))
        sa.event.listen(engine, "begin", _postgresql_begin)
    sa.event.listen(engine, "before_cursor_execute", nul.bound_parameters, retval=True)
    _engines[url] = engine
    return engine


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


@contextlib.contextmanager
def session(*, write: bool = False, wait: float | None = None) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises.

    ``write=True`` for transactions that read and then write under concurrency (the
    pipeline): on SQLite they queue for the write lock instead of failing. ``wait``: the
    seconds it may wait for a lock (or, on PostgreSQL, a statement) before failing, for
    work a caller is waiting on (a webhook answers 503 rather than hang).
    """
    engine = get_engine()
    if write or wait:
        engine = engine.execution_options(pytake_write=write, pytake_wait=wait)
    with Session(engine, expire_on_commit=False) as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise


def remember(db: Session) -> None:
    """Let ``memo`` keep answers for the rest of this session: a batch of webhooks then
    reads an organization's settings, flows and queues once, not once per message."""
    db.info["memo"] = {}


def memo(db: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per session where ``remember`` was called, else every time.

    Only for what the session's own work never changes (configuration, not conversations).
    """
    cache = db.info.get("memo")
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def check_database(url: str | None = None) -> None:
    """Fail with one line naming the setting when the database cannot be reached."""
    try:
        with engine_for(url or get_settings().database_url).connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SettingsError(f"PYTAKE_DATABASE_URL: cannot connect: {reason}") from None


def dispose_engine(url: str) -> None:
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close every pool (tests switch databases; forked workers must not share sockets)."""
    while _engines:
        _engines.popitem()[1].dispose()


def insert_ignore(
    db: Session, table: sa.Table, values: dict, conflict: list[str] | None = None
) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING; the new row's id, or None when it already existed.

    Concurrent duplicates are settled by the unique constraint, never by a read first;
    ``conflict`` names the constraint's columns, or None for any unique constraint.
    """
    dialect = db.get_bind().dialect.name
    statement = _insert_ignore(dialect, table, tuple(conflict) if conflict else None)
    return db.execute(statement, values).scalar_one_or_none()


@functools.cache
def _insert_ignore(dialect: str, table: sa.Table, conflict: tuple[str, ...] | None) -> sa.Insert:
    """Built once per table; the values travel as parameters (every webhook's INSERT would
    otherwise be rebuilt and its values walked for the statement cache's key)."""
    module = sqlite_dialect if dialect == "sqlite" else postgresql_dialect
    return (
        module.insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict) if conflict else None)
        .returning(table.c.id)
    )


def contains(term: str) -> str:
    """A LIKE pattern (escape character ``\\``) finding ``term`` anywhere, its own % and _
    taken literally."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
