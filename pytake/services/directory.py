"""Read models for the shell's pages, always scoped to the caller's organization."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake import phones
from pytake.auth.sessions import Identity
from pytake.db import contains
from pytake.models import (
    Channel,
    Contact,
    Membership,
    Organization,
    User,
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
            "number": phones.for_people(contact.wa_id or ""),
            "username": contact.username or "",
            "created_at": _iso(contact.created_at),
        }
        for contact in db.exec(query).all()
    ]


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
            "active": membership.is_active,
            "capacity": str(membership.max_concurrent or ""),
            "is_me": user.id == me,
            "last_login": _iso(user.last_login_at),
        }
        for user, membership in rows
    ]
