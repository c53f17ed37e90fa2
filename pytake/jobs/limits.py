"""Send-rate limits: sliding windows per number and per customer, shared by every worker.

A sliding log (each grant's time kept for one window) rather than a token bucket, because a
bucket lets up to twice its rate through in a second that straddles a refill, and Meta counts
per second. Grants are all-or-nothing across the windows asked for, so a message waiting on a
customer's pair limit takes nothing from the number's throughput.

Production: one Lua script in Redis, on Redis's clock, so every worker on every host shares
the windows; if Redis cannot be reached the caller gets ``LimiterUnavailable`` and sends
nothing (fail closed: Meta's penalties for bursts outlast any outage). Embedded: the same
algorithm in this process.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import secrets
import time

import redis

from pytake import redisio

# Meta measures throughput on its side: a margin on the window absorbs the jitter between
# admission and arrival (50 ms proved too little on a loaded two-core machine).
THROUGHPUT_WINDOW_SECONDS = 1.1
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


# KEYS: one window key and one pause key per window. ARGV: member, then limit and window (ms)
# per window. Returns 0 when granted, else the milliseconds to wait (nothing taken).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 2
local wait = 0
for i = 1, n do
  local pause = redis.call('PTTL', KEYS[n + i])
  if pause > wait then wait = pause end
  local limit, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local left = tonumber(oldest[2]) + window - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[1] .. ':' .. i)
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i + 1]))
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
        self._script = client.register_script(_ACQUIRE)
        self._strike = client.register_script(_STRIKE)

    async def acquire(self, windows: list[Window]) -> float:
        keys = [PREFIX + w.key for w in windows] + [f"{PREFIX}pause:{w.key}" for w in windows]
        args: list = [secrets.token_hex(8)]
        for w in windows:
            args += [w.limit, max(int(w.seconds * 1000), 1)]
        try:
            wait_ms = await self._script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return int(wait_ms) / 1000

    async def pause(self, key: str, seconds: float) -> None:
        """Nothing for ``key`` until ``seconds`` from now (Meta said to slow down)."""
        try:
            await self.client.set(f"{PREFIX}pause:{key}", 1, px=max(int(seconds * 1000), 1))
        except (redis.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def strike(self, window: Window, seconds: float) -> bool:
        """Meta refused a send on ``window`` for throughput; whether that paused it."""
        keys = [f"{PREFIX}strikes:{window.key}", f"{PREFIX}pause:{window.key}"]
        args = [
            max(int(window.seconds * 1000), 1),
            strikes_to_pause(window),
            max(int(seconds * 1000), 1),
        ]
        try:
            return bool(await self._strike(keys=keys, args=args))
        except (redis.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from exc


class LocalLimiter:
    """Embedded mode: one process, so the event loop makes each call atomic."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._grants: dict[str, collections.deque[float]] = {}
        self._pauses: dict[str, float] = {}
        self._strikes: dict[str, collections.deque[float]] = {}

    async def acquire(self, windows: list[Window]) -> float:
        now, wait = self.clock(), 0.0
        for w in windows:
            wait = max(wait, self._pauses.get(w.key, 0.0) - now)
            grants = self._grants.get(w.key)
            if grants is None:
                continue
            while grants and grants[0] <= now - w.seconds:
                grants.popleft()
            if len(grants) >= w.limit:
                wait = max(wait, grants[0] + w.seconds - now)
            if not grants:
                del self._grants[w.key]  # idle customers do not pile up in memory
        if wait > 0:
            return wait
        for w in windows:
            self._grants.setdefault(w.key, collections.deque()).append(now)
        return 0.0

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


_local = LocalLimiter()


def limiter() -> RedisLimiter | LocalLimiter:
    client = redisio.client()
    if client is None:
        return _local
    return RedisLimiter(client)
