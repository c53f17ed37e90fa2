"""Applying webhooks, the worker's own work, in one process: text webhooks already stored
are applied in batches one after the other (``jobs.webhooks.process``), timed in CPU and
wall seconds per webhook. Baseline in the same run: the same messages stored by hand-written
SQL on one connection (insert the message, count it on its conversation), in the same
batches: what applying costs with no pipeline around it.

    python -m tests.bench.bench_apply [--webhooks 3000] [--customers 20 2000]
        [--batches 1 25] [--json FILE]

Customers are few (one busy number's conversations, as in the live-push benchmark) or many;
batches of one are what a quiet worker applies, 25 what a busy one takes at once.
"""

from __future__ import annotations

import argparse
import time

from pytake.sandbox import payloads as p
from tests.bench import graph_app
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

NAME = "pytake_bench_apply"
SEQUENCES = "SELECT setval(pg_get_serial_sequence('channel', 'id'), 100);"


def _stored(count: int, customers: int, label: str) -> list[int]:
    """``count`` signed text webhooks from ``customers`` customers, accepted and stored as
    the web process stores them; their ids."""
    from pytake.services import webhooks

    ids = []
    for n in range(count):
        customer = f"5511977{n % customers:06d}"
        message = p.text(f"Olá, pedido {n}", sender=customer, wamid=f"wamid.{label}.{n}")
        value = p.messages_value(
            graph_app.PNID, graph_app.DISPLAY, [message], [p.profile(customer, "Cliente")]
        )
        body = p.encode(p.envelope(p.entry(graph_app.WABA, p.change(value))))
        headers = {"x-hub-signature-256": p.sign(body, graph_app.SECRET)}
        verdict = webhooks.accept("whatsapp", body, headers)
        if verdict.event_id is None:
            raise RuntimeError(f"webhook not stored: {verdict}")
        ids.append(verdict.event_id)
    return ids


def _pytake(ids: list[int], batch: int) -> tuple[float, float]:
    from pytake.jobs import webhooks

    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(ids), batch):
        webhooks.process(ids[start : start + batch])
    return time.perf_counter() - wall, time.process_time() - cpu


BARE_INSERT = (
    "INSERT INTO message (organization_id, conversation_id, channel_id, direction, type,"
    " content, external_id, status, reactions, created_at, sent_at)"
    " VALUES (1, %s, %s, 'in', 'text', %s, %s, 'received', '{}', now(), now())"
    " ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING id"
)
BARE_COUNT = (
    "UPDATE conversation SET unread_count = unread_count + 1, last_activity_at = now(),"
    " last_inbound_at = now() WHERE id = %s"
)


def _bare(count: int, customers: int, batch: int, label: str) -> tuple[float, float]:
    """The floor: each message inserted and counted with SQL written by hand."""
    import json

    with connect(NAME) as conn:
        conn.autocommit = False
        (channel,) = conn.execute("SELECT id FROM channel WHERE id > 1 LIMIT 1").fetchone()
        conversations = [
            row[0] for row in conn.execute("SELECT id FROM conversation ORDER BY id").fetchall()
        ]
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, count, batch):
            for n in range(start, min(count, start + batch)):
                conversation = conversations[n % customers % len(conversations)]
                content = json.dumps({"body": f"Olá, pedido {n}"})
                conn.execute(BARE_INSERT, (conversation, channel, content, f"wamid.{label}.{n}"))
                conn.execute(BARE_COUNT, (conversation,))
            conn.commit()
        return time.perf_counter() - wall, time.process_time() - cpu


def measure(args: argparse.Namespace) -> dict:
    results: dict = {"runs": []}
    for customers in args.customers:
        for batch in args.batches:
            with database(NAME, ORGANIZATION, SEQUENCES):
                add_numbers(1)
                label = f"c{customers}b{batch}"
                # Every customer's conversation exists, as in a working inbox.
                _pytake(_stored(customers, customers, f"{label}-warm"), 25)
                ids = _stored(args.webhooks, customers, label)
                wall, cpu = _pytake(ids, batch)
                bare_wall, bare_cpu = _bare(args.webhooks, customers, batch, f"{label}-bare")
            run = {
                "customers": customers,
                "batch": batch,
                "pytake_wall_ms": round(wall * 1e3 / args.webhooks, 2),
                "pytake_cpu_ms": round(cpu * 1e3 / args.webhooks, 2),
                "bare_wall_ms": round(bare_wall * 1e3 / args.webhooks, 2),
                "bare_cpu_ms": round(bare_cpu * 1e3 / args.webhooks, 2),
            }
            run["ratio"] = round(run["bare_wall_ms"] / run["pytake_wall_ms"], 3)
            progress(label, run)
            results["runs"].append(run)
    results["setup"] = {"webhooks": args.webhooks, "machine": machine()}
    return results


def report(results: dict) -> None:
    print(f"Applying webhooks: {results['setup']['webhooks']} each ({results['setup']['machine']})")
    print(f"{'customers':>10}{'batch':>7}{'wall ms':>9}{'cpu ms':>8}{'bare ms':>9}{'ratio':>7}")
    for run in results["runs"]:
        print(
            f"{run['customers']:>10}{run['batch']:>7}{run['pytake_wall_ms']:>9}"
            f"{run['pytake_cpu_ms']:>8}{run['bare_wall_ms']:>9}{run['ratio']:>7}"
        )


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--webhooks", type=int, default=3000)
    parser.add_argument("--customers", type=int, nargs="+", default=[20, 2000])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 25])
    args = parser.parse_args()
    if args.webhooks < 1 or min(args.customers) < 1 or min(args.batches) < 1:
        parser.error("--webhooks, --customers and --batches are at least 1")
    results = measure(args)
    report(results)
    save(args.json, results)


if __name__ == "__main__":
    main()
