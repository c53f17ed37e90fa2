"""Send-rate limits: sliding windows per number and per customer, shared by every worker.

A sliding log (each grant's time kept for one window) rather than a token bucket, because a
bucket lets up to twice its rate through in a second that straddles a refill, and Meta counts
per second. Grants are all-or-nothing across the windows asked for, so a message waiting on a
customer's pair limit takes nothing from the number's throughput.

Meta counts a call when it arrives, after our grant. A call that left this host within
``ARRIVAL_MARGIN_SECONDS`` of its grant is logged at the grant (the window's margin covers
the network); one held up here (a busy event loop, a full connection pool) is logged when it
left, or at its answer when the transport cannot tell (``channels.departure``). A call counts
while it is in flight. So two windows' calls cannot meet in one of Meta's seconds however
late they leave. The caller reports each answer with ``settle``, inside ``call``.

Production: Lua scripts in Redis, on Redis's clock, so every worker on every host shares
the windows; if Redis cannot be reached the caller gets ``LimiterUnavailable`` and sends
nothing (fail closed: Meta's penalties for bursts outlast any outage). Embedded: the same
algorithm in this process.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import heapq
import math
import time
from collections.abc import AsyncIterator

import redis

from pytake import redisio
from pytake.channels import departure

# Meta measures throughput on its side: a margin on the window absorbs the jitter between
# admission and arrival (50 ms proved too little on a loaded two-core machine).
ARRIVAL_MARGIN_SECONDS = 0.1
THROUGHPUT_WINDOW_SECONDS = 1.0 + ARRIVAL_MARGIN_SECONDS
# A call unanswered this long is taken to have reached Meta, which is slow to answer: it
# stops holding a slot (its answer is still logged when it comes). A crashed worker's calls
# free theirs this way too.
IN_FLIGHT_HOLD_SECONDS = 5.0
# How soon to ask again when only calls in flight fill a window: they may be answered soon.
IN_FLIGHT_POLL_SECONDS = 0.02
PREFIX = "pytake:limit:"
# Our windows already keep a number under its limit, so Meta's throughput error alone is
# jitter at a window's edge: that message waits its backoff and the number goes on. Refusals
# for this share of a window's sends mean the limit Meta applies is lower: pause the number.
STRIKES_SHARE = 0.25


class LimiterUnavailable(Exception):
    """The shared limiter cannot be reached: send nothing now."""


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int
    seconds: float


def number_window(channel_id: int, per_second: int) -> Window:
    return Window(f"number:{channel_id}", max(per_second, 1), THROUGHPUT_WINDOW_SECONDS)


def pair_window(channel_id: int, recipient: str, limit: int, seconds: float) -> Window:
    return Window(f"pair:{channel_id}:{recipient}", max(limit, 1), max(seconds, 0.001))


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


# KEYS: per window its log, its calls in flight, its pause. ARGV: ticket, hold (ms), poll
# (ms), then limit and window (ms) per window. Returns 0 when granted (the ticket is then in
# flight on every window), else the milliseconds to wait (nothing taken).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 3
local hold, poll = tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for i = 1, n do
  local pause = redis.call('PTTL', KEYS[2 * n + i])
  if pause > wait then wait = pause end
  local limit, window = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', KEYS[n + i], '-inf', now - hold)
  if redis.call('ZCARD', KEYS[i]) + redis.call('ZCARD', KEYS[n + i]) >= limit then
    local left = window
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if oldest[2] then left = tonumber(oldest[2]) + window - now end
    local flying = redis.call('ZRANGE', KEYS[n + i], 0, 0, 'WITHSCORES')
    if flying[2] then left = math.min(left, math.max(tonumber(flying[2]) + window - now, poll)) end
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('ZADD', KEYS[n + i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[n + i], hold)
end
return 0
"""

# KEYS: per window its log, its calls in flight. ARGV: ticket, margin (ms), how long ago the
# call left (ms), then window (ms) per window.
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 2
local left = now - tonumber(ARGV[3])
for i = 1, n do
  local granted = redis.call('ZSCORE', KEYS[n + i], ARGV[1])
  redis.call('ZREM', KEYS[n + i], ARGV[1])
  local stamp = left
  if granted and left - tonumber(granted) <= tonumber(ARGV[2]) then stamp = tonumber(granted) end
  redis.call('ZADD', KEYS[i], stamp, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[i + 3]))
end
return 0
"""


def strikes_to_pause(window: Window) -> int:
    return max(1, math.ceil(window.limit * STRIKES_SHARE))


# KEYS: the strike counter, the pause key. ARGV: window (ms), strikes to pause, pause (ms).
# Returns 1 when this strike paused the key.
_STRIKE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], 1, 'PX', ARGV[3])
return 1
"""


