"""The sliding-window limiter's arithmetic, on a clock the test moves."""

import pytest

from pytake.jobs.limits import LocalLimiter, Window, strikes_to_pause


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
    assert [await limiter.acquire(window) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 0.25
    assert await limiter.acquire(window) == pytest.approx(0.75)
    clock.now += 0.75
    assert await limiter.acquire(window) == 0.0  # the first grant left the window


async def test_no_second_ever_holds_more_than_the_limit(clock):
    limiter = LocalLimiter(clock)
    window = [Window("number:1", 5, 1.0)]
    granted = []
    for _ in range(400):
        if await limiter.acquire(window) == 0.0:
            granted.append(clock.now)
        clock.now += 0.013
    assert len(granted) >= 25  # 5.2 s at 5 per second
    assert max(sum(1 for t in granted if start <= t < start + 1.0) for start in granted) <= 5


async def test_grants_are_all_or_nothing_across_windows(clock):
    limiter = LocalLimiter(clock)
    number, pair = Window("number:1", 10, 1.0), Window("pair:1:ana", 1, 60.0)
    assert await limiter.acquire([number, pair]) == 0.0
    assert await limiter.acquire([number, pair]) == pytest.approx(60.0)
    # The refused send took nothing from the number: another customer still gets 9.
    other = Window("pair:1:bia", 100, 60.0)
    assert [await limiter.acquire([number, other]) for _ in range(9)] == [0.0] * 9
    assert await limiter.acquire([number, other]) > 0


async def test_a_pause_holds_its_key_only(clock):
    limiter = LocalLimiter(clock)
    await limiter.pause("pair:1:ana", 16.0)
    assert await limiter.acquire([Window("pair:1:ana", 10, 60.0)]) == pytest.approx(16.0)
    assert await limiter.acquire([Window("pair:1:bia", 10, 60.0)]) == 0.0
    clock.now += 16.0
    assert await limiter.acquire([Window("pair:1:ana", 10, 60.0)]) == 0.0


async def test_idle_keys_are_forgotten(clock):
    limiter = LocalLimiter(clock)
    for n in range(100):
        await limiter.acquire([Window(f"pair:1:{n}", 10, 1.0)])
    clock.now += 2
    for n in range(100):
        await limiter.acquire([Window(f"pair:1:{n}", 10, 1.0)])
    assert len(limiter._grants) == 100  # each key holds only its fresh grant


@pytest.mark.parametrize(("limit", "strikes"), [(1, 1), (8, 2), (20, 5), (80, 20)])
def test_a_quarter_of_a_window_in_strikes_pauses_it(limit, strikes):
    assert strikes_to_pause(Window("number:1", limit, 1.1)) == strikes


async def test_strikes_pause_a_key_only_when_they_crowd_one_window(clock):
    limiter = LocalLimiter(clock)
    window = Window("number:1", 8, 1.0)
    assert await limiter.strike(window, 2.0) is False
    clock.now += 1.5  # the first strike left the window
    assert await limiter.strike(window, 2.0) is False
    assert await limiter.acquire([window]) == 0.0
    clock.now += 0.5
    assert await limiter.strike(window, 2.0) is True
    assert await limiter.acquire([window]) == pytest.approx(2.0)
    clock.now += 2.0
    assert await limiter.strike(window, 2.0) is False  # counting starts again after a pause
