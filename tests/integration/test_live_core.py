"""The live core's in-memory decisions agree with the database's: who sees a conversation,
in which view and count it falls, and a page kept by deltas is the page a reload reads."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlmodel import select

from pytake import db
from pytake.models import (
    Contact,
    Conversation,
    ConversationLabel,
    Label,
    Membership,
    Message,
    Note,
    Role,
    TeamMember,
    utcnow,
)
from pytake.realtime import changes
from pytake.realtime.signals import ConversationChanged
from pytake.services import actions, conversations, inbox, inbox_updates, labels, scope, teams
from tests.integration.conftest import who

RULES = ("all", "organization", "team", "own")


@pytest.fixture
def spread(world):
    """Conversations of every (assignee, team, status) combination in Acme; Ana in Sales."""
    now = utcnow()
    with db.session(write=True) as s:
        sales = teams.create(s, world["acme"], "Sales")
        support = teams.create(s, world["acme"], "Support")
        s.add(TeamMember(team_id=sales.id, user_id=world["ana"]))
        model = s.exec(
            select(Conversation).where(Conversation.organization_id == world["acme"])
        ).first()
        combos = itertools.product(
            (world["ana"], world["bia"], None),
            (sales.id, support.id, None),
            ("open", "pending", "snoozed", "resolved"),
        )
        for n, (assignee, team, status) in enumerate(combos):
            contact = Contact(organization_id=world["acme"], wa_id=f"5521988{n:06d}", name=f"c{n}")
            s.add(contact)
            s.flush()
            s.add(
                Conversation(
                    organization_id=world["acme"],
                    channel_id=model.channel_id,
                    contact_id=contact.id,
                    assignee_id=assignee,
                    team_id=team,
                    status=status,
                    unread_count=n % 2,
                    last_activity_at=now - dt.timedelta(minutes=10 + n),
                )
            )
    changes.forget()
    return world | {"sales": sales.id, "support": support.id}


def _identities(world):
    for user, role, rule in itertools.product(("ana", "bia"), Role, RULES):
        yield who(world, user, role, rule)


def _scope(identity) -> scope.Scope:
    with db.session() as s:
        found = scope.scope_of(s, identity)
    # The test's identity says the role and rule; the database holds one of each.
    return scope.Scope(
        identity.user_id, identity.organization_id, identity.role, identity.visibility, found.teams
    )


def test_the_rule_in_memory_is_the_rule_in_sql(spread):
    with db.session() as s:
        every = scope.facts_of(s, s.exec(select(Conversation.id)).all())
        for identity in _identities(spread):
            seen_by = _scope(identity)
            in_sql = set(s.exec(select(Conversation.id).where(conversations.visible_to(identity))))
            assert {i for i, f in every.items() if seen_by.sees(f)} == in_sql, identity
            for status in ("open", "pending", "resolved"):
                for view in inbox.VIEWS:
                    query = inbox.Query.of(view, status, {})
                    rows, _ = inbox.page(s, identity, query)
                    listed = {
                        i for i, f in every.items() if inbox_updates.matches(seen_by, query, f)
                    }
                    # A page holds at most PAGE_SIZE rows; these fit in one.
                    assert {row["id"] for row in rows} == listed, (identity, view, status)
            for status in ("open", "pending", "snoozed"):
                unresolved = scope.unresolved(s, spread["acme"]).values()
                assert inbox_updates.counted(seen_by, status, unresolved) == inbox.counts(
                    s, identity, status
                ), (identity, status)


def test_the_facts_read_with_the_rows_are_the_facts(spread):
    """The live core reads each change's facts along with its inbox row, in one statement:
    they must be what ``facts_of`` reads on its own, labels and notes included."""
    with db.session(write=True) as s:
        first, second, third = s.exec(select(Conversation).order_by(Conversation.id)).all()[:3]
        tags = [Label(organization_id=spread["acme"], name=n) for n in ("VIP", "Boleto")]
        s.add_all(tags)
        s.flush()
        s.add_all(ConversationLabel(conversation_id=first.id, label_id=t.id) for t in tags)
        s.add_all(
            Note(organization_id=spread["acme"], conversation_id=second.id, body=b)
            for b in ("um", "dois")
        )
        third.last_inbound_at = utcnow()
    with db.session() as s:
        ids = s.exec(select(Conversation.id)).all()
        alone = scope.facts_of(s, ids)
        along = {i: scope.facts_from(row) for i, row in inbox.listed(s, ids).items()}
    assert along == alone
    assert alone[first.id].label_ids and alone[second.id].last_note
    assert alone[third.id].customer_wrote


def test_scope_is_read_fresh_from_the_membership_and_the_organization(spread):
    identity = who(spread, "ana", Role.AGENT, "all")  # what a cached identity might still say
    with db.session(write=True) as s:
        membership = s.exec(select(Membership).where(Membership.user_id == spread["ana"])).one()
        membership.role = "supervisor"
    with db.session() as s:
        found = scope.scope_of(s, identity)
    assert found.role is Role.SUPERVISOR
    assert found.visibility == "organization"  # the organization's rule, not the identity's
    assert found.teams == {spread["sales"]}


async def _step(page, seen_by, org, *conversation_ids, seq=[0]):  # noqa: B006
    seq[0] += 1
    signals = [ConversationChanged(org, c, seq[0]) for c in conversation_ids]
    for update in await changes.build(signals):
        inbox_updates.apply(page, seen_by, "en", update.change)


def _read(identity, query):
    with db.session() as s:
        rows, following = inbox.page(s, identity, query, language="en")
        return rows, following, inbox.counts(s, identity, query.status)


@pytest.mark.parametrize(
    ("user", "role", "rule", "view"),
    [
        ("ana", Role.AGENT, "organization", "all"),
        ("ana", Role.AGENT, "own", "mine"),
        ("bia", Role.AGENT, "team", "unassigned"),
        ("ana", Role.SUPERVISOR, "organization", "team"),
    ],
)
async def test_a_page_kept_by_deltas_is_the_page_a_reload_reads(spread, user, role, rule, view):
    identity = who(spread, user, role, rule)
    actor = who(spread, "ana", Role.ADMIN)
    seen_by = _scope(identity)
    query = inbox.Query.of(view, "open", {})
    await changes.warm(spread["acme"])
    rows, following, counts = _read(identity, query)
    page = inbox_updates.Page(query, rows, following is not None, True, counts)
    with db.session() as s:
        opened = s.exec(
            select(Conversation.id)
            .where(Conversation.organization_id == spread["acme"], Conversation.status == "open")
            .order_by(Conversation.id)
        ).all()
    org = spread["acme"]
    steps = [
        (actions.assign, opened[3], spread["bia"]),
        (actions.assign, opened[4], None),
        (actions.assign, opened[5], spread["ana"]),
        (actions.assign_team, opened[6], spread["sales"]),
        (actions.set_status, opened[7], "pending"),
        (actions.set_status, opened[0], "resolved"),
    ]
    for fn, conversation_id, value in steps:
        with db.session(write=True) as s:
            fn(s, actor, conversation_id, value)
        await _step(page, seen_by, org, conversation_id)
    # A customer writes: the conversation moves to the top with its new message.
    with db.session(write=True) as s:
        conversation = s.get(Conversation, opened[9])
        conversation.last_activity_at = utcnow()
        conversation.unread_count += 1
        s.add(
            Message(
                organization_id=org,
                conversation_id=conversation.id,
                channel_id=conversation.channel_id,
                direction="in",
                type="text",
                content={"body": "new from the customer 🙂"},
                external_id="wamid.live-1",
            )
        )
    await _step(page, seen_by, org, opened[9])
    with db.session(write=True) as s:
        label = labels.create(s, actor, "vip", "amber")
        actions.set_labels(s, actor, opened[9], [label.id])
    await _step(page, seen_by, org, opened[9])
    rows, following, counts = _read(identity, query)
    assert page.rows == rows
    assert page.counts == counts
    assert page.has_next == (following is not None)


async def test_a_signal_naming_another_organizations_conversation_shows_nothing(spread):
    await changes.warm(spread["acme"])
    with db.session() as s:
        theirs = s.exec(
            select(Conversation.id).where(Conversation.organization_id == spread["other"])
        ).first()
    assert await changes.build([ConversationChanged(spread["acme"], theirs, 1)]) == []
    # And an organization with no tab open on this worker costs no read at all.
    assert await changes.build([ConversationChanged(spread["other"], theirs, 2)]) == []
