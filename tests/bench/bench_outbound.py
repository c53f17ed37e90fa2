"""Outbound: agents' messages through PyTake's outbox to 10 numbers while the Meta simulator
fails sends at random (5 % 130429 "throughput", 2 % 131000 "something went wrong", 1 %
stalls past the read timeout), against a bare httpx loop with the same limits in the same
run.

    python -m tests.bench.bench_outbound [--messages 6000] [--numbers 10] [--limit 20]
        [--processes 1] [--chaos 130429=0.05,131000=0.02,timeout=0.01] [--json FILE]

PyTake: the messages are queued as an agent's sends (``services.outbound.send``, one per
conversation, every conversation's window open), then handed to the worker processes at
once (``python -m pytake worker``, PostgreSQL and Redis). The baseline sends the same
bodies from one asyncio loop: each number's calls spaced to the same limit (PyTake's
1.1-second window), a message that failed with a retryable error tried again after the same
backoff, a stalled one given up as unknown, as PyTake does. Reported for each: the rate
at which 90 % of the messages reached a final state, the time until all did, each final
state's count (all must be final), and the most calls any number received in any
one-second window (never above ``--limit``), counted by the simulator as they arrive.

Meta's default limit is 80 messages per second per number; here the simulator and the
senders share two cores and answer about 200 calls a second in all, so each number is given
20 (200 a second for the ten) and the limits, not the machine, bind the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import tempfile
import time
import uuid

import httpx

from tests.bench import graph_app, servers
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

NAME = "pytake_bench_outbound"
FINAL = ("done", "failed", "dead", "unknown")
CONVERSATIONS = """
INSERT INTO contact (organization_id, wa_id, name, attributes, created_at)
    SELECT 1, (5511900000000 + n)::text, 'Customer ' || n, '{}', now()
    FROM generate_series(1, %(count)s) n;
INSERT INTO conversation (organization_id, channel_id, contact_id, status, unread_count,
                          last_activity_at, window_expires_at, created_at)
    SELECT 1, %(first)s + id %% %(numbers)s, id, 'open', 0, now(), now() + interval '1 day', now()
    FROM contact;
