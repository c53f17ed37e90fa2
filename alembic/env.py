"""Alembic environment: PyTake's metadata and database URL, batch mode on SQLite."""

from __future__ import annotations

from sqlmodel import SQLModel

import pytake.models  # noqa: F401  (registers every table)
from alembic import context
from pytake import migrations
from pytake.db import engine_for
from pytake.settings import get_settings

config = context.config


def _render_item(type_, obj, autogen_context):
    """Render PyTake's column types by name so migrations stay readable."""
    from sqlmodel.sql.sqltypes import AutoString

    from pytake.models.base import JsonType, UTCDateTime

    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from pytake.models.base import UTCDateTime")
        return "UTCDateTime()"
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if obj is JsonType:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.attributes.get("url") or get_settings().database_url
    with engine_for(url).connect() as connection:
        _configure_and_run(connection)
        connection.commit()


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        include_object=migrations.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("PyTake migrations run online only: use `python -m pytake migrate`.")
run_migrations()
