"""An open-loop load generator: request *i* leaves at ``start + i / rate`` whatever the
server does, and its latency counts from that moment, so a slow server cannot hide its
slowness by slowing the generator down (no coordinated omission).

Requests are prepared as raw HTTP/1.1 bytes before the clock starts and written on
keep-alive connections of a pool that grows when every connection is busy; a generator this
thin leaves the cores to the server under test.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import time
from collections.abc import Sequence

MAX_CONNECTIONS = 512
TIMEOUT = 30.0


def post(path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclasses.dataclass
class Outcome:
    offered_rate: float
    sent: int = 0
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    errors: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    latencies: list[float] = dataclasses.field(default_factory=list)  # seconds
    elapsed: float = 0.0  # first scheduled send to last answer
    started: float = 0.0  # when request 0 was due (perf_counter): request i at + i / rate
    acknowledged: set[int] = dataclasses.field(default_factory=set)  # requests answered 200

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        """Answers per second, over the whole run."""
        return self.answered / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict:
        return {
            "offered_rate": self.offered_rate,
            "sent": self.sent,
            "answered": self.answered,
            "rate": round(self.rate, 1),
            "p50_ms": round(self.percentile(50) * 1e3, 1),
            "p99_ms": round(self.percentile(99) * 1e3, 1),
            "max_ms": round(max(self.latencies, default=math.nan) * 1e3, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
        }


class _Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: collections.deque = collections.deque()
        self.opened = 0
        self.freed = asyncio.Condition()

    async def take(self):
        while True:
            if self.idle:
                return self.idle.popleft()
            if self.opened < MAX_CONNECTIONS:
                self.opened += 1
                try:
                    return await asyncio.open_connection(self.host, self.port)
                except OSError:
                    self.opened -= 1
                    raise
            async with self.freed:
                await self.freed.wait()

    async def give(self, connection, reusable: bool) -> None:
        if reusable:
            self.idle.append(connection)
        else:
            self.opened -= 1
            connection[1].close()
        async with self.freed:
            self.freed.notify()

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()


async def _exchange(reader, writer, request: bytes) -> tuple[int, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def run(host: str, port: int, requests: Sequence[bytes], rate: float) -> Outcome:
    """Send ``requests`` at ``rate`` per second; each answer's status and latency kept."""
    outcome, pool, tasks = Outcome(rate), _Pool(host, port), set()

    async def one(index: int, request: bytes, due: float) -> None:
        connection = None
        try:
            async with asyncio.timeout(TIMEOUT):
                connection = await pool.take()
                status, reusable = await _exchange(*connection, request)
            outcome.statuses[status] += 1
            if status == 200:
                outcome.acknowledged.add(index)
            outcome.latencies.append(time.perf_counter() - due)
            await pool.give(connection, reusable)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            outcome.errors[type(exc).__name__] += 1
            if connection is not None:
                await pool.give(connection, reusable=False)

    start = outcome.started = time.perf_counter() + 0.05
    for index, request in enumerate(requests):
        due = start + index / rate
        wait = due - time.perf_counter()
        if wait > 0.001:
            await asyncio.sleep(wait)
        task = asyncio.create_task(one(index, request, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        outcome.sent += 1
    while tasks:
        await asyncio.gather(*list(tasks))
    outcome.elapsed = time.perf_counter() - start
    pool.close()
    return outcome