class RedisLimiter:
    def __init__(self, client) -> None:
        self.client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._settle = client.register_script(_SETTLE)
        self._strike = client.register_script(_STRIKE)

    async def acquire(self, windows: list[Window], ticket: str) -> float:
        keys = [PREFIX + w.key for w in windows]
        keys += [f"{PREFIX}flying:{w.key}" for w in windows]
        keys += [f"{PREFIX}pause:{w.key}" for w in windows]
        args: list = [ticket, _ms(IN_FLIGHT_HOLD_SECONDS), _ms(IN_FLIGHT_POLL_SECONDS)]
        for w in windows:
            args += [w.limit, _ms(w.seconds)]
        return int(await self._run(self._acquire, keys, args)) / 1000

    async def settle(self, windows: list[Window], ticket: str, ago: float = 0.0) -> None:
        """The call granted under ``ticket`` is over: log it as leaving ``ago`` seconds ago."""
        keys = [PREFIX + w.key for w in windows] + [f"{PREFIX}flying:{w.key}" for w in windows]
        args = [ticket, _ms(ARRIVAL_MARGIN_SECONDS), int(ago * 1000)]
        args += [_ms(w.seconds) for w in windows]
        await self._run(self._settle, keys, args)

    async def pause(self, key: str, seconds: float) -> None:
        """Nothing for ``key`` until ``seconds`` from now (Meta said to slow down)."""
        try:
            await self.client.set(f"{PREFIX}pause:{key}", 1, px=_ms(seconds))
        except (redis.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def strike(self, window: Window, seconds: float) -> bool:
        """Meta refused a send on ``window`` for throughput; whether that paused it."""
        keys = [f"{PREFIX}strikes:{window.key}", f"{PREFIX}pause:{window.key}"]
        args = [_ms(window.seconds), strikes_to_pause(window), _ms(seconds)]
        return bool(await self._run(self._strike, keys, args))

    @staticmethod
    async def _run(script, keys: list[str], args: list) -> int:
        try:
            return await script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc


@dataclasses.dataclass
class _Log:
    logged: list[float] = dataclasses.field(default_factory=list)  # a heap of stamps
    flying: dict[str, float] = dataclasses.field(default_factory=dict)  # ticket → grant


class LocalLimiter:
    """Embedded mode: one process, so the event loop makes each call atomic."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._logs: dict[str, _Log] = {}
        self._pauses: dict[str, float] = {}
        self._strikes: dict[str, collections.deque[float]] = {}

    async def acquire(self, windows: list[Window], ticket: str) -> float:
        now, wait = self.clock(), 0.0
        for w in windows:
            wait = max(wait, self._pauses.get(w.key, 0.0) - now)
            log = self._logs.get(w.key)
            if log is None:
                continue
            while log.logged and log.logged[0] <= now - w.seconds:
                heapq.heappop(log.logged)
            for stale in [t for t, at in log.flying.items() if at <= now - IN_FLIGHT_HOLD_SECONDS]:
                del log.flying[stale]
            if len(log.logged) + len(log.flying) >= w.limit:
                left = log.logged[0] + w.seconds - now if log.logged else w.seconds
                if log.flying:
                    flying = min(log.flying.values()) + w.seconds - now
                    left = min(left, max(flying, IN_FLIGHT_POLL_SECONDS))
                wait = max(wait, left)
            if not log.logged and not log.flying:
                del self._logs[w.key]  # idle customers do not pile up in memory
        if wait > 0:
            return wait
        for w in windows:
            self._logs.setdefault(w.key, _Log()).flying[ticket] = now
        return 0.0

    async def settle(self, windows: list[Window], ticket: str, ago: float = 0.0) -> None:
        left = self.clock() - ago
        for w in windows:
            log = self._logs.setdefault(w.key, _Log())
            granted = log.flying.pop(ticket, None)
            late = granted is None or left - granted > ARRIVAL_MARGIN_SECONDS
            heapq.heappush(log.logged, left if late else granted)

    async def pause(self, key: str, seconds: float) -> None:
        self._pauses[key] = max(self._pauses.get(key, 0.0), self.clock() + seconds)
        now = self.clock()
        for stale in [k for k, until in self._pauses.items() if until <= now]:
            del self._pauses[stale]

    async def strike(self, window: Window, seconds: float) -> bool:
        now = self.clock()
        strikes = self._strikes.setdefault(window.key, collections.deque())
        while strikes and strikes[0] <= now - window.seconds:
            strikes.popleft()
        strikes.append(now)
        if len(strikes) < strikes_to_pause(window):
            return False
        del self._strikes[window.key]
        await self.pause(window.key, seconds)
        return True


Limiter = RedisLimiter | LocalLimiter


@contextlib.asynccontextmanager
async def call(limiter: Limiter, windows: list[Window], ticket: str) -> AsyncIterator[None]:
    """Around the call a grant was for: settles it however the call ends."""
    with departure.watched() as left:
        try:
            yield
        finally:
            ago = time.monotonic() - left[-1] if left else 0.0
            with contextlib.suppress(LimiterUnavailable):  # it stops holding after the hold
                await limiter.settle(windows, ticket, ago)


_local = LocalLimiter()


def limiter() -> Limiter:
    client = redisio.client()
    if client is None:
        return _local
    return RedisLimiter(client)
