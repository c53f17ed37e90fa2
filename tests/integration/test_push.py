"""Live updates: a change reaches the tabs showing that conversation, through real Redis
pub/sub, and survives Redis dropping the subscription."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from pytake import redisio
from pytake.realtime import presence, push, signals


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
    for token, topic in (
        ("tab-a", (push.CONVERSATION, 7)),
        ("tab-b", (push.CONVERSATION, 8)),
        ("tab-closed", (push.CONVERSATION, 9)),
        ("inbox-org-1", (push.INBOX, 1)),
        ("inbox-org-2", (push.INBOX, 2)),
    ):
        await push.watch(token, topic, topic[1] if topic[0] == push.INBOX else 1, 100)
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


async def test_a_refresh_waiting_in_a_tab_covers_the_changes_until_it_begins(
    settings_env, monkeypatch
):
    settings_env(redis_url=None, live_refresh_seconds="0")  # in this process, no pace
    app = _App()
    await push.watch("tab", (push.INBOX, 1), 1, 100)
    push.listen("tab", 1)
    handlers = {push.INBOX: "inbox.on_changed", push.NOTICE: "notice.on_activity"}
    relay = asyncio.create_task(push.relay(app, handlers, lambda token: True))
    events = app.event_processor.events
    try:
        await asyncio.sleep(0.1)  # subscribed
        for conversation in (7, 7, 8, 7):
            await signals.publish([(1, conversation)])
        await _until(lambda: len(events) >= 2)
        await asyncio.sleep(0.2)
        # One inbox reload and one notice check for all four, each covering both conversations.
        assert events == [("tab", {"conversation_id": 7})] * 2
        assert push.begun("tab", push.INBOX) == {7, 8}  # the reload started
        assert push.begun("tab", push.NOTICE) == {7, 8}
        await signals.publish([(1, 7)])  # so what comes next needs another
        await _until(lambda: len(events) == 4)
        # A refresh that never began (its tab went away mid-queue) stops holding others back.
        monkeypatch.setattr(push, "QUEUED_STALE_SECONDS", 0.0)
        await signals.publish([(1, 8)])
        await _until(lambda: len(events) == 6)
        push.unwatch("tab")  # another page: the notice check waiting still covers conversation 8
        assert set(push._queued["tab"]) == {push.NOTICE}
        assert push.begun("tab", push.NOTICE) == {8}
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        push._forget("tab")
    assert push._queued.get("tab") is None  # nothing kept for a tab that left


class _Tab(_Processor):
    """Begins each refresh as soon as it is enqueued, like an idle tab."""

    def __init__(self) -> None:
        super().__init__()
        self.begun: list[tuple[float, set[int]]] = []

    async def enqueue(self, token, event) -> None:
        self.begun.append((time.monotonic(), push.begun(token, push.INBOX)))


async def test_while_changes_keep_coming_a_tab_refreshes_at_its_pace_and_sees_the_last(
    settings_env,
):
    settings_env(redis_url=None, live_refresh_seconds="0.3")
    app = _App()
    app.event_processor = tab = _Tab()
    await push.watch("tab", (push.INBOX, 1), 1, 100)
    relay = asyncio.create_task(push.relay(app, {push.INBOX: "inbox.on_changed"}, lambda t: True))
    try:
        await asyncio.sleep(0.1)  # subscribed
        first = time.monotonic()
        await signals.publish([(1, 1)])
        await _until(lambda: len(tab.begun) == 1)
        assert tab.begun[0][0] - first < 0.1  # a quiet tab is not held back
        for n in range(50):  # 1 s of changes, 50 a second, to four conversations
            await signals.publish([(1, 2 + n % 4)])
            await asyncio.sleep(0.02)
        last = time.monotonic()
        await asyncio.sleep(0.5)
        began = [when for when, _covered in tab.begun]
        assert 4 <= len(began) <= (last - first) / 0.3 + 2  # one a pace, not 50
        assert all(b - a >= 0.29 for a, b in itertools.pairwise(began))
        assert began[-1] > last  # the last change is shown, within one pace
        assert set().union(*(covered for _when, covered in tab.begun[1:])) == {2, 3, 4, 5}
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        push._forget("tab")
    assert "tab" not in push._began


async def test_a_tab_watches_one_thing_at_a_time():
    await push.watch("tab", (push.CONVERSATION, 1), 1, 100)
    await push.watch("tab", (push.INBOX, 1), 1, 100)
    assert push.viewers((push.CONVERSATION, 1)) == set()
    assert push.viewers((push.INBOX, 1)) == {"tab"}
    push.unwatch("tab")
    assert push.viewers((push.INBOX, 1)) == set()


@pytest.mark.parametrize("with_redis", [False, True], ids=["embedded", "redis"])
async def test_presence_follows_connected_tabs_and_expires(
    settings_env, redis_url, monkeypatch, with_redis
):
    """Every worker vouches for its connected tabs; a member nobody vouches for goes offline,
    and one organization's presence says nothing of another's."""
    settings_env(redis_url=redis_url if with_redis else None)
    monkeypatch.setattr(presence, "TTL", 0.6)
    monkeypatch.setattr(presence, "REFRESH", 0.2)
    presence._local.clear()
    tabs = {"tab-ana": True, "tab-bia": True}
    await push.watch("tab-ana", (push.INBOX, 1), 1, 11)
    await push.watch("tab-bia", (push.CONVERSATION, 5), 1, 12)
    await push.watch("tab-other-org", (push.INBOX, 2), 2, 21)
    assert await presence.online(1) == {11, 12}
    assert await presence.online(2) == {21}
    vouching = asyncio.create_task(push.vouch(lambda token: tabs.get(token, False)))
    try:
        tabs["tab-bia"] = False  # Bia closed her tab
        await asyncio.sleep(1.0)  # past the TTL: only what was vouched for again is online
        assert await presence.online(1) == {11}
        assert await presence.online(2) == set()  # its tab is not connected here either
    finally:
        vouching.cancel()
        async with asyncio.timeout(5):
            await asyncio.gather(vouching, return_exceptions=True)
        for token in ("tab-ana", "tab-bia", "tab-other-org"):
            push.unwatch(token)
        if with_redis:
            await redisio.client().delete(f"{presence.PREFIX}1", f"{presence.PREFIX}2")
            await redisio.close()
