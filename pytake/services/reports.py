"""Reports over a period: volumes, response and resolution times, agents, busiest hours and
template failures, each computed by the database (aggregates only; no message is loaded).

Percentiles are nearest-rank, picked with window functions, so PostgreSQL and SQLite give
the same answer. First response time: from a conversation's first customer message to the
first message an agent sent after it (automatic messages do not count). In business hours,
each conversation's own durations (``services.timing``) are aggregated instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from pytake import phones
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import (
    Contact,
    Conversation,
    Membership,
    Message,
    Organization,
    Role,
    User,
)
from pytake.services import csat, organization
from pytake.services.conversations import Narrowing

MAX_DAYS = 366


@dataclasses.dataclass(frozen=True)
class Period:
    """Whole days in the organization's time zone, ``first`` to ``last`` inclusive."""

    first: dt.date
    last: dt.date

    def bounds(self, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(self.first, dt.time(), zone)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), zone)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


Filters = Narrowing
EVERYTHING = Filters()


def check(identity: Identity, period: Period) -> None:
    identity.require(Role.SUPERVISOR)
    if period.last < period.first or (period.last - period.first).days >= MAX_DAYS:
        raise AccessError("reports.bad_period", max=MAX_DAYS)


def _zone(s: Session, identity: Identity) -> ZoneInfo:
    org = s.get(Organization, identity.organization_id)
    return ZoneInfo(organization.settings_of(org)["timezone"])


def _conversations(identity: Identity, filters: Filters) -> list[sa.ColumnElement[bool]]:
    return [Conversation.organization_id == identity.organization_id, *filters.conditions()]


