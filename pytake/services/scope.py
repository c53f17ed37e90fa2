"""Who sees a conversation, decided in memory: the visibility rule without a query.

The live core pushes each change to the tabs whose member may see it. Asking the database
once per tab per change is what made busy teams wait, so a web worker keeps, per member
watching, a ``Scope`` (role, teams, the organization's rule) and, per conversation, the
``Facts`` the rule and the inbox views read. ``Scope.sees`` is the same rule as
``conversations.visible_to``, which stays the one every read goes through; a test checks
the two agree on every combination.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.sessions import Identity
from pytake.models import (
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Membership,
    Note,
    Organization,
    Role,
)
from pytake.services.conversations import DEFAULT_VISIBILITY, my_teams


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """What decides who sees a conversation, and in which view and count it falls."""

    conversation_id: int
    organization_id: int
    status: str
    assignee_id: int | None
    team_id: int | None
    channel_id: int
    unread: bool  # unread messages: the tab title's count (open conversations only)
    label_ids: frozenset[int]
    last_activity: dt.datetime
    # For notices (``notices.may_concern``): whether the customer ever wrote, and the
    # newest private note (a new one may mention anyone).
    customer_wrote: bool = False
    last_note: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """A member as the visibility rule sees them."""

    user_id: int
    organization_id: int
    role: Role
    visibility: str
    teams: frozenset[int]

    def sees(self, facts: Facts | None) -> bool:
        if facts is None or facts.organization_id != self.organization_id:
            return False
        if self.role.at_least(Role.SUPERVISOR) or self.visibility == "all":
            return True
        mine = facts.assignee_id == self.user_id
        unassigned = facts.assignee_id is None
        teamless = facts.team_id is None
        in_my_teams = facts.team_id is not None and facts.team_id in self.teams
        if self.visibility == "own":
            return mine or (unassigned and (teamless or in_my_teams))
        if self.visibility == "team":
            return mine or in_my_teams or (unassigned and teamless)
        return mine or in_my_teams or unassigned

    def in_view(self, facts: Facts, view: str) -> bool:
        """The inbox's views (``inbox.VIEWS``), as ``inbox._in_view`` writes them in SQL."""
        if view == "mine":
            return facts.assignee_id == self.user_id
        if view == "unassigned":
            return facts.assignee_id is None
        if view == "team":
            return facts.team_id is not None and facts.team_id in self.teams
        return True


def scope_of(s: Session, identity: Identity) -> Scope:
    """Read fresh, not from the identity: a tab asks again when the organization says its
    roles, teams or rule changed, and the identity may be cached a few seconds longer."""
    role, settings = s.execute(
        sa.select(Membership.role, Organization.settings)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(
            Membership.user_id == identity.user_id,
            Membership.organization_id == identity.organization_id,
        )
    ).one_or_none() or (Role.AGENT.value, {})
    return Scope(
        user_id=identity.user_id,
        organization_id=identity.organization_id,
        role=Role(role),
        visibility=(settings or {}).get("visibility") or DEFAULT_VISIBILITY,
        teams=frozenset(s.execute(my_teams(identity)).scalars()),
    )


def naive(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive UTC, PostgreSQL aware: one form to compare."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


_COLUMNS = (
    Conversation.id,
    Conversation.organization_id,
    Conversation.status,
    Conversation.assignee_id,
    Conversation.team_id,
    Conversation.channel_id,
    Conversation.unread_count,
    Conversation.last_activity_at,
    Conversation.last_inbound_at,
)


def _facts(s: Session, where: sa.ColumnElement[bool]) -> dict[int, Facts]:
    rows = s.execute(sa.select(*_COLUMNS).where(where)).all()
    labels: dict[int, set[int]] = {row.id: set() for row in rows}
    notes: dict[int, int] = {}
    if rows:
        tagged = s.execute(
            sa.select(ConversationLabel.conversation_id, ConversationLabel.label_id)
            .join(Conversation, Conversation.id == ConversationLabel.conversation_id)
            .where(where)
        ).all()
        for conversation_id, label_id in tagged:
            labels[conversation_id].add(label_id)
        notes = dict(
            s.execute(
                sa.select(Note.conversation_id, sa.func.max(Note.id))
                .join(Conversation, Conversation.id == Note.conversation_id)
                .where(where)
                .group_by(Note.conversation_id)
            ).all()
        )
    return {row.id: _made(row, labels[row.id], notes.get(row.id)) for row in rows}


def facts_from(row: sa.Row) -> Facts:
    """The facts of a row that selected them along (``inbox.listed``): its labels' ids
    joined by commas, its newest note's id."""
    labels = {int(i) for i in (row.label_ids or "").split(",") if i}
    return _made(row, labels, row.last_note)


def _made(row: sa.Row, labels: Iterable[int], last_note: int | None) -> Facts:
    return Facts(
        conversation_id=row.id,
        organization_id=row.organization_id,
        status=row.status,
        assignee_id=row.assignee_id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        unread=row.unread_count > 0,
        label_ids=frozenset(labels),
        last_activity=row.last_activity_at,
        customer_wrote=row.last_inbound_at is not None,
        last_note=last_note or 0,
    )


def facts_of(s: Session, conversation_ids: Iterable[int]) -> dict[int, Facts]:
    """The conversations' facts now; a conversation that no longer exists is missing."""
    ids = sorted(set(conversation_ids))
    return _facts(s, Conversation.id.in_(ids)) if ids else {}


def unresolved(s: Session, organization_id: int) -> dict[int, Facts]:
    """Every conversation of the organization not resolved: what the inbox's counts of
    open, pending and snoozed conversations are made of (resolved ones pile up for years and
    are counted by the database instead)."""
    return _facts(
        s,
        sa.and_(
            Conversation.organization_id == organization_id,
            Conversation.status != ConversationStatus.RESOLVED.value,
        ),
    )
