"""The migrations build exactly the schema the models describe, on both databases."""

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from alembic import command
from pytake import db, migrations


def _schema_diff(url: str) -> list:
    with db.engine_for(url).connect() as connection:
        opts = {"compare_type": True, "include_object": migrations.include_object}
        context = MigrationContext.configure(connection, opts=opts)
        return compare_metadata(context, SQLModel.metadata)


def _round_trip(url: str) -> None:
    migrations.upgrade(url)
    assert migrations.is_current(url)
    assert _schema_diff(url) == []
    config = migrations.alembic_config()
    with db.engine_for(url).connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        connection.commit()
    inspector = sa.inspect(db.engine_for(url))
    assert set(inspector.get_table_names()) <= {"alembic_version"}
    migrations.upgrade(url)
    assert _schema_diff(url) == []


def test_sqlite_schema_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    _round_trip(url)
    db.dispose_engine(url)


@pytest.mark.postgres
def test_postgresql_schema_matches_models(postgres_url):
    _round_trip(postgres_url)


@pytest.mark.postgres
def test_concurrent_starts_migrate_once(postgres_url):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            migrations.upgrade(postgres_url)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=start) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    assert migrations.is_current(postgres_url)
    assert _schema_diff(postgres_url) == []


def test_message_external_id_is_unique_per_channel(environment):
    indexes = sa.inspect(db.get_engine()).get_unique_constraints("message")
    assert {"channel_id", "external_id"} in [set(c["column_names"]) for c in indexes]