"""
FIRST_CHANNEL = 101  # the seed's own channel is 1; the bench numbers follow 100


def _queue(text: str) -> list[int]:
    """One agent message per conversation, through the same service the composer calls."""
    from sqlmodel import select

    from pytake import db
    from pytake.auth.sessions import Identity
    from pytake.models import Conversation, Role
    from pytake.services import outbound

    agent = Identity(1, 1, Role.SUPERVISOR, "bench", "Agent 1", "agent1@bench.test", None)
    with db.session() as s:
        accepted = [
            outbound.send(s, agent, id_, "text", {"body": text}, client_key=uuid.uuid4().hex)
            for id_ in s.exec(select(Conversation.id).order_by(Conversation.id)).all()
        ]
    db.dispose_engines()
    return [a.outbox_id for a in accepted]


def _states() -> dict[str, int]:
    with connect(NAME) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def _messages() -> list[tuple[str, str, str]]:
    """(phone number id, customer, body) of every queued message, in queue order."""
    with connect(NAME) as conn:
        return conn.execute(
            "SELECT ch.external_id, ct.wa_id, m.content->>'body' FROM outbox o "
            "JOIN message m ON m.id = o.message_id JOIN channel ch ON ch.id = o.channel_id "
            "JOIN conversation cv ON cv.id = o.conversation_id "
            "JOIN contact ct ON ct.id = cv.contact_id ORDER BY o.id"
        ).fetchall()


# PyTake --------------------------------------------------------------------------------------


def pytake(args: argparse.Namespace, graph_url: str, data_dir: str) -> dict:
    from pytake.jobs import runner
    from pytake.settings import get_settings

    ids = _queue("Seu pedido saiu para entrega. Obrigado por esperar!")
    env = servers.pytake_env(os.environ["PYTAKE_DATABASE_URL"], graph_url, 1, data_dir)
    os.environ["PYTAKE_REDIS_URL"] = servers.REDIS_URL
    get_settings.cache_clear()
    with servers.pytake_worker(env, args.processes):
        time.sleep(5)  # the workers connect and join the consumer group
        started = time.perf_counter()
        asyncio.run(runner.enqueue("outbox", ids))
        ninety, states = None, {}
        while True:
            states = _states()
            final = sum(states.get(state, 0) for state in FINAL)
            elapsed = time.perf_counter() - started
            if ninety is None and final >= 0.9 * len(ids):
                ninety = elapsed
            if final == len(ids) or elapsed > args.timeout:
                break
            time.sleep(0.1)
    return _figures(len(ids), ninety, elapsed, states)


# The baseline --------------------------------------------------------------------------------


async def bare(args: argparse.Namespace, graph_url: str, messages: list[tuple]) -> dict:
    """What sending needs and no more: each number's calls spaced to its limit, the call,
    a retryable failure queued again after its backoff. One message per customer, so no
    pair limit can bind."""
    from pytake.channels.whatsapp import errors, graph
    from pytake.jobs import limits, outbox
    from pytake.settings import get_settings

    settings = get_settings()
    spacing = limits.THROUGHPUT_WINDOW_SECONDS / args.limit
    lines: dict[str, asyncio.Queue] = {pnid: asyncio.Queue() for pnid, *_ in messages}
    for message in messages:
        lines[message[0]].put_nowait((message, 0))
    finished: list[float] = []
    states: dict[str, int] = {}
    all_final = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = time.perf_counter()

    async def call(http: httpx.AsyncClient, message: tuple, attempt: int) -> None:
        pnid, to, text = message
        body = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}}
        url = f"{graph_url}/{settings.graph_api_version}/{pnid}/messages"
        try:
            response = await http.post(url, json=body)
        except httpx.TimeoutException:
            state = "unknown"
        else:
            retryable = not response.is_success and errors.from_response(response).retryable
            if retryable and attempt + 1 < settings.job_max_attempts:
                ceiling = min(outbox.RETRY_CAP_SECONDS, outbox.RETRY_BASE_SECONDS * 2**attempt)
                delay = random.uniform(0, ceiling)
                loop.call_later(delay, lines[pnid].put_nowait, (message, attempt + 1))
                return
            state = "done" if response.is_success else "dead" if retryable else "failed"
        states[state] = states.get(state, 0) + 1
        finished.append(time.perf_counter() - started)
        if len(finished) == len(messages):
            all_final.set()

    async def pace(http: httpx.AsyncClient, line: asyncio.Queue, calls: asyncio.TaskGroup):
        while True:
            message, attempt = await line.get()
            calls.create_task(call(http, message, attempt))
            await asyncio.sleep(spacing)

    headers = {"Authorization": f"Bearer {graph_app.TOKEN}"}
    unbounded = httpx.Limits(max_connections=None)
    async with (
        httpx.AsyncClient(timeout=graph.TIMEOUT, limits=unbounded, headers=headers) as http,
        asyncio.TaskGroup() as calls,
    ):
        pacers = [calls.create_task(pace(http, line, calls)) for line in lines.values()]
        await all_final.wait()
        for pacer in pacers:
            pacer.cancel()
    ninety = finished[max(int(0.9 * len(finished)) - 1, 0)]
    return _figures(len(messages), ninety, finished[-1], states)


# Figures -------------------------------------------------------------------------------------


def _figures(total: int, ninety: float | None, elapsed: float, states: dict[str, int]) -> dict:
    final = sum(states.get(state, 0) for state in FINAL)
    return {
        "messages": total,
        "rate_90": round(0.9 * total / ninety, 1) if ninety else None,
        "s_to_90": round(ninety, 2) if ninety else None,
        "s_to_all": round(elapsed, 2),
        "final_share": round(final / total, 4),
        "states": states,
    }


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any window of one second."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def arrivals(graph_url: str) -> dict[str, int]:
    listed = httpx.get(f"{graph_url}/_bench/arrivals", timeout=30).json()
    httpx.delete(f"{graph_url}/_bench/arrivals", timeout=30)
    return {pnid: busiest_second(times) for pnid, times in listed.items()}


def measure(args: argparse.Namespace) -> dict:
    seed = ORGANIZATION + "SELECT setval(pg_get_serial_sequence('channel', 'id'), 100);"
    conversations = CONVERSATIONS % {
        "count": args.messages,
        "numbers": args.numbers,
        "first": FIRST_CHANNEL,
    }
    results: dict = {}
    with database(NAME, seed), tempfile.TemporaryDirectory() as tmp:
        add_numbers(args.numbers, args.limit)
        with connect(NAME) as conn:
            conn.execute(conversations)
        graph_port = servers.free_port()
        graph_url = f"http://127.0.0.1:{graph_port}"
        graph_env = {
            **os.environ,
            "BENCH_GRAPH_URL": graph_url,
            "BENCH_NUMBERS": str(args.numbers),
            "BENCH_CHAOS": args.chaos,
            "BENCH_MEDIA": "0",
        }
        command = servers.granian("tests.bench.graph_app:app", graph_port, 1, graph_env)
        with servers.process(command, graph_env, graph_url + "/_bench/arrivals", 60):
            results["pytake"] = pytake(args, graph_url, f"{tmp}/data")
            results["pytake"]["busiest_second"] = arrivals(graph_url)
            progress("pytake", results["pytake"])
            results["baseline"] = asyncio.run(bare(args, graph_url, _messages()))
            results["baseline"]["busiest_second"] = arrivals(graph_url)
    ours, base = results["pytake"]["rate_90"], results["baseline"]["rate_90"]
    results["ratio"] = round(ours / base, 2) if ours and base else None
    results["setup"] = {
        "numbers": args.numbers,
        "limit_per_second": args.limit,
        "processes": args.processes,
        "chaos": args.chaos,
        "machine": machine(),
    }
    return results


def report(results: dict) -> None:
    setup = results["setup"]
    print(
        f"Outbound, {setup['numbers']} numbers at {setup['limit_per_second']}/s each, "
        f"faults {setup['chaos']} ({setup['machine']})"
    )
    print(f"{'':<10}{'rate/s':>9}{'90% s':>8}{'all s':>8}{'final':>8}{'max/s':>7}  states")
    for side in ("pytake", "baseline"):
        run = results[side]
        print(
            f"{side:<10}{run['rate_90'] or '-':>9}{run['s_to_90'] or '-':>8}{run['s_to_all']:>8}"
            f"{run['final_share']:>8.1%}{max(run['busiest_second'].values(), default=0):>7}"
            f"  {run['states']}"
        )
    print(f"ratio (rate to 90 %): {results['ratio']}")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--numbers", type=int, default=10)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--chaos", default="130429=0.05,131000=0.02,timeout=0.01")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    results = measure(args)
    report(results)
    save(args.json, results)


if __name__ == "__main__":
    main()
