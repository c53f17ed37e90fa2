"""The audit trail of sign-ins and administrative changes."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import AuditLog, Role, User
from pytake.services.conversations import valid_id


def record(
    db: Session,
    action: str,
    *,
    organization_id: int | None = None,
    actor_user_id: int | None = None,
    subject: str | None = None,
    ip: str | None = None,
    **details: object,
) -> None:
    db.add(
        AuditLog(
            action=action,
            organization_id=organization_id,
            actor_user_id=actor_user_id,
            subject=subject[:254] if subject else None,
            ip=ip[:64] if ip else None,
            details=details,
        )
    )


PAGE = 50


def _day(value: object) -> dt.date | None:
    """A date from the filter form (YYYY-MM-DD); anything else is no filter."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise AccessError("audit.bad_date") from None


def listing(s: Session, identity: Identity, filters: dict, *, before_id: object = None) -> dict:
    """Admins read their organization's trail, newest first, a page at a time (keyset on id).

    Filters: ``action`` (exact or a prefix ending in "."), ``actor`` (user id), ``since`` and
    ``until`` (days, inclusive, in UTC).
    """
    identity.require(Role.ADMIN)
    filters = filters if isinstance(filters, dict) else {}
    query = (
        sa.select(AuditLog, User.name, User.email)
        .outerjoin(User, User.id == AuditLog.actor_user_id)
        .where(AuditLog.organization_id == identity.organization_id)
        .order_by(AuditLog.id.desc())
        .limit(PAGE + 1)
    )
    action = filters.get("action")
    if isinstance(action, str) and action:
        if action.endswith("."):
            query = query.where(AuditLog.action.startswith(action[:60], autoescape=True))
        else:
            query = query.where(AuditLog.action == action[:60])
    actor = filters.get("actor")
    if isinstance(actor, str) and actor.isdigit():
        actor = int(actor)
    if valid_id(actor):
        query = query.where(AuditLog.actor_user_id == actor)
    if since := _day(filters.get("since")):
        query = query.where(AuditLog.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until := _day(filters.get("until")):
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(AuditLog.created_at < end)
    if valid_id(before_id):
        query = query.where(AuditLog.id < before_id)
    rows = s.execute(query).all()
    return {
        "rows": [
            {
                "id": entry.id,
                "at": entry.created_at.isoformat(),
                "action": entry.action,
                "actor": name or "",
                "actor_email": email or "",
                "subject": entry.subject or "",
                "ip": entry.ip or "",
                "details": json.dumps(entry.details or {}, ensure_ascii=False, default=str)[:500],
            }
            for entry, name, email in rows[:PAGE]
        ],
        "more": len(rows) > PAGE,
    }


def action_names(s: Session, identity: Identity) -> list[str]:
    """The actions this organization's trail holds, for the filter."""
    identity.require(Role.ADMIN)
    return list(
        s.scalars(
            sa.select(AuditLog.action)
            .where(AuditLog.organization_id == identity.organization_id)
            .distinct()
            .order_by(AuditLog.action)
        )
    )
