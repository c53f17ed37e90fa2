"""Customer satisfaction: a resolved conversation asks for a rating (when the organization
wants it and the window is open), the customer's choice is kept without reopening anything,
and reports average it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pytake import db
from pytake.models import Conversation, Message, Organization
from pytake.sandbox import payloads as p
from pytake.services import actions, csat, organization, reports
from tests.integration.conftest import ANA, rows


def _resolved(whatsapp, owner) -> int:
    (conversation,) = rows(Conversation)
    with db.session(write=True) as s:
        actions.set_status(s, owner, conversation.id, "resolved")
        asked = csat.after_resolve(s, owner, conversation.id)
    assert (asked is not None) == _wanted(whatsapp)
    return conversation.id


def _wanted(whatsapp) -> bool:
    with db.session() as s:
        org = s.get(Organization, whatsapp.organization_id)
        return organization.settings_of(org)["csat"]


def _turn_on(whatsapp, owner) -> None:
    with db.session(write=True) as s:
        organization.update(s, whatsapp.organization_id, {"csat": "on"}, actor=owner)


async def test_a_resolved_conversation_asks_and_the_rating_reopens_nothing(whatsapp, owner_of):
    _turn_on(whatsapp, owner_of)
    await whatsapp.send(p.text("meu pedido chegou, obrigado", sender=ANA))
    await whatsapp.drain()
    conversation_id = _resolved(whatsapp, owner_of)
    await whatsapp.drain()
    asked = whatsapp.sim.sent[-1]
    assert asked["type"] == "interactive" and asked["interactive"]["type"] == "list"
    offered = [r["id"] for r in asked["interactive"]["action"]["sections"][0]["rows"]]
    assert offered == ["csat:5", "csat:4", "csat:3", "csat:2", "csat:1"]
    with db.session(write=True) as s:  # resolving again does not ask twice
        assert csat.after_resolve(s, owner_of, conversation_id) is None

    await whatsapp.send(p.list_reply("csat:4", "⭐⭐⭐⭐ Bom", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)  # no new conversation, still resolved
    assert conversation.status == "resolved" and conversation.automation["csat"]["score"] == 4
    answer = rows(Message, Message.direction == "in")[-1]
    assert answer.conversation_id == conversation_id and answer.content["id"] == "csat:4"

    today = dt.date.today()
    with db.session() as s:
        found = reports.summary(s, owner_of, reports.Period(today - dt.timedelta(days=1), today))
    assert found["csat"] == {"average": 4.0, "count": 1}

    # A second choice finds no request waiting: an ordinary message (the reopen window
    # brings the conversation back), and the rating given stays.
    await whatsapp.send(p.list_reply("csat:1", "⭐ Muito ruim", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    assert conversation.status == "open" and conversation.automation["csat"]["score"] == 4


async def test_nothing_is_asked_when_off_or_outside_the_window(whatsapp, owner_of):
    await whatsapp.send(p.text("oi", sender=ANA))
    await whatsapp.drain()
    sent = len(whatsapp.sim.sent)
    _resolved(whatsapp, owner_of)  # the organization did not turn it on
    await whatsapp.drain()
    assert len(whatsapp.sim.sent) == sent
    _turn_on(whatsapp, owner_of)
    with db.session(write=True) as s:
        s.execute(
            sa.update(Conversation).values(
                status="open", window_expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
            )
        )
    (conversation,) = rows(Conversation)
    with db.session(write=True) as s:
        actions.set_status(s, owner_of, conversation.id, "resolved")
        assert csat.after_resolve(s, owner_of, conversation.id) is None
