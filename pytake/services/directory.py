"""Read models for the shell's pages, always scoped to the caller's organization."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.sessions import Identity
from pytake.db import contains
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Membership,
    Message,
    Organization,
    Role,
    User,
    utcnow,
)

PAGE_SIZE = 50


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def contacts(db: Session, identity: Identity, *, search: str = "") -> list[dict]:
    query = (
        select(Contact)
        .where(Contact.organization_id == identity.organization_id)
        .order_by(Contact.created_at.desc(), Contact.id.desc())
        .limit(PAGE_SIZE)
    )
    term = search.strip()[:100]
    if term:
        pattern = contains(term)
        query = query.where(
            sa.or_(
                Contact.name.ilike(pattern, escape="\\"),
                Contact.wa_id.ilike(pattern, escape="\\"),
                Contact.username.ilike(pattern, escape="\\"),
            )
        )
    return [
        {
            "id": contact.id,
            "name": contact.name or "",
            "number": contact.wa_id or "",
            "username": contact.username or "",
            "created_at": _iso(contact.created_at),
        }
        for contact in db.exec(query).all()
    ]


def dashboard(db: Session, identity: Identity) -> dict[str, int]:
    """Counts for the dashboard cards; agents see their own workload, others the org's."""
    org = identity.organization_id
    scope = Conversation.organization_id == org
    if not identity.at_least(Role.SUPERVISOR):
        scope = sa.and_(scope, Conversation.assignee_id == identity.user_id)
    by_status = dict(
        db.execute(
            sa.select(Conversation.status, sa.func.count())
            .where(scope)
            .group_by(Conversation.status)
        ).all()
    )
    unassigned = db.execute(
        sa.select(sa.func.count()).where(
            Conversation.organization_id == org,
            Conversation.assignee_id.is_(None),
            Conversation.status == ConversationStatus.OPEN,
        )
    ).scalar_one()
    start_of_day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    today = (
        sa.select(sa.func.count())
        .select_from(Message)
        .where(
            Message.organization_id == org,
            Message.created_at >= start_of_day,
            Message.direction != "sys",  # agents' actions are not messages
        )
    )
    if not identity.at_least(Role.SUPERVISOR):
        today = today.join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.assignee_id == identity.user_id
        )
    messages_today = db.execute(today).scalar_one()
    return {
        "open": by_status.get(ConversationStatus.OPEN, 0),
        "pending": by_status.get(ConversationStatus.PENDING, 0),
        "unassigned": unassigned,
        "messages_today": messages_today,
    }


def organization(db: Session, identity: Identity) -> dict:
    org = db.get(Organization, identity.organization_id)
    channels = db.execute(
        sa.select(sa.func.count()).where(Channel.organization_id == org.id)
    ).scalar_one()
    return {"name": org.name, "slug": org.slug, "channels": channels}


def members(db: Session, organization_id: int, *, me: int | None = None) -> list[dict]:
    """An organization's people; ``me`` marks the caller's own row (it has no actions)."""
    rows = db.exec(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.name, User.id)
    ).all()
    return [
        {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "role": membership.role,
            "active": user.is_active,
            "capacity": str(membership.max_concurrent or ""),
            "is_me": user.id == me,
            "last_login": _iso(user.last_login_at),
        }
        for user, membership in rows
    ]
