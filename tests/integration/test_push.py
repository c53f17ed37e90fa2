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
    push.watch("tab-a", (push.CONVERSATION, 7))
    push.watch("tab-b", (push.CONVERSATION, 8))
    push.watch("tab-closed", (push.CONVERSATION, 9))
    push.watch("inbox-org-1", (push.INBOX, 1))
    push.watch("inbox-org-2", (push.INBOX, 2))
    handlers = {push.CONVERSATION: "state.on_changed", push.INBOX: "inbox.on_changed"}
    relay = asyncio.create_task(push.relay(app, handlers, lambda token: token != "tab-closed"))
    try:
        await asyncio.sleep(0.3)  # subscribed
        await signals.publish([(1, 7)])
        await _until(lambda: len(app.event_processor.events) == 2)
        assert sorted(app.event_processor.events) == [
            ("inbox-org-1", {"conversation_id": 7}),  # the organization's inbox list
            ("tab-a", {"conversation_id": 7}),  # the open conversation; never org 2's inbox
        ]

        # Redis drops every subscriber (a restart, a proxy timeout): the relay subscribes again.
        await redisio.client().client_kill_filter(_type="pubsub")
        await asyncio.sleep(push.RESUBSCRIBE_SECONDS + 0.5)
        await signals.publish([(1, 8)])
        await _until(lambda: ("tab-b", {"conversation_id": 8}) in app.event_processor.events)

        await signals.publish([(1, 9)])
        await _until(lambda: push.viewers((push.CONVERSATION, 9)) == set())  # closed tab
        assert all(token != "tab-closed" for token, _ in app.event_processor.events)
    finally:
        relay.cancel()
        async with asyncio.timeout(5):  # it stops: shutdown never waits on it
            await asyncio.gather(relay, return_exceptions=True)
        for token in ("tab-a", "tab-b", "tab-closed", "inbox-org-1", "inbox-org-2"):
            push.unwatch(token)
        await redisio.close()


async def test_a_tab_watches_one_thing_at_a_time():
    push.watch("tab", (push.CONVERSATION, 1))
    push.watch("tab", (push.INBOX, 1))
    assert push.viewers((push.CONVERSATION, 1)) == set()
    assert push.viewers((push.INBOX, 1)) == {"tab"}
    push.unwatch("tab")
    assert push.viewers((push.INBOX, 1)) == set()
