"""Live updates: a change reaches the tabs showing that conversation, through real Redis
pub/sub, and survives Redis dropping the subscription."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from pytake import db, redisio
from pytake.models import Conversation, Message, Note, Role
from pytake.realtime import changes, presence, push, signals
from pytake.services.scope import Scope


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


async def _subscribed(client) -> None:
    async def listening() -> int:
        return dict(await client.pubsub_numsub(signals.CHANNEL)).get(signals.CHANNEL.encode())

    async with asyncio.timeout(10):
        while await listening() != 1:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _scope(world, user: str, rule: str = "own") -> Scope:
    return Scope(world[user], world["acme"], Role.AGENT, rule, frozenset())


def _conversations(world) -> dict[str, int]:
    """Acme's conversations by who has them: Ana's, Bia's and the unassigned one."""
    with db.session() as s:
        found = s.exec(
            select(Conversation.id, Conversation.assignee_id).where(
                Conversation.organization_id == world["acme"]
            )
        ).all()
    names = {world["ana"]: "ana", world["bia"]: "bia", None: "queue"}
    return {names[assignee]: conversation for conversation, assignee in found}


async def test_a_change_reaches_only_the_tabs_whose_member_sees_it_and_resubscribes(
    settings_env, redis_url, world
):
    settings_env(redis_url=redis_url)
    changes.forget()
    app, mine = _App(), _conversations(world)
    tabs = {
        "ana-inbox": ((push.INBOX, world["acme"]), "ana"),
        "bia-inbox": ((push.INBOX, world["acme"]), "bia"),
        "ana-thread": ((push.CONVERSATION, mine["ana"]), "ana"),
        "ana-other-thread": ((push.CONVERSATION, mine["queue"]), "ana"),
        "closed": ((push.INBOX, world["acme"]), "ana"),
    }
    for token, (topic, user) in tabs.items():
        await push.watch(token, topic, world["acme"], world[user], _scope(world, user))
    await push.watch("other-org", (push.INBOX, world["other"]), world["other"], 99, None)
    handlers = {push.CONVERSATION: "thread.on_delta", push.INBOX: "inbox.on_delta"}
    relay = asyncio.create_task(push.relay(app, handlers, lambda token: token != "closed"))
    events = app.event_processor.events
    try:
        await _subscribed(redisio.client())
        await signals.publish([(world["acme"], mine["ana"])])
        await _until(lambda: len(events) == 2)
        await asyncio.sleep(0.1)
        # Bia's rule ("own") does not show her Ana's conversation: nothing reaches her tab,
        # nor another organization's, nor a tab showing another conversation.
        assert sorted(token for token, _ in events) == ["ana-inbox", "ana-thread"]
        taken = push.take("ana-inbox", 0)
        assert not taken.resync and taken.last == 1
        [update] = taken.updates
        assert update.change.after.assignee_id == world["ana"]
        assert update.change.row("pt-BR")["contact"] == "acme customer 0"
        assert push.viewers((push.INBOX, world["acme"])) == {"ana-inbox", "bia-inbox"}
        assert push.take("ana-thread", 0).updates == [update]  # read once, for both tabs

        # Redis drops every subscriber (a restart, a proxy timeout): the relay subscribes
        # again. A publication it never received (counted, not delivered) is noticed at the
        # next one: every page open here reads again.
        client = redisio.client()
        await client.client_kill_filter(_type="pubsub")
        await asyncio.sleep(push.RESUBSCRIBE_SECONDS + 0.5)
        await _subscribed(client)
        await client.incr(signals.SEQUENCE)
        events.clear()
        await signals.publish([(world["acme"], mine["bia"])])
        await _until(lambda: len(events) == 5)
        for token in ("ana-inbox", "bia-inbox", "ana-thread", "ana-other-thread", "other-org"):
            assert push.take(token, 1 if token.startswith("ana-") else 0).resync, token
    finally:
        relay.cancel()
        async with asyncio.timeout(5):  # it stops: shutdown never waits on it
            await asyncio.gather(relay, return_exceptions=True)
        for token in [*tabs, "other-org"]:
            push.forget(token)
        await redisio.close()


async def test_a_tab_holds_one_waiting_event_and_takes_every_update_in_order(
    settings_env, monkeypatch, world
):
    settings_env(redis_url=None)
    changes.forget()
    app, mine = _App(), _conversations(world)
    await push.watch("tab", (push.INBOX, world["acme"]), world["acme"], world["ana"], None)
    push.rescope("tab", _scope(world, "ana", "all"))
    relay = asyncio.create_task(push.relay(app, {push.INBOX: "inbox.on_delta"}, lambda t: True))
    events = app.event_processor.events
    try:
        await asyncio.sleep(0.1)  # subscribed
        for name in ("ana", "bia", "queue", "ana"):
            await signals.publish([(world["acme"], mine[name])])
        await asyncio.sleep(0.3)
        assert len(events) == 1  # one event waits; it takes them all
        taken = push.take("tab", 0)
        # In order; changes of one conversation read together arrive as its latest.
        ids = [u.conversation_id for u in taken.updates]
        assert set(ids) == {mine["ana"], mine["bia"], mine["queue"]} and ids[-1] == mine["ana"]
        assert (taken.resync, taken.last) == (False, len(ids))
        before = taken.last

        await signals.publish([(world["acme"], mine["bia"])])  # after the take: a new event
        await _until(lambda: len(events) == 2)
        # An update lost on its way (here: taken by someone else) is noticed by the tab's
        # next take, which then reads its page again.
        assert push.take("tab", before).last == before + 1
        await signals.publish([(world["acme"], mine["queue"])])
        await _until(lambda: len(events) == 3)
        assert push.take("tab", before).resync
        # An event that never ran (its tab went away mid-queue) stops holding others back.
        monkeypatch.setattr(push, "QUEUED_STALE_SECONDS", 0.0)
        for _ in range(2):
            await signals.publish([(world["acme"], mine["ana"])])
            await asyncio.sleep(0.1)
        await _until(lambda: len(events) == 5)
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        push.forget("tab")
    assert "tab" not in push._pending and "tab" not in push._numbered


