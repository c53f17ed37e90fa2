"""Shared fixtures: an isolated data folder and database for every test run.

The suite runs on the embedded default (a SQLite file) unless ``PYTAKE_DATABASE_URL`` /
``PYTAKE_REDIS_URL`` are set, as CI's second run does against real PostgreSQL and Redis.
Tests that need PostgreSQL or Redis in any case use ``postgres_url`` / ``redis_url``; they
skip when the server is missing, unless ``PYTAKE_REQUIRE_SERVICES=1`` makes that a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
import redis as redis_lib
import sqlalchemy as sa
from sqlmodel import SQLModel

import pytake.models  # noqa: F401
from pytake import db, migrations
from pytake.settings import reset_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "PYTEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("PYTEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
REQUIRE_SERVICES = os.environ.get("PYTAKE_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, error: Exception):
    message = f"{what} is not reachable: {error}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def environment(tmp_path_factory) -> Iterator[str]:
    """Point PyTake at a fresh data folder and database for the whole run."""
    data_dir = tmp_path_factory.mktemp("data")
    saved = dict(os.environ)
    os.environ["PYTAKE_DATA_DIR"] = str(data_dir)
    os.environ["PYTAKE_SECRET_KEY"] = TEST_SECRET_KEY
    if not os.environ.get("PYTAKE_DATABASE_URL"):
        os.environ["PYTAKE_DATABASE_URL"] = f"sqlite:///{data_dir / 'test.db'}"
    reset_settings()
    url = db.get_engine().url.render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    db.dispose_engines()
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


@pytest.fixture(autouse=True)
def clean_database(environment) -> Iterator[None]:
    """Each test starts from empty tables (the schema stays)."""
    yield
    engine = db.get_engine()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def settings_env(monkeypatch):
    """Change PYTAKE_* variables for one test; settings are re-read on each change."""

    def set_env(**values: str | None) -> None:
        for name, value in values.items():
            key = "PYTAKE_" + name.upper()
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        reset_settings()

    yield set_env
    reset_settings()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards."""
    name = "pytake_t_" + secrets.token_hex(4)
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    yield url
    db.dispose_engine(url)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis_lib.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()


def pytest_collection_modifyitems(items) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in this thread
    while the browser is open, which asyncio tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
