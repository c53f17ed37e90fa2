"""What each member is told as conversations change: their customers writing, new
conversations in their queues, conversations given to them, @mentions; never what they
could not open, never twice."""

from __future__ import annotations

import datetime as dt

from pytake import db
from pytake.models import Conversation, Role, Team
from pytake.services import actions, notices, preferences
from tests.integration.conftest import who

LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _told(identity, conversation_id: int, seen: set[int] | None = None) -> list[dict]:
    """As a tab shows them: found, not told before, as the member's preferences choose."""
    with db.session() as s:
        found = notices.about(s, identity, [conversation_id], LONG_AGO)
        wanted = preferences.get(s, identity)
    kept = notices.chosen([n for n in found if n.key not in (seen or set())], wanted, _now())
    return [
        {"key": n.key, "kind": n.kind, "name": n.name, "body": n.body("pt-BR"), "url": n.url}
        | {"quiet": n.quiet}
        for n in kept
    ]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_each_member_hears_of_their_own_and_their_queues(world):
    ana, bia = who(world, "ana", Role.AGENT), who(world, "bia", Role.AGENT)
    (mine,) = _told(ana, 1)  # Ana's customer wrote
    assert (mine["kind"], mine["body"], mine["url"]) == ("message", "oi", "/inbox/1")
    assert mine["name"] == "acme customer 0"
    assert _told(ana, 2) == []  # Bia's conversation: Ana sees it, but it is not hers
    (queued,) = _told(bia, 3)  # unassigned, of no team: everyone's queue
    assert queued["kind"] == "new_conversation"
    assert _told(ana, 1, {mine["key"]}) == []  # told once
    assert _told(ana, 4) == []  # another organization's conversation
    assert _told(who(world, "ana", Role.AGENT, visibility="own"), 2) == []

    with db.session(write=True) as s:  # a team's queue is its members' only
        team = Team(organization_id=world["acme"], name="Vendas")
        s.add(team)
        s.flush()
        s.get(Conversation, 3).team_id = team.id
    assert _told(bia, 3) == []


def test_a_conversation_given_to_me_and_a_mention_are_told(world):
    ana, bia = who(world, "ana", Role.AGENT), who(world, "bia", Role.SUPERVISOR)
    seen = {n["key"] for n in _told(ana, 3)}
    with db.session(write=True) as s:
        actions.assign(s, bia, 3, world["ana"])
        actions.add_note(s, bia, 3, "@Ana pode ver este cliente?")
    kinds = [(n["kind"], n["body"]) for n in _told(ana, 3, seen)]
    # The customer's first message was told as a new conversation: not again as Ana's.
    assert kinds == [("assigned", ""), ("mention", "@Ana pode ver este cliente?")]
    # Taking a conversation oneself is no news to oneself.
    with db.session(write=True) as s:
        actions.assign(s, bia, 2, world["bia"])
    assert [n["kind"] for n in _told(bia, 2)] == ["message"]


def test_kinds_turned_off_in_the_app_and_quiet_hours(world):
    ana = who(world, "ana", Role.AGENT)
    with db.session(write=True) as s:
        events = {**preferences.DEFAULT_EVENTS, "message": ["email"]}
        current = preferences.get(s, ana).as_dict()
        preferences.save(s, ana, {**current, "events": events})
    assert _told(ana, 1) == []  # her customer's message: not in the app any more
    (queued,) = _told(ana, 3)
    assert queued["kind"] == "new_conversation" and queued["quiet"] is False
    now = dt.datetime.now(dt.UTC)
    quiet = {
        "quiet": True,
        "quiet_from": f"{now - dt.timedelta(hours=1):%H:%M}",
        "quiet_to": f"{now + dt.timedelta(hours=1):%H:%M}",
        "timezone": "UTC",
    }
    with db.session(write=True) as s:
        preferences.save(s, ana, {**preferences.get(s, ana).as_dict(), **quiet})
    (queued,) = _told(ana, 3)
    assert queued["quiet"] is True  # told, without sound or desktop notification


def test_one_refresh_tells_of_several_conversations_and_ignores_bad_ids(world):
    ana = who(world, "ana", Role.AGENT)
    with db.session() as s:
        told = notices.about(s, ana, [3, "1", True, -1, 2**70, 1, 3], LONG_AGO)
    assert [(n.kind, n.url) for n in told] == [
        ("message", "/inbox/1"),
        ("new_conversation", "/inbox/3"),
    ]