def _seconds(s: Session, later, earlier) -> sa.ColumnElement:
    if s.get_bind().dialect.name == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _percentiles(s: Session, durations: sa.Subquery) -> dict[str, float | int | None]:
    """Nearest-rank median and p90 of the ``seconds`` column, and how many there were, in one
    query: the database ranks the values and returns only the wanted rows (the rank of
    percentile p of n is ceil(p * n), in integers (n + 1) / 2 and (9n + 9) / 10)."""
    ranked = sa.select(
        durations.c.seconds,
        sa.func.row_number().over(order_by=durations.c.seconds).label("rank"),
        sa.func.count().over().label("total"),
    ).subquery()
    median_rank = (ranked.c.total + 1) // 2
    p90_rank = (ranked.c.total * 9 + 9) // 10
    rows = s.execute(
        sa.select(ranked.c.rank, ranked.c.seconds, ranked.c.total).where(
            sa.or_(ranked.c.rank == median_rank, ranked.c.rank == p90_rank)
        )
    ).all()
    if not rows:
        return {"median": None, "p90": None, "count": 0}
    total = rows[0].total
    at = {rank: float(round(seconds)) for rank, seconds, _ in rows}  # SQLite: julianday noise
    return {
        "median": at.get((total + 1) // 2),
        "p90": at.get((9 * total + 9) // 10),
        "count": total,
    }


def summary(
    s: Session,
    identity: Identity,
    period: Period,
    filters: Filters = EVERYTHING,
    *,
    business: bool = False,
) -> dict:
    """``business``: response and resolution times count only the hours of each
    conversation's team or number (kept on the conversation as they happen)."""
    check(identity, period)
    start, end = period.bounds(_zone(s, identity))
    scope = _conversations(identity, filters)
    opened = s.execute(
        sa.select(sa.func.count()).where(
            *scope, Conversation.created_at >= start, Conversation.created_at < end
        )
    ).scalar_one()
    resolved = s.execute(
        sa.select(sa.func.count()).where(
            *scope, Conversation.resolved_at >= start, Conversation.resolved_at < end
        )
    ).scalar_one()
    directions = dict(
        s.execute(
            sa.select(Message.direction, sa.func.count())
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(*scope, Message.created_at >= start, Message.created_at < end)
            .group_by(Message.direction)
        ).all()
    )
    score = csat.rating_score()
    average, rated = s.execute(
        sa.select(sa.func.avg(score), sa.func.count(score)).where(
            *scope, Conversation.resolved_at >= start, Conversation.resolved_at < end
        )
    ).one()
    return {
        "csat": {"average": float(average) if average is not None else None, "count": rated},
        "opened": opened,
        "resolved": resolved,
        "messages_in": directions.get("in", 0),
        "messages_out": directions.get("out", 0),
        "first_response": _percentiles(
            s,
            _kept(Conversation.business_first_response, scope, Conversation.created_at, start, end)
            if business
            else _first_responses(s, scope, start, end),
        ),
        "resolution": _percentiles(
            s,
            _kept(Conversation.business_resolution, scope, Conversation.resolved_at, start, end)
            if business
            else _resolutions(s, scope, start, end),
        ),
    }


def _first_responses(s: Session, scope, start, end) -> sa.Subquery:
    """Per conversation opened in the period and answered: seconds to the first reply. Two
    grouped joins over the period's messages (no per-conversation subquery)."""
    asked = (
        sa.select(Message.conversation_id, sa.func.min(Message.created_at).label("at"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            *scope,
            Conversation.created_at >= start,
            Conversation.created_at < end,
            Message.direction == "in",
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    answered = (
        sa.select(asked.c.at.label("asked"), sa.func.min(Message.created_at).label("answered"))
        .join(Message, Message.conversation_id == asked.c.conversation_id)
        .where(
            Message.direction == "out",
            Message.sender_user_id.is_not(None),
            Message.created_at >= asked.c.at,
        )
        .group_by(asked.c.conversation_id, asked.c.at)
        .subquery()
    )
    return sa.select(_seconds(s, answered.c.answered, answered.c.asked).label("seconds")).subquery()


def _kept(column, scope, when, start, end) -> sa.Subquery:
    """Durations the conversations keep (services.timing), for those ``when`` in the period."""
    return (
        sa.select(column.label("seconds"))
        .where(*scope, when >= start, when < end, column.is_not(None))
        .subquery()
    )


def _resolutions(s: Session, scope, start, end) -> sa.Subquery:
    return (
        sa.select(_seconds(s, Conversation.resolved_at, Conversation.created_at).label("seconds"))
        .where(*scope, Conversation.resolved_at >= start, Conversation.resolved_at < end)
        .subquery()
    )


def agents(
    s: Session, identity: Identity, period: Period, filters: Filters = EVERYTHING
) -> list[dict]:
    """Per member: conversations resolved in the period (as their assignee), messages they
    sent, and their open conversations now."""
    check(identity, period)
    start, end = period.bounds(_zone(s, identity))
    scope = _conversations(identity, filters)
    resolved = (
        sa.select(sa.func.count())
        .where(
            *scope,
            Conversation.assignee_id == User.id,
            Conversation.resolved_at >= start,
            Conversation.resolved_at < end,
        )
        .scalar_subquery()
    )
    sent = (
        sa.select(sa.func.count())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            *scope,
            Message.sender_user_id == User.id,
            Message.created_at >= start,
            Message.created_at < end,
        )
        .scalar_subquery()
    )
    open_now = (
        sa.select(sa.func.count())
        .where(*scope, Conversation.assignee_id == User.id, Conversation.status == "open")
        .scalar_subquery()
    )
    rows = s.execute(
        sa.select(User.id, User.name, resolved, sent, open_now)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == identity.organization_id)
        .order_by(User.name)
    )
    return [
        {"id": i, "name": name, "resolved": r, "messages": m, "open": o}
        for i, name, r, m, o in rows
    ]


def busiest_hours(
    s: Session, identity: Identity, period: Period, filters: Filters = EVERYTHING
) -> list[list[int]]:
    """Customers' messages by weekday (Monday first) and hour, in the organization's time
    zone: the database counts per UTC hour, each hour is then placed in local time."""
    check(identity, period)
    zone = _zone(s, identity)
    start, end = period.bounds(zone)
    hour = _utc_hour(s, Message.created_at)
    rows = s.execute(
        sa.select(hour, sa.func.count())
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            *_conversations(identity, filters),
            Message.direction == "in",
            Message.created_at >= start,
            Message.created_at < end,
        )
        .group_by(hour)
    ).all()
    grid = [[0] * 24 for _ in range(7)]
    for stamp, count in rows:
        local = dt.datetime.strptime(str(stamp)[:13], "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        local = local.astimezone(zone)
        grid[local.weekday()][local.hour] += count
    return grid


def _utc_hour(s: Session, column) -> sa.ColumnElement:
    """The UTC hour a timestamp falls in, as text 'YYYY-MM-DD HH'."""
    if s.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return sa.func.strftime("%Y-%m-%d %H", column)


def template_sends(
    s: Session, identity: Identity, period: Period, filters: Filters = EVERYTHING
) -> list[dict]:
    """Templates sent in the period: per template, how many were sent and how many failed,
    and the failures by Meta's error code."""
    check(identity, period)
    start, end = period.bounds(_zone(s, identity))
    name = Message.content["name"].as_string()
    code = Message.error[("errors", 0, "code")].as_string()
    failed = Message.status == "failed"
    rows = s.execute(
        sa.select(name, code, sa.func.count(), sa.func.sum(sa.case((failed, 1), else_=0)))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            *_conversations(identity, filters),
            Message.type == "template",
            Message.direction == "out",
            Message.created_at >= start,
            Message.created_at < end,
        )
        .group_by(name, code)
    ).all()
    by_template: dict[str, dict] = {}
    for template, error, count, failures in rows:
        entry = by_template.setdefault(
            template or "", {"template": template or "", "sent": 0, "failed": 0, "errors": {}}
        )
        entry["sent"] += count
        entry["failed"] += failures or 0
        if failures and error:
            entry["errors"][str(error)] = entry["errors"].get(str(error), 0) + failures
    return sorted(by_template.values(), key=lambda e: (-e["sent"], e["template"]))


def comments(
    s: Session, identity: Identity, period: Period, filters: Filters = EVERYTHING, limit: int = 50
) -> list[dict]:
    """What customers wrote after rating, newest first, for the conversations resolved in
    the period."""
    check(identity, period)
    start, end = period.bounds(_zone(s, identity))
    comment = Conversation.automation[("csat", "comment")].as_string()
    rows = s.execute(
        sa.select(Conversation.id, Contact.name, Contact.wa_id, csat.rating_score(), comment)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(
            *_conversations(identity, filters),
            Conversation.resolved_at >= start,
            Conversation.resolved_at < end,
            comment.is_not(None),
        )
        .order_by(Conversation.resolved_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "conversation": key,
            "customer": name or phones.for_people(wa_id or ""),
            "score": score,
            "comment": text,
        }
        for key, name, wa_id, score, text in rows
    ]
