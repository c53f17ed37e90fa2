"""Processes the benchmarks measure: PyTake in production mode (``python -m pytake run``
with PostgreSQL, Redis and several workers), a bare granian app, the Meta simulator."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str], ready_url: str, wait: float
) -> Iterator[subprocess.Popen]:
    """Start ``command`` in a session of its own; yield it once ``ready_url`` answers; stop
    it (and every process it started) afterwards. Its output goes to a log file, shown if it
    never became ready."""
    with tempfile.NamedTemporaryFile("w+", prefix="bench-", suffix=".log") as log:
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + wait
            while True:
                if child.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{command[:4]} did not start:\n{log.read()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(ready_url, timeout=2).status_code < 500:
                        break
                time.sleep(0.5)
            yield child
        finally:
            stop(child)


def stop(child: subprocess.Popen, wait: float = 30) -> None:
    """End a process started with ``start_new_session`` and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)


def granian(target: str, port: int, workers: int, env: dict[str, str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        target,
    ]


def pytake_env(
    database_url: str, graph_url: str, workers: int, data_dir: str, job_processes: int = 0
) -> dict[str, str]:
    """Production mode: PostgreSQL, Redis (a database of its own, emptied), ``workers``
    web workers and the run command's own ``job_processes``; with none, the jobs run only
    in the ``pytake_worker`` processes a benchmark starts itself."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return {
        **os.environ,
        "PYTAKE_DATABASE_URL": database_url,
        "PYTAKE_REDIS_URL": REDIS_URL,
        "PYTAKE_SECRET_KEY": SECRET_KEY,
        "PYTAKE_WORKERS": str(workers),
        "PYTAKE_GRAPH_API_URL": graph_url,
        "PYTAKE_DATA_DIR": data_dir,
        "PYTAKE_LOG_LEVEL": "warning",
        "PYTAKE_SANDBOX": "false",
        "PYTAKE_JOB_PROCESSES": str(job_processes),
    } | ({} if job_processes else {"PYTAKE_RUN_WORKERS": "false"})


def pytake(port: int) -> list[str]:
    return [sys.executable, "-m", "pytake", "run", "--host", "127.0.0.1", "--port", str(port)]


@contextlib.contextmanager
def pytake_worker(env: dict[str, str], count: int = 1) -> Iterator[None]:
    """``python -m pytake worker``: the jobs (webhooks, media, sends), in ``count``
    processes of their own."""
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            log = stack.enter_context(
                tempfile.NamedTemporaryFile("w+", prefix="bench-worker-", suffix=".log")
            )
            child = subprocess.Popen(
                [sys.executable, "-m", "pytake", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            stack.callback(stop, child)
        yield


def resident_bytes(session: int) -> int:
    """The memory in use by every process of ``session`` (a child started here), as Linux
    counts it (resident set)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # the session id, after state, ppid, pgrp
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # rss, in pages
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return total


# A process's role, from its command line: PyTake's web workers and its job processes.
ROLES = {"web": "reflex\x00run", "jobs": "pytake\x00worker"}


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far (user and system) by every running process of each role."""
    used = dict.fromkeys(ROLES, 0.0)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().decode(errors="replace")
            role = next((r for r, marker in ROLES.items() if marker in command), None)
            if role is None:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            used[role] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return used
