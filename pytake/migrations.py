"""Bring the schema to the newest revision; safe when several workers start at once."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from pytake.db import check_database, engine_for
from pytake.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
# Any constant works; it only has to be the same for every PyTake process.
_PG_LOCK_KEY = 0x7079_7461_6B65


# Indexes on expressions the models cannot describe (made by migrations, PostgreSQL only).
EXPRESSION_INDEXES = frozenset({"ix_message_search"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What autogenerate compares: not the expression indexes above."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    return config


@contextlib.contextmanager
def _exclusive(connection: sa.Connection) -> Iterator[None]:
    if connection.dialect.name != "postgresql":
        yield  # SQLite: one process (embedded mode); the file lock serializes writers.
        return
    connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
    try:
        yield
    finally:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})


def upgrade(url: str | None = None) -> None:
    url = url or get_settings().database_url
    check_database(url)
    config = alembic_config()
    with engine_for(url).connect() as connection, _exclusive(connection):
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


def is_current(url: str | None = None) -> bool:
    engine = engine_for(url or get_settings().database_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
