"""Agent sessions: how many signed-in agents with the inbox open one web worker holds while
an agent's action still comes back within 100 ms (p95), and what each session costs in
memory. Baseline in the same run: the same round trip through a bare websocket that echoes,
with as many other websockets connected (``push_baseline.py``).

    python -m tests.bench.bench_sessions [--steps 250 500 1000] [--probes 40] [--json FILE]

PyTake runs with one web worker (production mode, PostgreSQL, Redis). At each step, agents
connect until that many are (50 members, several tabs each; each tab opens the inbox as a
browser does and stays open, answering the server's pings), then one more agent switches
the inbox between open and resolved ``--probes`` times: a round trip counts from sending the
event until its answer arrives. Memory is the resident size of the server's processes, less
what it was before anyone connected, per session.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import simple_websocket

from tests.bench import graph_app, load, servers
from tests.bench.bench_push import MORE_AGENTS, Screen, cookies, open_inbox
from tests.bench.scratch import (
    ORGANIZATION,
    add_numbers,
    arguments,
    database,
    machine,
    progress,
    save,
)
from tests.e2e.wsclient import ReflexSocket

NAME = "pytake_bench_sessions"
MEMBERS = 50
TARGET_P95 = 0.100  # issue 38: 1,000 sessions at p95 ≤ 100 ms
STATUSES = ("resolved", "open")  # the probe's action: the inbox shows one, then the other


def round_trips(send, receive, probes: int) -> dict:
    """``send(n)`` an action, then time until ``receive()`` answers it."""
    samples = []
    for n in range(probes):
        started = time.perf_counter()
        send(n)
        receive()
        samples.append(time.perf_counter() - started)
    return {
        "p50_ms": round(load.percentile(samples, 50) * 1e3, 1),
        "p95_ms": round(load.percentile(samples, 95) * 1e3, 1),
        "max_ms": round(max(samples) * 1e3, 1),
    }


def _answer(ws: simple_websocket.Client) -> None:
    """The next event from the server (its pings answered on the way)."""
    while True:
        message = ws.receive(timeout=30)
        if message is None:
            raise TimeoutError("no answer in 30 s")
        if message == "2":
            ws.send("3")
        elif isinstance(message, str) and message.startswith("42/_event,"):
            return


def _drain(ws: simple_websocket.Client) -> None:
    """Whatever the last action sent after its answer, so the next answer is its own."""
    while (message := ws.receive(timeout=0)) is not None:
        if message == "2":
            ws.send("3")


def pytake_steps(args: argparse.Namespace, tmp: str) -> list[dict]:
    from pytake.ui.pages.workspace import InboxState

    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    env = servers.pytake_env(os.environ["PYTAKE_DATABASE_URL"], "http://127.0.0.1:9", 1, tmp)
    inbox = InboxState.get_full_name()
    tabs = iter(cookies(max(args.steps) + 1, MEMBERS))
    steps, screens = [], []
    with servers.process(servers.pytake(port), env, f"{base}/healthz", 900) as server:
        probe = ReflexSocket(base, next(tabs))
        open_inbox(probe)
        time.sleep(2)
        before = servers.resident_bytes(server.pid)

        def send(n: int) -> None:
            _drain(probe.ws)
            probe.emit(f"{inbox}.set_status", {"status": STATUSES[n % 2]}, "/inbox")

        try:
            for step in args.steps:
                while len(screens) < step:
                    tab = ReflexSocket(base, next(tabs))
                    open_inbox(tab)
                    screens.append(Screen(tab.ws))
                    screens[-1].start()
                time.sleep(3)  # the last tabs' loads are done
                figures = round_trips(send, lambda: _answer(probe.ws), args.probes)
                grown = servers.resident_bytes(server.pid) - before
                figures |= {"sessions": step, "kib_per_session": round(grown / step / 1024, 1)}
                steps.append(figures)
                progress("pytake", figures)
        finally:
            for screen in screens:
                screen.close()
            probe.close()
    return steps


def baseline_steps(args: argparse.Namespace) -> list[dict]:
    port = servers.free_port()
    env = {**os.environ, "BENCH_APP_SECRET": graph_app.SECRET, "BENCH_REDIS_URL": servers.REDIS_URL}
    command = servers.granian("tests.bench.push_baseline:app", port, 1, env)
    steps, screens = [], []
    with servers.process(command, env, f"http://127.0.0.1:{port}/", 60) as server:
        probe = simple_websocket.Client.connect(f"ws://127.0.0.1:{port}/echo")
        before = servers.resident_bytes(server.pid)
        try:
            for step in args.steps:
                while len(screens) < step:
                    socket = simple_websocket.Client.connect(f"ws://127.0.0.1:{port}/ws")
                    screens.append(Screen(socket))
                    screens[-1].start()
                time.sleep(1)
                figures = round_trips(
                    lambda n: probe.send(str(n)), lambda: probe.receive(timeout=30), args.probes
                )
                grown = servers.resident_bytes(server.pid) - before
                figures |= {"sessions": step, "kib_per_session": round(grown / step / 1024, 1)}
                steps.append(figures)
        finally:
            for screen in screens:
                screen.close()
            probe.close()
    return steps


def held(steps: list[dict]) -> int:
    """The most sessions with p95 within the target."""
    return max((s["sessions"] for s in steps if s["p95_ms"] <= TARGET_P95 * 1e3), default=0)


def measure(args: argparse.Namespace) -> dict:
    results: dict = {}
    seed = MORE_AGENTS % {"agents": MEMBERS}
    with database(NAME, ORGANIZATION, seed), tempfile.TemporaryDirectory() as tmp:
        add_numbers(1)
        results["pytake"] = pytake_steps(args, tmp)
    results["baseline"] = baseline_steps(args)
    results["pytake_held"] = held(results["pytake"])
    results["baseline_held"] = held(results["baseline"])
    results["setup"] = {
        "web_workers": 1,
        "machine": machine(),
    }
    return results


def report(results: dict) -> None:
    print(f"Agent sessions on one web worker ({results['setup']['machine']})")
    print(
        f"{'sessions':>9}{'PyTake p50/p95 ms':>22}{'KiB each':>10}{'echo p50/p95 ms':>20}{'KiB':>8}"
    )
    for ours, bare in zip(results["pytake"], results["baseline"], strict=True):
        print(
            f"{ours['sessions']:>9}{ours['p50_ms']:>12}/{ours['p95_ms']:<9}"
            f"{ours['kib_per_session']:>10}{bare['p50_ms']:>11}/{bare['p95_ms']:<8}"
            f"{bare['kib_per_session']:>8}"
        )
    print(
        f"held with p95 ≤ {TARGET_P95 * 1e3:.0f} ms: PyTake {results['pytake_held']}, "
        f"bare {results['baseline_held']}"
    )


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--probes", type=int, default=40)
    args = parser.parse_args()
    if sorted(args.steps) != args.steps or args.steps[0] < 1 or args.steps[-1] > 2000:
        parser.error("--steps rise, from 1 to 2000")
    results = measure(args)
    report(results)
    save(args.json, results)


if __name__ == "__main__":
    main()
