"""Assigning, resolving, reopening, snoozing: checked on the server and kept in history."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Conversation, Message, Organization, Role, User, utcnow
from pytake.sandbox import payloads as p
from pytake.services import accounts, actions, directory, thread

from .conftest import ANA, rows
from .test_outbound import open_conversation

PASSWORD = "correct horse 1"


def _member(whatsapp, email: str, role: Role = Role.AGENT, *, org_id: int | None = None):
    with db.session() as s:
        user = accounts.add_user(
            s,
            organization_id=org_id or whatsapp.organization_id,
            email=email,
            name=email.split("@")[0].title(),
            password=PASSWORD,
            role=role,
        )
    return Identity(user.id, org_id or whatsapp.organization_id, role, "s", user.name, email, None)


@pytest.fixture
def owner(whatsapp) -> Identity:
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "o@acme.test")).one()
    return Identity(user.id, whatsapp.organization_id, Role.OWNER, "s", "Owner", user.email, None)


def act(action, identity, *args, **kwargs):
    with db.session(write=True) as s:
        return action(s, identity, *args, **kwargs)


def history(conversation_id: int) -> list[dict]:
    return [m.content for m in rows(Message, Message.conversation_id == conversation_id)]


async def test_take_assign_and_return_leave_history(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    ana = _member(whatsapp, "ana@acme.test")
    assert act(actions.assign, ana, conversation, ana.user_id) == (
        owner.organization_id,
        conversation,
    )
    act(actions.assign, ana, conversation, owner.user_id)  # transfer what she holds
    act(actions.assign, owner, conversation, None)
    assert [(h["kind"], h.get("target")) for h in history(conversation)] == [
        ("took", None),
        ("assigned", "Owner"),
        ("unassigned", None),
    ]
    with db.session() as s:
        page, _ = thread.page(s, owner, conversation, "pt-BR")
    assert [b["text"] for b in page] == [
        "Ana assumiu esta conversa",
        "Ana atribuiu esta conversa a Owner",
        "Owner devolveu esta conversa para a fila",
    ]
    with db.session() as s:
        (row,) = directory.conversations(s, owner)
    assert row["preview"] == ""  # agents' actions are not the customer's last message


async def test_agents_cannot_touch_what_they_cannot_see_nor_give_it_to_strangers(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    ana = _member(whatsapp, "ana@acme.test")
    bia = _member(whatsapp, "bia@acme.test")
    act(actions.assign, owner, conversation, bia.user_id)
    for action, args in (
        (actions.assign, (ana.user_id,)),
        (actions.set_status, ("resolved",)),
        (actions.mark_unread, ()),
    ):
        with pytest.raises(AccessError) as refused:
            act(action, ana, conversation, *args)
        assert refused.value.code == "conversation.not_found"
    with db.session() as s:
        other_org = Organization(name="Other", slug="other")
        s.add(other_org)
        s.flush()
    stranger = _member(whatsapp, "s@other.test", org_id=other_org.id)
    for target in (stranger.user_id, 10**9, "1", True):
        with pytest.raises(AccessError) as refused:
            act(actions.assign, owner, conversation, target)
        assert refused.value.code == "conversation.assignee_invalid"
    with db.session() as s:
        s.get(User, ana.user_id).is_active = False
    with pytest.raises(AccessError):
        act(actions.assign, owner, conversation, ana.user_id)
    assert rows(Conversation)[0].assignee_id == bia.user_id


async def test_resolve_reopen_and_the_one_open_conversation_rule(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    act(actions.set_status, owner, conversation, "resolved")
    assert rows(Conversation)[0].resolved_at is not None
    with db.session() as s:
        accounts.set_reopen_hours(s, owner.organization_id, 0)  # a new message, a new one
    await whatsapp.send(p.text("again", sender=ANA))
    await whatsapp.drain()
    assert len(rows(Conversation)) == 2
    with pytest.raises(AccessError) as refused:
        act(actions.set_status, owner, conversation, "open")
    assert refused.value.code == "conversation.newer_open"
    for status in ("closed", None, 3):
        with pytest.raises(AccessError):
            act(actions.set_status, owner, conversation, status)


async def test_snooze_wakes_up_when_its_time_comes(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    for until in (utcnow() - dt.timedelta(minutes=1), utcnow() + dt.timedelta(days=400), None):
        with pytest.raises(AccessError) as refused:
            act(actions.set_status, owner, conversation, "snoozed", snooze_until=until)
        assert refused.value.code == "conversation.snooze_invalid"
    act(
        actions.set_status,
        owner,
        conversation,
        "snoozed",
        snooze_until=utcnow() + dt.timedelta(hours=1),
    )
    with db.session(write=True) as s:
        assert actions.wake_snoozed(s) == []
        s.get(Conversation, conversation).snoozed_until = utcnow() - dt.timedelta(seconds=1)
    with db.session(write=True) as s:
        assert actions.wake_snoozed(s) == [(owner.organization_id, conversation)]
    assert rows(Conversation)[0].status == "open"


async def test_mark_unread_brings_the_badge_back(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    act(actions.mark_unread, owner, conversation)
    assert rows(Conversation)[0].unread_count == 1
    with db.session() as s:
        assert [m["name"] for m in actions.members(s, owner)] == ["Owner"]
