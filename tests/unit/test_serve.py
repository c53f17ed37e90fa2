"""``python -m pytake run``'s processes: which ones, and that they live and stop together."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytake import redisio, serve
from pytake.settings import Settings

REDIS = "redis://127.0.0.1:6379/0"


def _settings(**values) -> Settings:
    """Only what the test gives: CI's environment sets PYTAKE_REDIS_URL, for one."""
    unset = {"redis_url": None, "workers": None, "job_processes": None, "run_workers": True}
    return Settings(_env_file=None, secret_key="k" * 32, **(unset | values))


@pytest.mark.parametrize(
    ("values", "cores", "expected"),
    [
        ({}, 2, (1, 0)),  # embedded: one process does everything
        ({"redis_url": REDIS}, 2, (2, 2)),  # production: serving and jobs apart
        ({"redis_url": REDIS}, 8, (8, 8)),
        ({"redis_url": REDIS, "workers": 3, "job_processes": 1}, 8, (3, 1)),
        ({"redis_url": REDIS, "job_processes": 0}, 2, (2, 0)),  # jobs in the web workers
        # Web hosts only: the jobs run on hosts of their own.
        ({"redis_url": REDIS, "job_processes": 0, "run_workers": False}, 2, (2, 0)),
    ],
)
def test_topology_follows_the_settings_else_the_cores(values, cores, expected):
    shape = serve.topology(_settings(**values), cores=cores)
    assert (shape.web_workers, shape.job_processes) == expected


def test_the_web_workers_leave_the_jobs_to_the_job_processes():
    redis = _settings(redis_url=REDIS)
    env = serve.environment({"PATH": "/bin"}, serve.Topology(2, 2), redis)
    assert env["GRANIAN_WORKERS"] == "2" and env["PYTAKE_RUN_WORKERS"] == "false"
    assert "PYTAKE_RUN_WORKERS" not in serve.environment({}, serve.Topology(2, 0), redis)


def test_tabs_states_in_redis_stay_with_their_worker_unless_the_operator_says_otherwise():
    redis = _settings(redis_url=REDIS)
    assert serve.environment({}, serve.Topology(2, 2), redis)["REFLEX_OPLOCK_ENABLED"] == "true"
    chosen = {"REFLEX_OPLOCK_ENABLED": "false"}
    assert (
        serve.environment(chosen, serve.Topology(2, 2), redis)["REFLEX_OPLOCK_ENABLED"] == "false"
    )
    assert "REFLEX_OPLOCK_ENABLED" not in serve.environment({}, serve.Topology(1, 0), _settings())


@pytest.mark.parametrize(
    ("pages", "readers", "expected"),
    [
        (False, 0, redisio.Share(own=18, blocking=2, reflex_each=0)),  # a job process
        (True, 0, redisio.Share(own=6, blocking=2, reflex_each=6)),  # a web worker
        (True, 5, redisio.Share(own=11, blocking=2, reflex_each=3)),  # …that runs the jobs
    ],
)
def test_each_process_keeps_within_its_redis_connections(pages, readers, expected):
    shared = redisio.share(20, pages=pages, job_readers=readers)
    assert shared == expected
    assert shared.own + shared.blocking + 2 * shared.reflex_each <= 20


def test_a_redis_budget_too_small_for_a_web_worker_is_refused_before_anything_starts():
    with pytest.raises(
        redisio.BudgetTooSmall, match="that also runs the jobs: it needs at least 19"
    ):
        serve.environment(
            {}, serve.Topology(2, 0), _settings(redis_url=REDIS, redis_max_connections=18)
        )
    env = serve.environment(
        {}, serve.Topology(2, 2), _settings(redis_url=REDIS, redis_max_connections=14)
    )
    assert env["GRANIAN_WORKERS"] == "2"  # web workers alone need 14


def test_job_processes_need_redis():
    with pytest.raises(ValueError, match="PYTAKE_JOB_PROCESSES needs PYTAKE_REDIS_URL"):
        _settings(job_processes=2)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


SLEEPER = _python("import time; time.sleep(120)")


def test_when_the_web_server_stops_the_job_processes_stop_and_run_exits_with_its_code():
    started = time.monotonic()
    code = serve.supervise(
        _python("import sys, time; time.sleep(0.5); sys.exit(3)"),
        serve.Topology(1, 2),
        {},
        Path.cwd(),
        worker=SLEEPER,
    )
    assert code == 3 and time.monotonic() - started < 10


def test_when_a_job_process_dies_the_web_server_is_stopped_too():
    code = serve.supervise(
        SLEEPER, serve.Topology(1, 1), {}, Path.cwd(), worker=_python("raise SystemExit(9)")
    )
    assert code == 9


def test_sigterm_stops_everything_cleanly():
    script = """
import os, sys
from pathlib import Path
from pytake import redisio, serve
# One write each (print writes the number and the line break apart): the three share a pipe.
code = "import os, time; os.write(1, b'%d\\\\n' % os.getpid()); time.sleep(120)"
child = [sys.executable, "-c", code]
ended = serve.supervise(child, serve.Topology(1, 2), dict(os.environ), Path.cwd(), worker=child)
print("exit", ended, flush=True)
"""
    runner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    pids = [int(runner.stdout.readline()) for _ in range(3)]
    runner.send_signal(signal.SIGTERM)
    assert runner.stdout.read().strip() == "exit 0"
    assert runner.wait(timeout=30) == 0
    for pid in pids:  # every child is gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
