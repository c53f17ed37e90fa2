"""What every benchmark needs: a PostgreSQL database of its own, migrated, and a timer."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator

import psycopg

ADMIN_URL = os.environ.get("PYTEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def database(name: str, seed: str) -> Iterator[None]:
    """Create ``name``, point PyTake at it, migrate, run ``seed``; drop it afterwards."""
    from pytake import db, migrations
    from pytake.settings import get_settings

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    os.environ["PYTAKE_DATABASE_URL"] = base.replace("postgresql://", "postgresql+psycopg://")
    os.environ["PYTAKE_DATABASE_URL"] += "/" + name
    get_settings.cache_clear()
    db.dispose_engines()
    migrations.upgrade()
    with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
        conn.execute(seed)
    try:
        yield
    finally:
        db.dispose_engines()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls, after one that warms caches and plans."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
