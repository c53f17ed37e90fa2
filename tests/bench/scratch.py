"""What every benchmark needs: a PostgreSQL database of its own, migrated, and a timer."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator

import psycopg

from tests.bench import servers

# One organization, one number, 20 members (member 1 a supervisor, the others agents).
ORGANIZATION = """
INSERT INTO organization (id, name, slug, settings, created_at)
    VALUES (1, 'Bench', 'bench', '{}', now());
INSERT INTO app_user (id, email, name, password_hash, created_at)
    SELECT n, 'agent' || n || '@bench.test', 'Agent ' || n, 'x', now()
    FROM generate_series(1, 20) n;
INSERT INTO membership (user_id, organization_id, role, created_at)
    SELECT n, 1, CASE WHEN n = 1 THEN 'supervisor' ELSE 'agent' END, now()
    FROM generate_series(1, 20) n;
INSERT INTO channel (id, organization_id, kind, name, external_id, is_active,
                     rate_limit_per_second, config, created_at)
    VALUES (1, 1, 'whatsapp', 'Main', 'pn-bench', true, 80, '{}', now());
"""
ADMIN_URL = os.environ.get("PYTEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def database(name: str, *seeds: str) -> Iterator[None]:
    """Create ``name``, point PyTake at it (and at the servers' secret key), migrate, run
    the ``seeds`` in turn; drop it afterwards."""
    from pytake import db, migrations
    from pytake.settings import get_settings

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    os.environ["PYTAKE_DATABASE_URL"] = base.replace("postgresql://", "postgresql+psycopg://")
    os.environ["PYTAKE_DATABASE_URL"] += "/" + name
    # The key the servers run with (credentials stored here must decrypt there).
    os.environ["PYTAKE_SECRET_KEY"] = servers.SECRET_KEY
    get_settings.cache_clear()
    db.dispose_engines()
    migrations.upgrade()
    with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
        for seed in seeds:
            conn.execute(seed)
    try:
        yield
    finally:
        db.dispose_engines()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(name: str) -> psycopg.Connection:
    """The benchmark's own database (see ``database``), to read between runs."""
    return psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + "/" + name, autocommit=True)


def add_numbers(count: int, limit: int = 80) -> None:
    """The simulator's first ``count`` bench numbers (``graph_app.number``) as channels of
    the organization, each sending at most ``limit`` messages per second."""
    from pytake import db
    from pytake.services import channels
    from tests.bench import graph_app

    with db.session() as s:
        for n in range(count):
            pnid, display = graph_app.number(n)
            channel = channels.add_whatsapp(
                s,
                organization_id=1,
                phone_number_id=pnid,
                waba_id=graph_app.WABA,
                display_number=f"+{display}",
                access_token=graph_app.TOKEN,
                app_secret=graph_app.SECRET,
                verify_token="bench-verify",
            )
            channel.rate_limit_per_second = limit
    db.dispose_engines()


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls, after one that warms caches and plans."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def arguments(doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line: its own options, and ``--json FILE`` for the results."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--json", help="also write the results to this file")
    return parser


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def progress(phase: str, figures: dict) -> None:
    """Each phase as it ends: a long run that fails later still said what it measured."""
    print(f"{phase}: {json.dumps(figures, default=str)}", flush=True)


def save(path: str | None, results: dict) -> None:
    if path:
        with open(path, "w") as out:
            json.dump(results, out, indent=2, default=str)
