"""The sliding-window limiter's arithmetic, on a clock the test moves."""

import itertools
import random

import pytest

from pytake.jobs.limits import (
    ARRIVAL_MARGIN_SECONDS,
    IN_FLIGHT_HOLD_SECONDS,
    IN_FLIGHT_POLL_SECONDS,
    LocalLimiter,
    Window,
    strikes_to_pause,
)
from pytake.jobs.outbox import RETRY_BASE_SECONDS, RETRY_CAP_SECONDS, _jitter

_tickets = itertools.count()


async def granted(limiter: LocalLimiter, windows: list[Window]) -> float:
    """One call answered at once: acquire, then settle when granted."""
    ticket = str(next(_tickets))
    wait = await limiter.acquire(windows, ticket)
    if wait == 0.0:
        await limiter.settle(windows, ticket)
    return wait


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_grants_up_to_the_limit_then_says_how_long_to_wait(clock):
    limiter = LocalLimiter(clock)
    window = [Window("number:1", 3, 1.0)]
    assert [await granted(limiter, window) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 0.25
    assert await granted(limiter, window) == pytest.approx(0.75)
    clock.now += 0.75
    assert await granted(limiter, window) == 0.0  # the first grant left the window


async def test_grants_are_all_or_nothing_across_windows(clock):
    limiter = LocalLimiter(clock)
    number, pair = Window("number:1", 10, 1.0), Window("pair:1:ana", 1, 60.0)
    assert await granted(limiter, [number, pair]) == 0.0
    assert await granted(limiter, [number, pair]) == pytest.approx(60.0)
    # The refused send took nothing from the number: another customer still gets 9.
    other = Window("pair:1:bia", 100, 60.0)
    assert [await granted(limiter, [number, other]) for _ in range(9)] == [0.0] * 9
    assert await granted(limiter, [number, other]) > 0


async def test_a_pause_holds_its_key_only(clock):
    limiter = LocalLimiter(clock)
    await limiter.pause("pair:1:ana", 16.0)
    assert await granted(limiter, [Window("pair:1:ana", 10, 60.0)]) == pytest.approx(16.0)
    assert await granted(limiter, [Window("pair:1:bia", 10, 60.0)]) == 0.0
    clock.now += 16.0
    assert await granted(limiter, [Window("pair:1:ana", 10, 60.0)]) == 0.0


async def test_idle_keys_are_forgotten(clock):
    limiter = LocalLimiter(clock)
    for n in range(100):
        await granted(limiter, [Window(f"pair:1:{n}", 10, 1.0)])
    clock.now += 2
    for n in range(100):
        await granted(limiter, [Window(f"pair:1:{n}", 10, 1.0)])
    assert len(limiter._logs) == 100  # each key holds only its fresh grant


@pytest.mark.parametrize(("limit", "strikes"), [(1, 1), (8, 2), (20, 5), (80, 20)])
def test_a_quarter_of_a_window_in_strikes_pauses_it(limit, strikes):
    assert strikes_to_pause(Window("number:1", limit, 1.1)) == strikes


async def test_strikes_pause_a_key_only_when_they_crowd_one_window(clock):
    limiter = LocalLimiter(clock)
    window = Window("number:1", 8, 1.0)
    assert await limiter.strike(window, 2.0) is False
    clock.now += 1.5  # the first strike left the window
    assert await limiter.strike(window, 2.0) is False
    assert await granted(limiter, [window]) == 0.0
    clock.now += 0.5
    assert await limiter.strike(window, 2.0) is True
    assert await granted(limiter, [window]) == pytest.approx(2.0)
    clock.now += 2.0
    assert await limiter.strike(window, 2.0) is False  # counting starts again after a pause


async def test_a_call_answered_within_the_margin_is_logged_at_its_grant(clock):
    limiter, window = LocalLimiter(clock), [Window("number:1", 1, 1.1)]
    assert await limiter.acquire(window, "a") == 0.0
    clock.now += ARRIVAL_MARGIN_SECONDS / 2
    await limiter.settle(window, "a")
    clock.now += 1.1 - ARRIVAL_MARGIN_SECONDS / 2
    assert await granted(limiter, window) == 0.0  # throughput as if the call took no time


async def test_a_call_answered_late_is_logged_at_its_answer(clock):
    limiter, window = LocalLimiter(clock), [Window("number:1", 1, 1.1)]
    assert await limiter.acquire(window, "a") == 0.0
    clock.now += 0.5  # it may have reached Meta only now
    await limiter.settle(window, "a")
    clock.now += 0.7  # past its grant's window, not its answer's
    assert await granted(limiter, window) == pytest.approx(0.4)


async def test_a_call_held_up_before_it_left_is_logged_when_it_left(clock):
    limiter, window = LocalLimiter(clock), [Window("number:1", 1, 1.1)]
    assert await limiter.acquire(window, "a") == 0.0
    clock.now += 0.6  # written 0.4 s after its grant, answered 0.2 s later
    await limiter.settle(window, "a", ago=0.2)
    clock.now += 0.6
    assert await granted(limiter, window) == pytest.approx(0.3)


async def test_a_call_in_flight_holds_its_slot_until_the_hold_ends(clock):
    limiter, window = LocalLimiter(clock), [Window("number:1", 1, 1.1)]
    assert await limiter.acquire(window, "a") == 0.0
    clock.now += 2.0
    assert await granted(limiter, window) == pytest.approx(IN_FLIGHT_POLL_SECONDS)
    clock.now += IN_FLIGHT_HOLD_SECONDS - 2.0  # taken to have reached Meta long ago
    assert await granted(limiter, window) == 0.0


async def test_calls_arrive_within_the_limit_however_late_they_leave(clock):
    """Each call reaches Meta at a random moment between its grant and its answer, as on a
    busy host: no second of arrivals holds more than the limit."""
    rng = random.Random(7)
    limiter, window = LocalLimiter(clock), [Window("number:1", 5, 1.1)]
    answers: list[tuple[float, str]] = []
    arrivals = []
    for step in range(2000):
        for answer in [a for a in answers if a[0] <= clock.now]:
            answers.remove(answer)
            await limiter.settle(window, answer[1])
        if await limiter.acquire(window, str(step)) == 0.0:
            arrival = clock.now + rng.uniform(0, 0.8)
            arrivals.append(arrival)
            answers.append((arrival + rng.uniform(0, 0.3), str(step)))
        clock.now += 0.01
    assert len(arrivals) >= 40  # 20 s at a few calls a second
    assert max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals) <= 5


def test_a_failed_send_waits_at_least_half_its_backoff_step():
    """Full jitter once retried a failing call within milliseconds: never sooner than half."""
    random.seed(7)
    for attempts in range(1, 12):
        step = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempts)
        waits = [_jitter(attempts) for _ in range(500)]
        assert step / 2 <= min(waits) and max(waits) <= step
        assert max(waits) - min(waits) > step / 4  # still spread out
