"""Quick replies: kept by supervisors, scoped to the organization or a team, found by
shortcut and filled in for the conversation's customer."""

import pytest
from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Contact, Conversation, Role, Team, TeamMember
from pytake.services import quick_replies
from tests.integration.conftest import who


def save(identity, **fields):
    with db.session(write=True) as s:
        return quick_replies.save(s, identity, **fields).id


def shortcuts(identity, search="") -> list[str]:
    with db.session() as s:
        return [r["shortcut"] for r in quick_replies.listing(s, identity, search)]


@pytest.fixture
def support(world) -> int:
    with db.session(write=True) as s:
        team = Team(organization_id=world["acme"], name="Support", settings={})
        s.add(team)
        s.flush()
        s.add(TeamMember(team_id=team.id, user_id=world["bia"]))
        return team.id


def test_supervisors_keep_them_and_agents_see_their_teams_ones(world, support):
    boss = who(world, "ana", Role.SUPERVISOR)
    save(boss, shortcut="/Hello", body="Olá {{contact.first_name}}, aqui é {{agent.name}}!")
    save(boss, shortcut="refund", body="Reembolso em até 7 dias.", team_id=support)
    save(boss, shortcut="hours", body="Atendemos das 8h às 18h.")
    ana, bia = who(world, "ana", Role.AGENT), who(world, "bia", Role.AGENT)
    assert shortcuts(ana) == ["hello", "hours"]  # not in Support
    assert shortcuts(bia) == ["hello", "hours", "refund"]
    assert shortcuts(bia, "h") == ["hello", "hours"]  # shortcut prefix first
    assert shortcuts(bia, "7 dias") == ["refund"]  # or the text
    assert shortcuts(bia, "%") == []  # wildcards are literal
    with pytest.raises(AccessError):
        save(ana, shortcut="mine", body="x")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"shortcut": "", "body": "x"}, "quick_reply.bad_shortcut"),
        ({"shortcut": "two words", "body": "x"}, "quick_reply.bad_shortcut"),
        ({"shortcut": "x" * 41, "body": "x"}, "quick_reply.bad_shortcut"),
        ({"shortcut": "ok", "body": "  "}, "quick_reply.bad_body"),
        ({"shortcut": "ok", "body": "x" * 4097}, "quick_reply.bad_body"),
        ({"shortcut": "ok", "body": "x", "team_id": 10**6}, "conversation.team_invalid"),
        ({"shortcut": "ok", "body": "x", "team_id": "1"}, "conversation.team_invalid"),
        ({"shortcut": "taken", "body": "x"}, "quick_reply.shortcut_taken"),
    ],
)
def test_bad_quick_replies_are_refused(world, fields, code):
    boss = who(world, "ana", Role.SUPERVISOR)
    save(boss, shortcut="taken", body="first")
    with pytest.raises(AccessError) as refused:
        save(boss, **fields)
    assert refused.value.code == code


def test_editing_deleting_and_another_organizations_ids(world):
    boss = who(world, "ana", Role.SUPERVISOR)
    reply = save(boss, shortcut="hi", body="Oi")
    save(boss, shortcut="hey", body="Oi!", reply_id=reply)
    assert shortcuts(boss) == ["hey"]
    theirs = save(
        Identity(world["ana"], world["other"], Role.OWNER, "s", "X", "x@o.co", None),
        shortcut="theirs",
        body="x",
    )
    for bad in (theirs, "1", None, True):
        with db.session(write=True) as s, pytest.raises(AccessError):
            quick_replies.delete(s, boss, bad)
        if bad is not None:  # None means "a new one"
            with pytest.raises(AccessError):
                save(boss, shortcut="x", body="y", reply_id=bad)
    with db.session(write=True) as s:
        quick_replies.delete(s, boss, reply)
    assert shortcuts(boss) == []


def test_filled_for_the_customer_and_the_agent(world):
    boss = who(world, "ana", Role.SUPERVISOR)
    reply = save(
        boss,
        shortcut="hello",
        body="Olá {{contact.first_name}} ({{contact.plan}}), sou {{ agent.first_name }}. "
        "{{contact.unknown}}",
    )
    with db.session(write=True) as s:
        conversation, contact = s.exec(
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(
                Conversation.organization_id == world["acme"], Conversation.assignee_id.is_(None)
            )
        ).first()
        contact.attributes = {"Plan": "gold"}
        conversation_id = conversation.id
    with db.session() as s:
        text = quick_replies.filled(s, boss, conversation_id, reply)
    assert text == "Olá acme (gold), sou ana."
