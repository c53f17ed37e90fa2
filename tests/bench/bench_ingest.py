"""Ingest: signed, Meta-shaped webhooks (one message each, a realistic mix of types) sent at
a constant rate, open loop, to PyTake in production mode (PostgreSQL, Redis, granian with
several web workers and ``python -m pytake worker`` processes), and to a bare receiver in
the same run that only checks the HMAC and stores the body (``ingest_baseline.py``).

    python -m tests.bench.bench_ingest [--rate 500] [--seconds 60] [--workers 2]
        [--processes 2] [--burst-rate 2000] [--burst-seconds 30] [--duplicates 0.2] [--json FILE]

1. Steady: ``--rate`` webhooks/s for ``--seconds``: sustained rate, p50/p99/max
   acknowledgement latency, lost and duplicated messages (both must be 0), and the time
   until every event was processed (messages stored, conversations updated).
2. Burst: ``--burst-rate`` for ``--burst-seconds`` with ``--duplicates`` of the webhooks
   sent twice (Meta retries): answers that are not 200, messages lost (acknowledged, yet
   not stored) or never acknowledged (the sender gave up; Meta delivers those again), and
   how fast the backlog drains.
3. Capacity: 10 s steps of rising rate, one after the other (PyTake processes the earlier
   steps' webhooks meanwhile, as it would in production); the highest rate each side
   sustains with p99 ≤ 250 ms and every webhook answered 200. Their ratio is the ingest
   figure compared at equal latency. PyTake's backlog is then drained and timed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time

import psycopg

from pytake.sandbox import payloads as p
from tests.bench import graph_app, load, servers
from tests.bench.scratch import (
    ADMIN_URL,
    ORGANIZATION,
    add_numbers,
    arguments,
    connect,
    database,
    machine,
    progress,
    save,
)

NAME = "pytake_bench_ingest"
PNID, WABA, DISPLAY = graph_app.PNID, graph_app.WABA, graph_app.DISPLAY
TARGET_P99 = 0.250
STEPS = (200, 300, 400, 500, 600, 750, 1000, 1500, 2000, 3000)
# Of every 100 customer messages: what WhatsApp users send, roughly.
MIX = {
    "text": 70,
    "image": 6,
    "audio": 4,
    "document": 2,
    "location": 3,
    "button": 5,
    "list": 3,
    "contacts": 2,
    "reaction": 5,
}
CUSTOMERS = 2000
MIME_PREFIX = {"image": "image/", "audio": "audio/", "document": "application/"}


def webhook(host: str, customer: str, message: dict) -> bytes:
    """The request Meta makes to tell of ``message`` from ``customer``, signed."""
    profile = [p.profile(customer, f"Cliente {customer[-4:]}")]
    value = p.messages_value(PNID, DISPLAY, [message], profile)
    body = p.encode(p.envelope(p.entry(WABA, p.change(value))))
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": p.sign(body, graph_app.SECRET),
    }
    return load.post("/webhooks/whatsapp", host, body, headers)


class Traffic:
    """Webhooks as Meta sends them, prepared before the clock starts."""

    def __init__(self, host: str, media: list[dict], seed: int = 1) -> None:
        self.host, self.media = host, media
        self.random = random.Random(seed)
        self.count = 0
        self.last: dict[str, str] = {}  # customer → their last message, for reactions

    def batch(self, n: int, label: str) -> tuple[list[bytes], list[str | None]]:
        """``n`` requests, and each one's wamid if it stores a message (a reaction does not)."""
        requests, stored = [], []
        kinds, weights = list(MIX), list(MIX.values())
        for _ in range(n):
            self.count += 1
            customer = f"5511{9_8000_0000 + self.random.randrange(CUSTOMERS)}"
            wamid = f"wamid.bench.{label}.{self.count}"
            kind = self.random.choices(kinds, weights)[0]
            if kind == "reaction" and customer not in self.last:
                kind = "text"
            message = self._message(kind, customer, wamid)
            stored.append(None if kind == "reaction" else wamid)
            if kind != "reaction":
                self.last[customer] = wamid
            requests.append(webhook(self.host, customer, message))
        return requests, stored

    def _message(self, kind: str, customer: str, wamid: str) -> dict:
        origin = {"sender": customer, "wamid": wamid, "timestamp": str(int(time.time()))}
        if kind == "text":
            return p.text(f"Olá, meu pedido {self.count} ainda não chegou", **origin)
        if kind in ("image", "audio", "document"):
            prefix = MIME_PREFIX[kind]
            file = self.random.choice([m for m in self.media if m["mime"].startswith(prefix)])
            if kind == "image":
                return p.image(file["id"], sha256=file["sha256"], caption="comprovante", **origin)
            if kind == "audio":
                return p.audio(file["id"], mime_type=file["mime"], sha256=file["sha256"], **origin)
            return p.document(file["id"], "nota.pdf", sha256=file["sha256"], **origin)
        if kind == "location":
            return p.location(-23.55, -46.63, name="Loja Centro", **origin)
        if kind == "button":
            return p.button_reply("yes", "Sim", **origin)
        if kind == "list":
            return p.list_reply("2", "Segunda via do boleto", **origin)
        if kind == "contacts":
            card = {"name": {"formatted_name": "Ana Souza"}, "phones": [{"phone": "+5511"}]}
            return p.contacts([card], **origin)
        return p.reaction(self.last[customer], "👍", **origin)


