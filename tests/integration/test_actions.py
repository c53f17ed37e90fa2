"""Assigning, resolving, reopening, snoozing: checked on the server and kept in history."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Conversation, Membership, Message, Note, Organization, Role, User, utcnow
from pytake.sandbox import payloads as p
from pytake.services import accounts, actions, inbox, organization, thread

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
        (row,) = inbox.page(s, owner, inbox.Query())[0]
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
        s.exec(select(Membership).where(Membership.user_id == ana.user_id)).one().is_active = False
    with pytest.raises(AccessError):
        act(actions.assign, owner, conversation, ana.user_id)
    assert rows(Conversation)[0].assignee_id == bia.user_id


async def test_resolve_reopen_and_the_one_open_conversation_rule(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    act(actions.set_status, owner, conversation, "resolved")
    assert rows(Conversation)[0].resolved_at is not None
    with db.session() as s:
        organization.update(s, owner.organization_id, {"reopen_hours": 0})  # a new one each time
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


async def test_notes_mention_teammates_and_sit_between_the_messages(whatsapp, owner):
    from .test_outbound import send

    conversation = open_conversation(whatsapp)
    ana = _member(whatsapp, "ana.maria@acme.test")
    _member(whatsapp, "ana@acme.test")
    send(owner, conversation, content={"body": "first"})
    act(actions.add_note, owner, conversation, "@ana.maria please check; cc @ANA")
    send(owner, conversation, content={"body": "second"})
    for bad in ("", "   ", "x" * (actions.MAX_NOTE + 1), None, {"body": "x"}):
        with pytest.raises(AccessError):
            act(actions.add_note, owner, conversation, bad)
    with db.session() as s:
        page, more = thread.page(s, owner, conversation, "en")
    assert [b["text"] for b in page] == [
        "first",
        "@ana.maria please check; cc @ANA",
        "second",
    ]
    note = page[1]
    assert note["note"] and note["id"] < 0 and note["sender"] == "Owner" and not more
    assert page[0]["sender"] == page[2]["sender"] == "Owner"  # who wrote the replies
    assert [(p["text"], p["mention"]) for p in note["segments"]] == [
        ("@ana.maria", True),
        (" please check; cc ", False),
        ("@ANA", True),
    ]
    (stored,) = rows(Note, Note.conversation_id == conversation)
    assert sorted(stored.mentions) == sorted([ana.user_id, ana.user_id + 1])


async def test_each_note_lands_on_exactly_one_page(whatsapp, owner, monkeypatch):
    from .test_outbound import send

    monkeypatch.setattr(thread, "PAGE", 2)
    conversation = open_conversation(whatsapp)
    act(actions.add_note, owner, conversation, "before anything")
    for n in range(5):
        send(owner, conversation, content={"body": f"m{n}"})
        act(actions.add_note, owner, conversation, f"after m{n}")
    shown, before = [], None
    while True:
        with db.session() as s:
            page, more = thread.page(s, owner, conversation, "en", before=before)
        shown = [b["text"] for b in page] + shown
        if not more:
            break
        before = next(b["id"] for b in page if b["id"] > 0)
    assert shown == ["before anything"] + [x for n in range(5) for x in (f"m{n}", f"after m{n}")]


async def test_contact_panel_edits_and_history_stay_within_what_the_agent_sees(whatsapp, owner):
    from pytake.services import contacts

    conversation = open_conversation(whatsapp)
    agent = _member(whatsapp, "bia@acme.test")
    act(contacts.rename, agent, conversation, "  Ana   Souza ")
    act(contacts.set_attribute, agent, conversation, "plan", "gold")
    act(contacts.set_attribute, agent, conversation, "city", " Recife ")
    act(contacts.set_attribute, agent, conversation, "plan", "")  # removes
    for key, value in (
        ("", "x"),
        ("profile_name", "x"),
        ("a" * 41, "x"),
        ("ok", 5),
        ("ok", "v" * 501),
    ):
        with pytest.raises(AccessError):
            act(contacts.set_attribute, agent, conversation, key, value)
    for bad in ("", None, "x" * 121):
        with pytest.raises(AccessError):
            act(contacts.rename, agent, conversation, bad)
    with db.session() as s:
        profile = contacts.profile(s, agent, conversation)
    assert profile["name"] == "Ana Souza" and profile["number"] == "+44 7700 900123"
    assert profile["attributes"] == [{"key": "city", "value": "Recife"}]
    assert [h["current"] for h in profile["history"]] == [True]
    act(actions.assign, owner, conversation, owner.user_id)  # now hidden from the agent
    with db.session() as s, pytest.raises(AccessError):
        contacts.profile(s, agent, conversation)
    with pytest.raises(AccessError):
        act(contacts.set_attribute, agent, conversation, "plan", "gold")
