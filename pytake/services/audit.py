"""The audit trail of sign-ins and administrative changes."""

from __future__ import annotations

from sqlmodel import Session

from pytake.models import AuditLog


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
