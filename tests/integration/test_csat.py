"""Customer satisfaction: a resolved conversation asks for a rating (when the organization
wants it and the window is open), the customer's choice is kept without reopening anything,
and reports average it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pytake import db
from pytake.models import Channel, Conversation, Message, MessageTemplate, Organization
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


async def test_outside_the_window_the_rating_template_asks_and_a_comment_may_follow(
    whatsapp, owner_of
):
    rating = {
        "name": "avaliacao",
        "language": "pt_BR",
        "category": "UTILITY",
        "components": [
            {"type": "BODY", "text": "Olá {{1}}, como foi o atendimento?"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": text} for text in ("Ótimo", "Regular", "Ruim")
                ],
            },
        ],
    }
    with db.session(write=True) as s:
        changes = {"csat": "on", "csat_template": "avaliacao"}
        organization.update(s, whatsapp.organization_id, changes, actor=owner_of)
        account = s.get(Channel, whatsapp.channel_id).account_id
        s.add(
            MessageTemplate(
                organization_id=whatsapp.organization_id,
                account_id=account,
                status="APPROVED",
                **rating,
            )
        )
    whatsapp.sim.add_template(account, rating)
    await whatsapp.send(p.text("oi", sender=ANA))
    await whatsapp.drain()
    with db.session(write=True) as s:  # the customer's last message was two days ago
        s.execute(
            sa.update(Conversation).values(window_expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    conversation_id = _resolved(whatsapp, owner_of)
    await whatsapp.drain()
    asked = whatsapp.sim.sent[-1]
    assert asked["type"] == "template" and asked["template"]["name"] == "avaliacao"
    components = asked["template"]["components"]
    assert components[0]["parameters"][0]["text"] == "Ana"  # the first name
    payloads = [c["parameters"][0]["payload"] for c in components if c["type"] == "button"]
    assert payloads == ["csat:5", "csat:3", "csat:1"]  # best first, spread over the buttons

    await whatsapp.send(p.template_button("csat:3", "Regular", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    assert conversation.status == "resolved" and conversation.automation["csat"]["score"] == 3
    # The customer's tap reopened their window: they are asked for a comment.
    assert whatsapp.sim.sent[-1]["text"]["body"].startswith("Thank you!")

    await whatsapp.send(p.text("Demorou um pouco, mas resolveram.", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    assert conversation.status == "resolved"
    assert conversation.automation["csat"]["comment"] == "Demorou um pouco, mas resolveram."
    assert whatsapp.sim.sent[-1]["text"]["body"] == "Thank you for your comment!"
    today = dt.date.today()
    with db.session() as s:
        period = reports.Period(today - dt.timedelta(days=1), today)
        (found,) = reports.comments(s, owner_of, period)
    assert found["conversation"] == conversation_id and found["score"] == 3
    assert found["comment"] == "Demorou um pouco, mas resolveram."

    # One comment only: the next message is an ordinary one, and brings the conversation back.
    await whatsapp.send(p.text("Outra coisa: e a nota fiscal?", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    assert conversation.status == "open"
    assert conversation.automation["csat"]["comment"] == "Demorou um pouco, mas resolveram."


async def test_a_message_long_after_the_rating_is_no_comment(whatsapp, owner_of):
    _turn_on(whatsapp, owner_of)
    await whatsapp.send(p.text("oi", sender=ANA))
    await whatsapp.drain()
    _resolved(whatsapp, owner_of)
    await whatsapp.drain()
    await whatsapp.send(p.list_reply("csat:5", "⭐⭐⭐⭐⭐ Excelente", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    late = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    with db.session(write=True) as s:
        row = s.get(Conversation, conversation.id)
        row.automation = {
            **row.automation,
            "csat": {**row.automation["csat"], "comment_until": late},
        }
    await whatsapp.send(p.text("Preciso de outra coisa", sender=ANA))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    assert conversation.status == "open" and "comment" not in conversation.automation["csat"]


def test_ratings_spread_over_the_buttons_best_first():
    assert csat.spread(1) == []
    assert csat.spread(2) == [5, 1]
    assert csat.spread(4) == [5, 4, 2, 1]
    assert csat.spread(5) == [5, 4, 3, 2, 1]
    assert csat.spread(7) == [5, 4, 3, 2, 1]
