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


def _at(url: str, revision: str) -> None:
    config = migrations.alembic_config()
    with db.engine_for(url).connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def test_deactivation_moves_to_memberships_and_keeps_every_row(tmp_path):
    """0014 drops a column of app_user, which memberships, sessions and messages refer to:
    on SQLite, copying the table (batch mode) would have emptied it first, and its ON DELETE
    rules would have taken those rows with it."""
    url = f"sqlite:///{tmp_path / 'members.db'}"
    _at(url, "0013")
    engine = db.engine_for(url)
    with engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO organization (id, name, slug, settings, created_at) VALUES"
            " (1, 'Acme', 'acme', '{}', '2026-01-01'), (2, 'Beta', 'beta', '{}', '2026-01-01')"
        )
        c.exec_driver_sql(
            "INSERT INTO app_user (id, email, name, is_active, created_at)"
            " VALUES (1, 'on@a.co', 'On', 1, '2026-01-01'), (2, 'off@a.co', 'Off', 0, '2026-01-01')"
        )
        c.exec_driver_sql(
            "INSERT INTO membership (user_id, organization_id, role, created_at) VALUES"
            " (1, 1, 'owner', '2026-01-01'), (2, 1, 'agent', '2026-01-01'),"
            " (2, 2, 'owner', '2026-01-01')"
        )
        c.exec_driver_sql(
            "INSERT INTO user_session (id, user_id, organization_id, created_at, expires_at)"
            " VALUES ('s1', 1, 1, '2026-01-01', '2027-01-01')"
        )
    migrations.upgrade(url)
    with engine.connect() as c:
        members = c.exec_driver_sql(
            "SELECT user_id, organization_id, is_active FROM membership ORDER BY id"
        ).all()
        sessions = c.exec_driver_sql("SELECT id FROM user_session").all()
    assert [tuple(m) for m in members] == [(1, 1, 1), (2, 1, 0), (2, 2, 0)]
    assert [s[0] for s in sessions] == ["s1"]
    db.dispose_engine(url)
