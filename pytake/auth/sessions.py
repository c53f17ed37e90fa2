"""Server-side sessions: a row per signed-in browser, named by a signed cookie.

Sign-in happens over Reflex's websocket, which cannot set cookies. So it creates the row
inactive and hands the browser a one-time ticket; the browser trades the ticket for the
HttpOnly cookie at ``POST /auth/session``. The guard resolves the cookie through a cache of a
few seconds (``auth.identities``); revoking a session (logout, password change,
deactivation) makes every process forget it when the transaction commits, so it takes
effect on the next event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth import identities, tokens
from pytake.auth.errors import NotAllowed
from pytake.models import Membership, Organization, Role, User, UserSession, utcnow
from pytake.settings import get_settings

COOKIE_NAME = "pytake_session"
SESSION_AUDIENCE = "pytake:session"
TICKET_AUDIENCE = "pytake:ticket"
TICKET_SECONDS = 60
# How stale last_seen_at may get before an event refreshes it (saves a write per event).
_TOUCH_AFTER = dt.timedelta(minutes=5)


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who is calling, as the server knows it; never built from client input."""

    user_id: int
    organization_id: int
    role: Role
    session_id: str
    name: str
    email: str
    language: str | None
    # The organization's rule for what agents see (services.conversations.VISIBILITY_RULES).
    visibility: str = "organization"

    def at_least(self, role: Role) -> bool:
        return self.role.at_least(role)

    def require(self, role: Role) -> None:
        """Refuse the caller unless their role reaches ``role``."""
        if not self.role.at_least(role):
            raise NotAllowed("access.denied")


def start(db: Session, user: User, organization_id: int, *, ip: str | None, user_agent: str | None):
    """Create an inactive session; return ``(session_id, ticket)``."""
    now = utcnow()
    row = UserSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        organization_id=organization_id,
        expires_at=now + dt.timedelta(hours=get_settings().session_hours),
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    db.add(row)
    db.flush()
    ticket = tokens.sign({"sid": row.id}, audience=TICKET_AUDIENCE, ttl_seconds=TICKET_SECONDS)
    return row.id, ticket


def redeem_ticket(db: Session, ticket: str) -> str | None:
    """Activate the ticket's session once; return the cookie value, or None if refused."""
    try:
        claims = tokens.verify(ticket, audience=TICKET_AUDIENCE)
    except tokens.TokenError:
        return None
    session_id = str(claims.get("sid", ""))
    now = utcnow()
    # One UPDATE guarded on activated_at IS NULL: a replayed ticket matches no row.
    result = db.execute(
        sa.update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.activated_at.is_(None),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .values(activated_at=now, last_seen_at=now)
    )
    if result.rowcount != 1:
        return None
    row = db.get(UserSession, session_id)
    ttl = int((row.expires_at - now).total_seconds())
    return tokens.sign({"sid": session_id}, audience=SESSION_AUDIENCE, ttl_seconds=ttl)


def session_id_from_cookie(cookie_value: str | None) -> str | None:
    if not cookie_value:
        return None
    try:
        return str(tokens.verify(cookie_value, audience=SESSION_AUDIENCE)["sid"])
    except (tokens.TokenError, KeyError):
        return None


def resolve(db: Session, cookie_value: str | None) -> Identity | None:
    """The identity behind a cookie, or None when it is forged, expired or revoked."""
    session_id = session_id_from_cookie(cookie_value)
    if session_id is None:
        return None
    return resolve_many(db, [session_id])[session_id]


def resolve_many(db: Session, session_ids: list[str]) -> dict[str, Identity | None]:
    """The identity behind each session id (already verified from its signed cookie), None
    for one that expired, was revoked or whose membership is inactive; in one statement."""
    rows = db.exec(
        select(UserSession, User, Membership, Organization.settings)
        .join(User, User.id == UserSession.user_id)
        .join(Organization, Organization.id == UserSession.organization_id)
        .join(
            Membership,
            (Membership.user_id == UserSession.user_id)
            & (Membership.organization_id == UserSession.organization_id),
        )
        .where(UserSession.id.in_(session_ids))
    ).all()
    found: dict[str, Identity | None] = dict.fromkeys(session_ids)
    now = utcnow()
    for session, user, membership, org_settings in rows:
        if (
            session.revoked_at is not None
            or session.activated_at is None
            or session.expires_at <= now
            or not membership.is_active
        ):
            continue
        if session.last_seen_at is None or now - session.last_seen_at > _TOUCH_AFTER:
            session.last_seen_at = now
            db.add(session)
        found[session.id] = Identity(
            user_id=user.id,
            organization_id=session.organization_id,
            role=Role(membership.role),
            session_id=session.id,
            name=user.name,
            email=user.email,
            # Someone who never chose a language gets the organization's default.
            language=user.locale or (org_settings or {}).get("language"),
            visibility=(org_settings or {}).get("visibility") or "organization",
        )
    return found


def revoke(db: Session, session_id: str, reason: str) -> None:
    db.execute(
        sa.update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason)
    )
    identities.forget(db, sessions=[session_id])


def revoke_all(
    db: Session,
    user_id: int,
    reason: str,
    *,
    keep: str | None = None,
    organization_id: int | None = None,
) -> int:
    """End the user's sessions (only those in ``organization_id``, if given)."""
    query = sa.update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if organization_id is not None:
        query = query.where(UserSession.organization_id == organization_id)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    revoked = db.execute(query.values(revoked_at=utcnow(), revoke_reason=reason)).rowcount
    identities.forget(db, users=[user_id])  # ``keep`` too: it is only read again
    return revoked


def parse_cookie_header(header: str | None) -> str | None:
    """Our cookie's value from a raw ``Cookie`` header."""
    if not header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME:
            return value.strip().strip('"') or None
    return None
