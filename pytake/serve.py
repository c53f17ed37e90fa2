"""``python -m pytake run``: the web server and, in production mode, the job processes
beside it, started, watched and stopped together.

Where the jobs run decides how fast agents see messages on a busy host. Web workers that
also apply webhooks run both on one event loop and one interpreter lock: a burst of
webhooks delays every tab's events, and a page's events delay the webhooks (the live-core
benchmark, see docs/live-core.md). So in production mode the web workers only serve, one
per core, and ``PYTAKE_JOB_PROCESSES`` processes of ``python -m pytake worker`` run the
jobs at ``PYTAKE_WORKER_NICE``. Embedded (no Redis) there is one process and it does both.

If any of them stops, the others are stopped too and ``run`` exits with its code, so the
service manager (systemd, Docker, Kubernetes) restarts the whole, as it would one process.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pytake import redisio
from pytake.settings import Settings

STOP_SECONDS = 20.0  # a child that ignores SIGTERM this long is killed


@dataclasses.dataclass(frozen=True)
class Topology:
    web_workers: int
    job_processes: int

    @property
    def jobs_in_web(self) -> bool:
        """No job process here: the web workers run the jobs (unless
        ``PYTAKE_RUN_WORKERS=false`` says workers on other hosts do)."""
        return self.job_processes == 0


def topology(settings: Settings, cores: int | None = None) -> Topology:
    """The processes ``run`` starts: what the settings say, else one web worker per core
    and one job process per core with Redis, one process for everything without it."""
    cores = max(1, cores or os.cpu_count() or 1)
    if not settings.redis_url:
        return Topology(web_workers=1, job_processes=0)
    web = settings.workers or cores
    jobs = cores if settings.job_processes is None else settings.job_processes
    return Topology(web_workers=web, job_processes=jobs)


def environment(base: dict[str, str], shape: Topology, settings: Settings) -> dict[str, str]:
    """The web server's environment: its worker count, whether it runs the jobs, and how
    it keeps the tabs' states."""
    env = dict(base)
    env["GRANIAN_WORKERS"] = str(shape.web_workers)
    env["PYTAKE_WORKERS"] = str(shape.web_workers)
    if not shape.jobs_in_web:
        env["PYTAKE_RUN_WORKERS"] = "false"
    if settings.redis_url:
        # The tabs' states live in Redis. Without this, each event of a tab reads its state
        # from Redis, unpickles it, pickles it back and writes it, under a lock taken and
        # released around every event: the live core's many small events per tab pay that
        # each time. With it, the worker serving a tab keeps the state and the lock while
        # events keep coming (Reflex's opportunistic lock), writes it back a few seconds
        # after the last, and hands it over at once if another worker asks for it.
        env.setdefault("REFLEX_OPLOCK_ENABLED", "true")
        # Checked here, so a budget too small is one line before anything starts (the web
        # workers apply it themselves: pytake.pytake).
        redis_budget(settings, jobs_in_web=shape.jobs_in_web and settings.run_workers)
    return env


def redis_budget(settings: Settings, *, jobs_in_web: bool) -> redisio.Share:
    """A web worker's share of ``PYTAKE_REDIS_MAX_CONNECTIONS``; ``BudgetTooSmall`` says
    how many it needs."""
    from pytake.jobs.runner import JOBS

    return redisio.share(
        settings.redis_max_connections, pages=True, job_readers=len(JOBS) if jobs_in_web else 0
    )


WORKER = (sys.executable, "-m", "pytake", "worker")


def supervise(
    web: Sequence[str],
    shape: Topology,
    env: dict[str, str],
    cwd: Path,
    worker: Sequence[str] = WORKER,
) -> int:
    """Start ``shape.job_processes`` of ``worker`` and the ``web`` server; return when one
    of them ends (after stopping the others), with its exit code, or 0 after SIGTERM or
    SIGINT."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # Heard before any child starts: a SIGTERM while they start still stops them all.
    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen] = []
    code = 0
    try:
        # Our own interpreter and commands: nothing here comes from a request.
        # Each job process in a session of its own: Linux shares the CPU between sessions
        # first (autogroups), so together the web workers get one share and each job process
        # another, instead of the jobs getting one thread's share among the web workers' many.
        for _ in range(shape.job_processes):
            job = subprocess.Popen(list(worker), env=env, cwd=cwd, start_new_session=True)  # noqa: S603
            children.append(job)
        children.append(subprocess.Popen(list(web), env=env, cwd=cwd))  # noqa: S603
        while not stopping:
            ended = [child for child in children if child.poll() is not None]
            if ended:
                code = ended[0].returncode or 1  # nothing here should end on its own
                name = "web server" if ended[0] is children[-1] else "job process"
                print(f"pytake: the {name} stopped (exit {ended[0].returncode})", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        _stop_all(children)
        for number, handler in previous.items():
            signal.signal(number, handler)
    return code


def _stop_all(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
