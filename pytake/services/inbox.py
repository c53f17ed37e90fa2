"""The inbox list: one page of the conversations a view shows, in one query.

Pages are keyset-paginated on (last activity, id), so the hundredth page costs what the
first does and only the page on screen is ever held in memory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session

from pytake import phones
from pytake.auth.sessions import Identity
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Label,
    Message,
    Note,
    Team,
    User,
    utcnow,
)
from pytake.services import actions, labels, names, teams, thread
from pytake.services.conversations import my_teams, valid_id, visible_to

PAGE_SIZE = 40
VIEWS = ("mine", "unassigned", "team", "all")
FILTERS = ("channel", "team", "label", "assignee")
_UNIT, _RECORD = "\x1f", "\x1e"  # whitespace to str.split, so never in a label name


@dataclasses.dataclass(frozen=True)
class Query:
    """What the agent asked to see; every field is checked, whatever the client sent."""

    view: str = "all"
    status: str = ConversationStatus.OPEN.value
    filters: dict[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, view: object, status: object, filters: object) -> Query:
        return cls(
            view=view if view in VIEWS else "all",
            status=status if status in ConversationStatus.__members__.values() else "open",
            filters={
                key: value
                for key, value in (filters if isinstance(filters, dict) else {}).items()
                if key in FILTERS and valid_id(value)
            },
        )


Cursor = tuple[str, int]  # (last activity as ISO text, id)


def _in_view(identity: Identity, view: str) -> sa.ColumnElement[bool]:
    if view == "mine":
        return Conversation.assignee_id == identity.user_id
    if view == "unassigned":
        return Conversation.assignee_id.is_(None)
    if view == "team":
        return Conversation.team_id.in_(my_teams(identity))
    return sa.true()


def _filtered(identity: Identity, query: Query) -> list[sa.ColumnElement[bool]]:
    where = [visible_to(identity), _in_view(identity, query.view)]
    columns = {
        "channel": Conversation.channel_id,
        "team": Conversation.team_id,
        "assignee": Conversation.assignee_id,
    }
    for key, value in query.filters.items():
        if key == "label":
            where.append(
                sa.exists().where(
                    ConversationLabel.conversation_id == Conversation.id,
                    ConversationLabel.label_id == value,
                )
            )
        else:
            where.append(columns[key] == value)
    return where


def _after(cursor: Cursor) -> sa.ColumnElement[bool]:
    """Rows after the cursor in (last activity, id) descending order."""
    activity, row_id = cursor
    at = dt.datetime.fromisoformat(activity)
    return sa.or_(
        Conversation.last_activity_at < at,
        sa.and_(Conversation.last_activity_at == at, Conversation.id < row_id),
    )


@functools.cache
def _listing() -> sa.Select:
    """What every page selects and joins, built once: only the filters differ per call.

    Plain columns, not ORM objects: a page is read, drawn and thrown away, and loading
    whole rows (every JSON column decoded, each object tracked) cost more than the query.
    """
    last = (
        sa.select(sa.func.max(Message.id))
        .where(Message.conversation_id == Conversation.id, Message.direction != "sys")
        .where(Message.type != "reaction")
        .correlate(Conversation)
        .scalar_subquery()
    )
    tags = (
        sa.select(
            sa.func.aggregate_strings(
                Label.name + _UNIT + sa.func.coalesce(Label.color, ""), _RECORD
            )
        )
        .join(ConversationLabel, ConversationLabel.label_id == Label.id)
        .where(ConversationLabel.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    assignee = aliased(User)
    return (
        sa.select(
            Conversation.id,
            Conversation.status,
            Conversation.unread_count,
            Conversation.bot_run_id,
            Conversation.last_activity_at,
            Conversation.window_expires_at,
            Contact.name,
            Contact.username,
            Contact.wa_id,
            Channel.name.label("channel"),
            Message.type.label("kind"),
            Message.content,
            Message.direction,
            Message.status.label("delivery"),
            assignee.name.label("assignee"),
            Team.name.label("team"),
            tags.label("labels"),
        )
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .outerjoin(Message, Message.id == last)
        .outerjoin(assignee, assignee.id == Conversation.assignee_id)
        .outerjoin(Team, Team.id == Conversation.team_id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(PAGE_SIZE + 1)
    )


def page(
    db: Session,
    identity: Identity,
    query: Query,
    *,
    after: Cursor | None = None,
    language: str | None = None,
) -> tuple[list[dict], Cursor | None]:
    """A page of rows and the cursor of the next page (None on the last one)."""
    statement = _listing().where(Conversation.status == query.status, *_filtered(identity, query))
    if after is not None:
        statement = statement.where(_after(after))
    found = db.execute(statement).all()
    now = utcnow()
    rows = [_row(now, language, row) for row in found[:PAGE_SIZE]]
    following = None
    if len(found) > PAGE_SIZE:
        following = (rows[-1]["last_activity"], rows[-1]["id"])
    return rows, following


def listed(db: Session, conversation_ids: list[int]) -> dict[int, sa.Row]:
    """The conversations as a page selects them, whoever asks, with their facts
    (``scope.facts_from``): for the live core, which draws each row once per change and
    shows it only where the member's scope sees it. One round trip: it runs for every batch
    of changes, on a web worker whose other work makes each round trip slow."""
    if not conversation_ids:
        return {}
    statement = _listed().where(Conversation.id.in_(conversation_ids))
    return {row.id: row for row in db.execute(statement).all()}


@functools.cache
def _listed() -> sa.Select:
    label_ids = (
        sa.select(sa.func.aggregate_strings(sa.cast(ConversationLabel.label_id, sa.String), ","))
        .where(ConversationLabel.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    last_note = (
        sa.select(sa.func.max(Note.id))
        .where(Note.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    return (
        _listing()
        .limit(None)
        .add_columns(
            Conversation.organization_id,
            Conversation.assignee_id,
            Conversation.team_id,
            Conversation.channel_id,
            Conversation.last_inbound_at,
            label_ids.label("label_ids"),
            last_note.label("last_note"),
        )
    )


def drawn(row: sa.Row, language: str | None) -> dict:
    """A selected conversation as the inbox draws it (see ``listed``)."""
    return _row(utcnow(), language, row)


def _row(now: dt.datetime, language: str | None, row: sa.Row) -> dict:
    expires = row.window_expires_at
    return {
        "id": row.id,
        "contact": row.name or row.username or phones.for_people(row.wa_id or ""),
        "initials": names.initials(row.name or row.username or ""),
        "number": phones.for_people(row.wa_id) if row.wa_id else (row.username or ""),
        "channel": row.channel,
        "status": row.status,
        "unread": row.unread_count,
        "bot": row.bot_run_id is not None,
        "last_activity": _iso(row.last_activity_at),
        "window_open": bool(expires and expires > now),
        "window_expires_at": _iso(expires),
        "assignee": row.assignee or "",
        "team": row.team or "",
        "labels": _labels(row.labels),
        "preview": thread.preview(row.kind, row.content or {}, language) if row.kind else "",
        "preview_out": row.direction == "out",
        "preview_status": row.delivery or "",
    }


def _labels(packed: str | None) -> list[dict]:
    found = []
    for record in (packed or "").split(_RECORD):
        if record:
            name, _, color = record.partition(_UNIT)
            found.append({"name": name, "color": color if color in labels.COLORS else "gray"})
    return sorted(found, key=lambda label: label["name"].casefold())


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def counts(db: Session, identity: Identity, status: str) -> dict[str, int]:
    """How many conversations each view holds in this status, and how many open ones
    have unread messages (the tab title's count), in one query."""
    status = status if status in ConversationStatus.__members__.values() else "open"

    def count(*where) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*where), 1), else_=0)), 0)

    in_status = Conversation.status == status
    unread = sa.and_(Conversation.status == "open", Conversation.unread_count > 0)
    row = db.execute(
        sa.select(
            *[count(in_status, _in_view(identity, view)) for view in VIEWS], count(unread)
        ).where(visible_to(identity), sa.or_(in_status, unread))  # the status index narrows it
    ).one()
    return {**dict(zip(VIEWS, row[: len(VIEWS)], strict=True)), "unread": row[-1]}


def options(db: Session, identity: Identity) -> dict[str, list[dict]]:
    """What the filters offer: the organization's numbers, teams, labels and people."""
    org = identity.organization_id
    channels = db.execute(
        sa.select(Channel.id, Channel.name)
        .where(Channel.organization_id == org)
        .order_by(Channel.name)
    ).all()
    found = {
        "channel": [{"id": i, "name": n} for i, n in channels],
        "team": teams.listing(db, org),
        "label": labels.listing(db, org),
        "assignee": actions.members(db, identity),
    }
    # Select boxes take text values.
    return {
        key: [{"value": str(item["id"]), "name": item["name"]} for item in items]
        for key, items in found.items()
    }
