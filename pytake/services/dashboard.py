"""The live dashboard: what is happening now, counted in SQL.

Supervisors and up see their organization; agents see their own work (their conversations,
their waiting customers, their load), with the queue of unassigned conversations they could
take.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.sessions import Identity
from pytake.models import (
    Conversation,
    ConversationStatus,
    Membership,
    Message,
    Organization,
    Role,
    User,
)
from pytake.services import organization

HOURS = 24


@dataclasses.dataclass(frozen=True, slots=True)
class Board:
    """Which dashboard a member sees: the organization's (``member_id`` None, supervisors and
    up) or an agent's own work. Every tab showing the same board shows the same numbers, so
    a web worker works each board out once (``realtime.dashboards``)."""

    organization_id: int
    member_id: int | None

    @classmethod
    def of(cls, identity: Identity) -> Board:
        whole = identity.at_least(Role.SUPERVISOR)
        return cls(identity.organization_id, None if whole else identity.user_id)


@dataclasses.dataclass(frozen=True, slots=True)
class Load:
    """A member's open conversations against their capacity (0: no limit)."""

    id: int
    name: str
    online: bool
    open: int
    capacity: int


@dataclasses.dataclass(frozen=True, slots=True)
class Hour:
    hour: str  # "00" to "23", the organization's local time
    conversations: int


@dataclasses.dataclass(frozen=True, slots=True)
class Overview:
    open: int
    pending: int
    unassigned: int
    waiting: int  # open conversations whose customer wrote last
    longest_wait_seconds: int
    agents: tuple[Load, ...]
    hours: tuple[Hour, ...]


def _scope(board: Board) -> sa.ColumnElement[bool]:
    scope = Conversation.organization_id == board.organization_id
    if board.member_id is not None:
        scope = sa.and_(scope, Conversation.assignee_id == board.member_id)
    return scope


def _unanswered() -> sa.ColumnElement[bool]:
    """The customer wrote last: nothing went out since their latest message."""
    replied = sa.exists().where(
        Message.conversation_id == Conversation.id,
        Message.direction == "out",
        Message.created_at >= Conversation.last_inbound_at,
    )
    return sa.and_(Conversation.last_inbound_at.is_not(None), ~replied)


def overview(s: Session, board: Board, online: set[int], now: dt.datetime) -> Overview:
    """Counts, the longest wait, each member's load and today's new conversations per hour
    (in the organization's time zone)."""
    scope = _scope(board)
    by_status = dict(
        s.execute(
            sa.select(Conversation.status, sa.func.count())
            .where(scope)
            .group_by(Conversation.status)
        ).all()
    )
    open_ = Conversation.status == ConversationStatus.OPEN
    unassigned = s.execute(
        sa.select(sa.func.count()).where(
            Conversation.organization_id == board.organization_id,
            Conversation.assignee_id.is_(None),
            open_,
        )
    ).scalar_one()
    waiting, oldest = s.execute(
        sa.select(sa.func.count(), sa.func.min(Conversation.last_inbound_at)).where(
            scope, open_, _unanswered()
        )
    ).one()
    longest = int((now - _aware(oldest)).total_seconds()) if oldest is not None else 0
    return Overview(
        open=by_status.get(ConversationStatus.OPEN, 0),
        pending=by_status.get(ConversationStatus.PENDING, 0),
        unassigned=unassigned,
        waiting=waiting,
        longest_wait_seconds=max(longest, 0),
        agents=_load(s, board, online),
        hours=_per_hour(s, board, now),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _load(s: Session, board: Board, online: set[int]) -> tuple[Load, ...]:
    """Each active member's open conversations and capacity; online ones first."""
    assigned = (
        sa.select(sa.func.count())
        .where(
            Conversation.assignee_id == User.id,
            Conversation.organization_id == board.organization_id,
            Conversation.status == ConversationStatus.OPEN,
        )
        .scalar_subquery()
    )
    query = (
        sa.select(User.id, User.name, Membership.max_concurrent, assigned)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == board.organization_id, Membership.is_active)
    )
    if board.member_id is not None:
        query = query.where(User.id == board.member_id)
    rows = [
        Load(user_id, name, user_id in online, count, capacity or 0)
        for user_id, name, capacity, count in s.execute(query)
    ]
    return tuple(sorted(rows, key=lambda row: (not row.online, -row.open, row.name)))


def _per_hour(s: Session, board: Board, now: dt.datetime) -> tuple[Hour, ...]:
    """Conversations started in each hour of today, in one query of 24 sums."""
    org = s.get(Organization, board.organization_id)
    zone = ZoneInfo(organization.settings_of(org)["timezone"])
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    edges = [(midnight + dt.timedelta(hours=hour)).astimezone(dt.UTC) for hour in range(HOURS + 1)]
    buckets = [
        sa.func.sum(
            sa.case(
                (sa.and_(Conversation.created_at >= start, Conversation.created_at < end), 1),
                else_=0,
            )
        )
        for start, end in itertools.pairwise(edges)
    ]
    counts = s.execute(
        sa.select(*buckets).where(_scope(board), Conversation.created_at >= edges[0])
    ).one()
    return tuple(
        Hour(f"{hour:02d}", int(count or 0))
        for hour, count in enumerate(counts)
        if hour <= local.hour
    )
