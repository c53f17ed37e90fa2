"""Sign-in throttling, counted from the audit log so it holds across workers and restarts."""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.models import AuditLog, utcnow
from pytake.settings import get_settings

FAILED_SIGN_IN = "auth.sign_in_failed"


def check(db: Session, *, email: str, ip: str | None) -> None:
    """Refuse when the account or the address has failed too often in the window."""
    settings = get_settings()
    window = dt.timedelta(minutes=settings.login_window_minutes)
    since = utcnow() - window
    recent = sa.and_(AuditLog.action == FAILED_SIGN_IN, AuditLog.created_at > since)
    limits = [(AuditLog.subject == email, settings.login_max_failures_per_account)]
    if ip:
        limits.append((AuditLog.ip == ip, settings.login_max_failures_per_ip))
    for condition, limit in limits:
        count, oldest = db.execute(
            sa.select(sa.func.count(), sa.func.min(AuditLog.created_at)).where(recent, condition)
        ).one()
        if count >= limit:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            wait = max(1, math.ceil((oldest + window - utcnow()).total_seconds() / 60))
            raise AccessError("auth.throttled", minutes=wait)
