"""Live push: agents with the inbox open (real Reflex websocket clients, signed in) while
customers' messages arrive as signed webhooks at a constant rate; how long from each POST
until each agent's screen shows it. Baseline in the same run: a bare app that publishes
each webhook's marker to Redis and pushes it to the same number of plain websockets
(``push_baseline.py``).

    python -m tests.bench.bench_push [--agents 50] [--rate 100] [--seconds 30]
        [--conversations 20] [--workers 2] [--processes 2] [--json FILE]

Each message carries a marker; an agent's screen shows message *i* once a delta it receives
names *i* or a later message of the same conversation (the inbox row shows a conversation's
latest message). The messages go to ``--conversations`` customers, fewer than an inbox page
holds, so every conversation stays on the page. Reported: p50/p95/p99/max over every (agent,
message) pair, the pairs never shown, the webhooks' acknowledgement latency, and the cores
PyTake's web workers and job processes kept busy from the first webhook until the last was
applied.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import threading
import time
from collections.abc import Callable

import simple_websocket

from pytake.sandbox import payloads as p
from tests.bench import graph_app, load, servers
from tests.bench.bench_ingest import drain, webhook
from tests.bench.scratch import (
    ORGANIZATION,
    add_numbers,
    arguments,
    connect,
    database,
    machine,
    progress,
    save,
)
from tests.e2e.wsclient import ReflexSocket

NAME = "pytake_bench_push"
MARKER = re.compile(r"bench-push-(\d+)")
MORE_AGENTS = """
INSERT INTO app_user (id, email, name, password_hash, created_at)
    SELECT n, 'agent' || n || '@bench.test', 'Agent ' || n, 'x', now()
    FROM generate_series(21, %(agents)s) n;
INSERT INTO membership (user_id, organization_id, role, created_at)
    SELECT n, 1, 'agent', now() FROM generate_series(21, %(agents)s) n;
SELECT setval(pg_get_serial_sequence('app_user', 'id'), greatest(%(agents)s, 20));
SELECT setval(pg_get_serial_sequence('channel', 'id'), 100);
"""


class Screen(threading.Thread):
    """One connected agent: when each marker first reached it."""

    def __init__(self, ws: simple_websocket.Client) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.seen: dict[int, float] = {}
        self.received = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                message = self.ws.receive(timeout=0.5)
            except simple_websocket.ConnectionClosed:
                return
            if message is None:
                continue
            if message == "2":  # engine.io's ping
                self.ws.send("3")
                continue
            now = time.perf_counter()
            self.received += 1
            text = message if isinstance(message, str) else message.decode()
            for found in MARKER.finditer(text):
                self.seen.setdefault(int(found[1]), now)

    def close(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        self.ws.close()


def requests(host: str, count: int, conversations: int, label: str) -> list[bytes]:
    return [
        webhook(
            host,
            f"5511977{n % conversations:06d}",
            p.text(
                f"bench-push-{n} {label}",
                sender=f"5511977{n % conversations:06d}",
                wamid=f"wamid.push.{label}.{n}",
            ),
        )
        for n in range(count)
    ]


def latencies(screen: Screen, due: list[float], conversations: int) -> tuple[list[float], int]:
    """Seconds from each message's POST until ``screen`` showed it or a later message of its
    conversation; and how many it never showed."""
    shown, missed = [], 0
    for conversation in range(conversations):
        first_after = math.inf
        for n in reversed(range(conversation, len(due), conversations)):
            first_after = min(first_after, screen.seen.get(n, math.inf))
            if first_after == math.inf:
                missed += 1
            else:
                shown.append(first_after - due[n])
    return shown, missed


def measure_side(
    port: int,
    screens: list[Screen],
    args: argparse.Namespace,
    label: str,
    settle: Callable[[], None],
) -> dict:
    """Warm up (every conversation gets a first message), then the timed run; ``settle``
    waits until the server has done its work."""
    host = f"127.0.0.1:{port}"
    count = int(args.rate * args.seconds)
    warm = requests(host, args.conversations, args.conversations, f"warm-{label}")
    asyncio.run(load.run("127.0.0.1", port, warm, 10))
    settle()
    time.sleep(2)
    for screen in screens:
        screen.seen.clear()
    timed = requests(host, count, args.conversations, label)
    before, started = servers.cpu_seconds(), time.perf_counter()
    outcome = asyncio.run(load.run("127.0.0.1", port, timed, args.rate))
    settle()
    took, after = time.perf_counter() - started, servers.cpu_seconds()
    # Cores busy on average, per role, from the first webhook until the last was applied.
    cores = {role: round((after[role] - before[role]) / took, 2) for role in after}
    time.sleep(3)
    due = [outcome.started + n / args.rate for n in range(count)]
    shown, missed = [], 0
    for screen in screens:
        got, lost = latencies(screen, due, args.conversations)
        shown += got
        missed += lost
    return {
        "webhooks": outcome.summary(),
        "pairs": len(shown) + missed,
        "never_shown": missed,
        "p50_ms": round(load.percentile(shown, 50) * 1e3, 1),
        "p95_ms": round(load.percentile(shown, 95) * 1e3, 1),
        "p99_ms": round(load.percentile(shown, 99) * 1e3, 1),
        "max_ms": round(max(shown, default=math.nan) * 1e3, 1),
        "deltas_per_agent": round(sum(s.received for s in screens) / len(screens), 1),
        "cores": cores,
    }


# PyTake ----------------------------------------------------------------------------------------


def open_inbox(socket: ReflexSocket) -> None:
    """What a browser's /inbox runs when it opens (pytake.py: protected pages' on_load):
    the member's identity, the notices armed, the inbox."""
    from pytake.ui.notices import NoticeState
    from pytake.ui.pages.workspace import InboxState
    from pytake.ui.session import SessionState

    opening = ((SessionState, "load_identity"), (NoticeState, "arm"), (InboxState, "load"))
    for state, handler in opening:
        socket.emit(f"{state.get_full_name()}.{handler}", {}, "/inbox")


