"""Live updates: a change reaches the tabs showing that conversation, through real Redis
pub/sub, and survives Redis dropping the subscription."""

from __future__ import annotations

import asyncio

from pytake import redisio
from pytake.realtime import push, signals


class _Processor:
    """Stands in for Reflex's event processor: records what would run in each tab."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    async def enqueue(self, token, event) -> None:
        self.events.append((token, event.payload))


class _App:
    def __init__(self) -> None:
        self.event_processor = _Processor()


async def _until(condition, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_changes_reach_the_tabs_showing_them_and_resubscribe(settings_env, redis_url):
    settings_env(redis_url=redis_url)
    app = _App()
    push.watch("tab-a", 7)
    push.watch("tab-b", 8)
    push.watch("tab-closed", 9)
    relay = asyncio.create_task(
        push.relay(app, "state.on_changed", lambda token: token != "tab-closed")
    )
    try:
        await asyncio.sleep(0.3)  # subscribed
        await signals.publish([(1, 7)])
        await _until(lambda: app.event_processor.events == [("tab-a", {"conversation_id": 7})])

        # Redis drops every subscriber (a restart, a proxy timeout): the relay subscribes again.
        await redisio.client().client_kill_filter(_type="pubsub")
        await asyncio.sleep(push.RESUBSCRIBE_SECONDS + 0.5)
        await signals.publish([(1, 8)])
        await _until(lambda: ("tab-b", {"conversation_id": 8}) in app.event_processor.events)

        await signals.publish([(1, 9)])
        await _until(lambda: push.viewers(9) == set())  # a closed tab is forgotten
        assert all(token != "tab-closed" for token, _ in app.event_processor.events)
    finally:
        relay.cancel()
        async with asyncio.timeout(5):  # it stops: shutdown never waits on it
            await asyncio.gather(relay, return_exceptions=True)
        for token in ("tab-a", "tab-b", "tab-closed"):
            push.unwatch(token)
        await redisio.close()


async def test_a_tab_watches_one_conversation_at_a_time():
    push.watch("tab", 1)
    push.watch("tab", 2)
    assert push.viewers(1) == set() and push.viewers(2) == {"tab"}
    push.unwatch("tab")
    assert push.viewers(2) == set()