async def test_a_tab_that_must_look_for_itself_is_woken_once_for_the_changes_until_it_begins(
    settings_env, monkeypatch
):
    """Its member's scope is not known here: it looks into the conversations itself, in one
    event covering every change until that event takes them."""
    settings_env(redis_url=None)
    app = _App()
    push.listen("tab", 1, 100, "session")
    handlers = {push.NOTICE: "notice.on_activity"}
    relay = asyncio.create_task(push.relay(app, handlers, lambda token: True))
    events = app.event_processor.events
    try:
        await asyncio.sleep(0.1)  # subscribed
        for conversation in (7, 7, 8, 7):
            await signals.publish([(1, conversation)])
        await _until(lambda: len(events) >= 1)
        await asyncio.sleep(0.2)
        assert events == [("tab", {})]  # one event covering them all
        assert push.take_notices("tab").look == {7, 8}
        await signals.publish([(1, 7)])  # so what comes next needs another
        await _until(lambda: len(events) == 2)
        monkeypatch.setattr(push, "QUEUED_STALE_SECONDS", 0.0)
        await signals.publish([(1, 8)])
        await _until(lambda: len(events) == 3)
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        push.forget("tab")
    assert "tab" not in push._told  # nothing kept for a tab that left


async def test_notices_are_decided_once_here_and_handed_only_to_their_members(settings_env, world):
    """The change read here and the tabs' members known: what happened is read once, and
    Ana's tab is handed her customer's message; Bia's gets nothing (no event at all) until a
    note mentions her. A tab whose member's scope is unknown looks for itself."""
    settings_env(redis_url=None)
    changes.forget()
    app, mine = _App(), _conversations(world)
    await push.watch("ana-inbox", (push.INBOX, world["acme"]), world["acme"], world["ana"])
    for user in ("ana", "bia"):
        push.listen(f"{user}-tab", world["acme"], world[user], "s", _scope(world, user, "all"))
    push.listen("unknown-scope", world["acme"], world["bia"], "s")
    handlers = {push.NOTICE: "notice.on_activity", push.INBOX: "inbox.on_delta"}
    relay = asyncio.create_task(push.relay(app, handlers, lambda token: True))
    events = app.event_processor.events

    def woken() -> list[str]:
        return sorted(t for t, _payload in events if t.endswith("-tab") or t == "unknown-scope")

    try:
        await asyncio.sleep(0.1)  # subscribed; the inbox tab had the organization read
        with db.session() as s:  # a customer's message in Ana's conversation
            s.add(_inbound(world, mine["ana"], "Meu pedido chegou?"))
            s.get(Conversation, mine["ana"]).unread_count += 1
        await signals.publish([(world["acme"], mine["ana"])])
        await _until(lambda: len(woken()) >= 2)
        await asyncio.sleep(0.2)
        assert woken() == ["ana-tab", "unknown-scope"]
        (told,) = push.take_notices("ana-tab").notices
        assert (told.kind, told.body("pt-BR"), told.url) == (
            "message",
            "Meu pedido chegou?",
            f"/inbox/{mine['ana']}",
        )
        assert push.take_notices("unknown-scope").look == {mine["ana"]}
        events.clear()
        with db.session() as s:  # a private note mentioning Bia
            s.add(
                Note(
                    organization_id=world["acme"],
                    conversation_id=mine["ana"],
                    body="@Bia olha isto",
                    mentions=[world["bia"]],
                )
            )
        await signals.publish([(world["acme"], mine["ana"])])
        await _until(lambda: len(woken()) >= 2)
        await asyncio.sleep(0.2)
        assert woken() == ["bia-tab", "unknown-scope"]  # Ana's message was told already
        (mention,) = push.take_notices("bia-tab").notices
        assert (mention.kind, mention.body("en")) == ("mention", "@Bia olha isto")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        for token in ("ana-inbox", "ana-tab", "bia-tab", "unknown-scope"):
            push.forget(token)


def _inbound(world, conversation_id: int, body: str) -> Message:
    return Message(
        organization_id=world["acme"],
        conversation_id=conversation_id,
        channel_id=_channel(conversation_id),
        direction="in",
        type="text",
        content={"body": body},
        external_id=f"wamid.push-{body[:8]}",
    )


def _channel(conversation_id: int) -> int:
    with db.session() as s:
        return s.get(Conversation, conversation_id).channel_id


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