# The database, read between runs -----------------------------------------------------------


def pending(name: str = NAME) -> int:
    with connect(name) as conn:
        return conn.execute(
            "SELECT count(*) FROM webhook_event WHERE state = 'pending'"
        ).fetchone()[0]


def drain(timeout: float = 900.0, name: str = NAME) -> float:
    """Seconds until no webhook is left to process."""
    started = time.perf_counter()
    while pending(name):
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the backlog did not drain")
        time.sleep(0.2)
    return time.perf_counter() - started


def stored(wamids: list[str | None], outcome: load.Outcome) -> dict:
    """Messages acknowledged but not stored (lost), stored more than once (duplicated), and
    never acknowledged (the sender gave up: Meta would deliver those again)."""
    sent = {w for w in wamids if w}
    acknowledged = {wamids[i] for i in outcome.acknowledged if wamids[i]}
    with connect(NAME) as conn:
        rows = conn.execute(
            "SELECT external_id, count(*) FROM message WHERE external_id = ANY(%s) "
            "GROUP BY external_id",
            (sorted(sent),),
        ).fetchall()
    kept = {r[0] for r in rows}
    return {
        "lost": len(acknowledged - kept),
        "duplicated": sum(r[1] - 1 for r in rows),
        "unacknowledged": len(sent - acknowledged),
    }


# Runs ---------------------------------------------------------------------------------------


def send(port: int, requests: list[bytes], rate: float) -> load.Outcome:
    return asyncio.run(load.run("127.0.0.1", port, requests, rate))


def steady(
    port: int, traffic: Traffic, rate: float, seconds: float, label: str, *, checked: bool
) -> dict:
    """``checked``: wait until every event is processed, then count lost and duplicated
    messages (the bare receiver stores bodies only)."""
    requests, wamids = traffic.batch(int(rate * seconds), label)
    started = time.perf_counter()
    outcome = send(port, requests, rate)
    result = outcome.summary()
    if checked:
        result["processed_after_s"] = round(time.perf_counter() - started + drain(), 1)
        result |= stored(wamids, outcome)
    return result


def burst(
    port: int,
    traffic: Traffic,
    rate: float,
    seconds: float,
    duplicates: float,
    label: str,
    *,
    checked: bool,
) -> dict:
    """Meta's retries are byte-identical: a share of the webhooks is sent a second time.
    ``checked``: time the backlog's drain and count lost and duplicated messages."""
    total = int(rate * seconds)
    requests, wamids = traffic.batch(int(total * (1 - duplicates)), label)
    again = random.Random(2)
    while len(requests) < total:
        index = again.randrange(len(requests))
        to = min(len(requests), index + again.randrange(1, 200))
        requests.insert(to, requests[index])
        wamids.insert(to, wamids[index])
    outcome = send(port, requests, rate)
    result = outcome.summary()
    result["not_200"] = outcome.sent - outcome.statuses.get(200, 0)
    if not checked:
        return result
    backlog = pending()
    drained = drain()
    result["backlog_at_end"] = backlog
    result["drain_s"] = round(drained, 1)
    result["drain_rate"] = round(backlog / drained, 1) if drained else None
    result |= stored(wamids, outcome)
    return result


def capacity(port: int, traffic: Traffic, label: str) -> list[dict]:
    steps = []
    for rate in STEPS:
        requests, _ = traffic.batch(rate * 10, f"{label}-cap")
        outcome = send(port, requests, rate)
        step = outcome.summary()
        step["ok"] = (
            outcome.percentile(99) <= TARGET_P99
            and outcome.statuses.get(200, 0) == outcome.sent
            and outcome.rate >= 0.95 * rate
        )
        steps.append(step)
        if not step["ok"]:
            break
    return steps


def best(steps: list[dict]) -> float:
    return max((s["offered_rate"] for s in steps if s["ok"]), default=0.0)