def cookies(count: int, members: int | None = None) -> list[str]:
    """``count`` signed-in sessions, as browsers hold them: one for each of the first
    ``count`` members, or, given ``members``, taken by that many members in turn (an agent
    with several tabs)."""
    from pytake import db
    from pytake.auth import sessions
    from pytake.models import User

    values = []
    with db.session() as s:
        for n in range(count):
            user = s.get(User, 1 + n % (members or count))
            _sid, ticket = sessions.start(s, user, 1, ip=None, user_agent="bench")
            values.append(f"{sessions.COOKIE_NAME}={sessions.redeem_ticket(s, ticket)}")
    db.dispose_engines()
    return values


def processing() -> dict:
    """Of the latency: from a webhook's arrival until the worker had applied it."""
    with connect(NAME) as conn:
        p50, p95 = conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY "
            "extract(epoch FROM processed_at - received_at)) FROM webhook_event "
            "WHERE processed_at IS NOT NULL"
        ).fetchone()[0]
    return {"processed_p50_ms": round(p50 * 1e3, 1), "processed_p95_ms": round(p95 * 1e3, 1)}


def pytake_side(args: argparse.Namespace, tmp: str) -> dict:

    port = servers.free_port()
    # The production command as the README gives it: it starts its job processes itself.
    env = servers.pytake_env(
        os.environ["PYTAKE_DATABASE_URL"], "http://127.0.0.1:9", args.workers, tmp, args.processes
    )
    health = f"http://127.0.0.1:{port}/healthz"
    with servers.process(servers.pytake(port), env, health, 900):
        screens = []
        for cookie in cookies(args.agents):
            socket = ReflexSocket(f"http://127.0.0.1:{port}", cookie)
            open_inbox(socket)
            screens.append(Screen(socket.ws))
        for screen in screens:
            screen.start()
        try:
            return (
                measure_side(port, screens, args, "pytake", lambda: drain(name=NAME)) | processing()
            )
        finally:
            for screen in screens:
                screen.close()


def baseline_side(args: argparse.Namespace) -> dict:
    port = servers.free_port()
    env = {**os.environ, "BENCH_APP_SECRET": graph_app.SECRET, "BENCH_REDIS_URL": servers.REDIS_URL}
    command = servers.granian("tests.bench.push_baseline:app", port, args.workers, env)
    with servers.process(command, env, f"http://127.0.0.1:{port}/", 60):
        screens = [
            Screen(simple_websocket.Client.connect(f"ws://127.0.0.1:{port}/ws"))
            for _ in range(args.agents)
        ]
        for screen in screens:
            screen.start()
        try:
            return measure_side(port, screens, args, "baseline", lambda: None)
        finally:
            for screen in screens:
                screen.close()


def measure(args: argparse.Namespace) -> dict:
    import tempfile

    seed = MORE_AGENTS % {"agents": args.agents}
    results: dict = {}
    with database(NAME, ORGANIZATION, seed), tempfile.TemporaryDirectory() as tmp:
        add_numbers(1)
        results["pytake"] = pytake_side(args, tmp)
        progress("pytake", results["pytake"])
    results["baseline"] = baseline_side(args)
    results["setup"] = {
        "agents": args.agents,
        "rate": args.rate,
        "seconds": args.seconds,
        "conversations": args.conversations,
        "web_workers": args.workers,
        "worker_processes": args.processes,
        "machine": machine(),
    }
    return results


def report(results: dict) -> None:
    setup = results["setup"]
    print(
        f"Live push: {setup['agents']} agents, {setup['rate']} messages/s for "
        f"{setup['seconds']} s ({setup['machine']})"
    )
    print(
        f"{'':<10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'unseen':>8}{'ack p99':>9}"
    )
    for side in ("pytake", "baseline"):
        run = results[side]
        print(
            f"{side:<10}{run['p50_ms']:>9}{run['p95_ms']:>9}{run['p99_ms']:>9}{run['max_ms']:>9}"
            f"{run['never_shown']:>9}{run['webhooks']['p99_ms']:>9}"
        )
    cores = results["pytake"]["cores"]
    print(f"PyTake's cores busy during the load: web workers {cores['web']}, jobs {cores['jobs']}")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    if not 1 <= args.agents <= 1000 or args.conversations < 1:
        parser.error("--agents is 1 to 1000 and --conversations at least 1")
    results = measure(args)
    report(results)
    save(args.json, results)


if __name__ == "__main__":
    main()
