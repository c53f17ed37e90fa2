"""The shell's read models: scoped to the caller's organization and, for agents, to their work."""

import datetime as dt

import pytest

from pytake import db
from pytake.auth.sessions import Identity
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    Message,
    MessageTemplate,
    Organization,
    Role,
    User,
    utcnow,
)
from pytake.services import directory


@pytest.fixture
def world():
    """Two organizations; in the first, conversations of two agents and one unassigned."""
    now = utcnow()
    with db.session() as s:
        acme, other = Organization(name="Acme", slug="acme"), Organization(name="Other", slug="o")
        ana, bia = User(email="ana@a.co", name="Ana"), User(email="bia@a.co", name="Bia")
        s.add_all([acme, other, ana, bia])
        s.flush()
        ids = {"acme": acme.id, "other": other.id, "ana": ana.id, "bia": bia.id}
        for org_id, label in ((acme.id, "acme"), (other.id, "other")):
            channel = Channel(
                organization_id=org_id,
                kind="whatsapp",
                name=f"{label} main",
                external_id=f"pn-{label}",
            )
            s.add(channel)
            s.flush()
            for n, assignee in enumerate((ana.id, bia.id, None)):
                contact = Contact(
                    organization_id=org_id,
                    wa_id=f"55119{org_id}{n:04d}",
                    name=f"{label} customer {n}",
                )
                s.add(contact)
                s.flush()
                conversation = Conversation(
                    organization_id=org_id,
                    channel_id=channel.id,
                    contact_id=contact.id,
                    assignee_id=assignee if org_id == acme.id else None,
                    last_activity_at=now - dt.timedelta(minutes=n),
                    window_expires_at=now + dt.timedelta(hours=1 - n),
                )
                s.add(conversation)
                s.flush()
                s.add(
                    Message(
                        organization_id=org_id,
                        conversation_id=conversation.id,
                        channel_id=channel.id,
                        direction="in",
                        type="text",
                        content={"body": "oi"},
                        external_id=f"wamid.{label}{n}",
                    )
                )
        s.add(
            MessageTemplate(
                organization_id=other.id,
                account_id="waba",
                name="hidden",
                language="en_US",
                category="UTILITY",
                status="APPROVED",
            )
        )
    return ids


def who(ids, user: str, role: Role) -> Identity:
    return Identity(ids[user], ids["acme"], role, "sid", user, f"{user}@a.co", None)


def test_agent_sees_own_and_unassigned_only(world):
    with db.session() as s:
        rows = directory.conversations(s, who(world, "ana", Role.AGENT))
    assert [r["contact"] for r in rows] == ["acme customer 0", "acme customer 2"]
    assert rows[0]["window_open"] is True and rows[1]["window_open"] is False


def test_supervisor_sees_the_whole_organization_and_nothing_else(world):
    with db.session() as s:
        rows = directory.conversations(s, who(world, "ana", Role.SUPERVISOR))
        contacts = directory.contacts(s, who(world, "ana", Role.SUPERVISOR))
        templates = directory.templates(s, who(world, "ana", Role.OWNER))
    assert [r["contact"] for r in rows] == [f"acme customer {n}" for n in range(3)]
    assert {c["name"] for c in contacts} == {f"acme customer {n}" for n in range(3)}
    assert templates == []


def test_unknown_status_filter_is_ignored_not_injected(world):
    with db.session() as s:
        rows = directory.conversations(s, who(world, "ana", Role.ADMIN), status="' OR 1=1 --")
    assert len(rows) == 3


@pytest.mark.parametrize(("term", "count"), [("customer 1", 1), ("%", 0), ("_", 0), ("5511", 3)])
def test_contact_search_treats_wildcards_literally(world, term, count):
    with db.session() as s:
        assert len(directory.contacts(s, who(world, "ana", Role.AGENT), search=term)) == count


def test_dashboard_counts(world):
    with db.session() as s:
        agent = directory.dashboard(s, who(world, "bia", Role.AGENT))
        supervisor = directory.dashboard(s, who(world, "bia", Role.SUPERVISOR))
    assert agent == {"open": 1, "pending": 0, "unassigned": 1, "messages_today": 1}
    assert supervisor["open"] == 3 and supervisor["messages_today"] == 3


def test_members_are_the_organizations_own():
    with db.session() as s:
        org = Organization(name="Solo", slug="solo")
        s.add(org)
        s.flush()
        identity = Identity(1, org.id, Role.OWNER, "sid", "x", "x@x.co", None)
        assert directory.members(s, org.id, me=1) == []
        assert directory.organization(s, identity) == {
            "name": "Solo",
            "slug": "solo",
            "channels": 0,
        }