def measure(args: argparse.Namespace) -> dict:
    seed = ORGANIZATION + "SELECT setval(pg_get_serial_sequence('channel', 'id'), 100);"
    results: dict = {}
    with database(NAME, seed), tempfile.TemporaryDirectory() as tmp:
        database_url = os.environ["PYTAKE_DATABASE_URL"]
        add_numbers(1)
        graph_port, port = servers.free_port(), servers.free_port()
        graph_url = f"http://127.0.0.1:{graph_port}"
        media_file = f"{tmp}/media.json"
        graph_env = {**os.environ, "BENCH_GRAPH_URL": graph_url, "BENCH_MEDIA_FILE": media_file}
        graph = servers.granian("tests.bench.graph_app:app", graph_port, 1, graph_env)
        with servers.process(graph, graph_env, graph_url + "/_media/none", 60):
            with open(media_file) as listing:
                traffic = Traffic(f"127.0.0.1:{port}", json.load(listing))
            env = servers.pytake_env(database_url, graph_url, args.workers, f"{tmp}/data")
            health = f"http://127.0.0.1:{port}/healthz"
            with (
                servers.process(servers.pytake(port), env, health, 900),
                servers.pytake_worker(env, args.processes),
            ):
                send(port, traffic.batch(int(args.rate * 3), "warmup")[0], args.rate)
                drain()
                results["steady"] = {
                    "pytake": steady(port, traffic, args.rate, args.seconds, "pytake", checked=True)
                }
                progress("steady", results["steady"])
                results["burst"] = {
                    "pytake": burst(
                        port,
                        traffic,
                        args.burst_rate,
                        args.burst_seconds,
                        args.duplicates,
                        "burst",
                        checked=True,
                    )
                }
                progress("burst", results["burst"])
                results["capacity"] = {"pytake": capacity(port, traffic, "pytake")}
                backlog = pending()
                results["capacity"]["pytake_backlog"] = backlog
                results["capacity"]["pytake_drain_s"] = round(drain(), 1)
                progress("capacity", results["capacity"])
            base_env = {
                **os.environ,
                "BENCH_DATABASE_URL": database_url,
                "BENCH_APP_SECRET": graph_app.SECRET,
            }
            _create_baseline_table()
            baseline = servers.granian(
                "tests.bench.ingest_baseline:app", port, args.workers, base_env
            )
            with servers.process(baseline, base_env, f"http://127.0.0.1:{port}/", 60):
                send(port, traffic.batch(int(args.rate * 3), "warmup-base")[0], args.rate)
                results["steady"]["baseline"] = steady(
                    port, traffic, args.rate, args.seconds, "baseline", checked=False
                )
                results["burst"]["baseline"] = burst(
                    port,
                    traffic,
                    args.burst_rate,
                    args.burst_seconds,
                    args.duplicates,
                    "burst-base",
                    checked=False,
                )
                results["capacity"]["baseline"] = capacity(port, traffic, "baseline")
    ours, bare = best(results["capacity"]["pytake"]), best(results["capacity"]["baseline"])
    results["capacity"]["pytake_best"], results["capacity"]["baseline_best"] = ours, bare
    results["capacity"]["ratio"] = round(ours / bare, 2) if bare else None
    results["setup"] = {
        "workers": args.workers,
        "processes": args.processes,
        "machine": machine(),
        "postgres": _server_version(),
    }
    return results


def _create_baseline_table() -> None:
    from tests.bench import ingest_baseline

    with connect(NAME) as conn:
        conn.execute(ingest_baseline.CREATE)


def _server_version() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def report(results: dict) -> None:
    steady_runs = results["steady"]
    print(f"Ingest, steady ({results['setup']['machine']}, {results['setup']['workers']} workers)")
    print(f"{'':<10}{'rate/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'lost':>6}{'dup':>5}")
    for side, run in steady_runs.items():
        print(
            f"{side:<10}{run['rate']:>9}{run['p50_ms']:>9}{run['p99_ms']:>9}{run['max_ms']:>9}"
            f"{run.get('lost', '-'):>6}{run.get('duplicated', '-'):>5}"
        )
    if "processed_after_s" in steady_runs["pytake"]:
        print(f"every event processed {steady_runs['pytake']['processed_after_s']} s after start")
    b, bare = results["burst"]["pytake"], results["burst"]["baseline"]
    print(
        f"Burst: {b['offered_rate']}/s, answered {b['rate']}/s, not 200: {b['not_200']}, "
        f"p99 {b['p99_ms']} ms, backlog {b['backlog_at_end']} drained in {b['drain_s']} s "
        f"({b['drain_rate']}/s), lost {b['lost']}, duplicated {b['duplicated']}, never "
        f"acknowledged {b['unacknowledged']}; bare receiver answered {bare['rate']}/s, "
        f"not 200: {bare['not_200']}, p99 {bare['p99_ms']} ms"
    )
    c = results["capacity"]
    print(
        f"Capacity at p99 ≤ 250 ms: PyTake {c['pytake_best']}/s, bare receiver "
        f"{c['baseline_best']}/s, ratio {c['ratio']}"
    )


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--burst-rate", type=float, default=2000)
    parser.add_argument("--burst-seconds", type=float, default=30)
    parser.add_argument("--duplicates", type=float, default=0.2)
    args = parser.parse_args()
    results = measure(args)
    report(results)
    save(args.json, results)


if __name__ == "__main__":
    main()
