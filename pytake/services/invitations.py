"""Invitations: a single-use link with an expiry that lets someone join an organization.

Only the SHA-256 of the token is stored, so a copy of the database cannot be used to join.
Admins invite; only an owner may invite an owner. The invitee opens ``/invite/<token>``,
chooses a name and password (or, with an account in another organization, confirms their
current password) and is signed in with the invited role.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets

import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from pytake import db, mail
from pytake.auth import passwords, throttle
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.i18n import LANGUAGES, translate
from pytake.models import Invitation, Membership, Organization, Role, User, utcnow
from pytake.services import accounts, audit
from pytake.settings import get_settings

log = logging.getLogger("pytake.invitations")
INVITE_PATH = "/invite/"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry() -> dt.datetime:
    return utcnow() + dt.timedelta(hours=get_settings().invitation_hours)


def link(token: str, origin: str | None = None) -> str:
    """The accept page's URL under ``PYTAKE_PUBLIC_URL``, else under the browser's
    ``origin`` (e.g. ``http://10.0.0.5:3000``), else the path alone."""
    if not (origin or "").startswith(("http://", "https://")):
        origin = ""  # Reflex reports "://" when the browser sent no Origin header
    base = get_settings().public_url or origin.rstrip("/")
    return f"{base}{INVITE_PATH}{token}"


def invite(
    s: Session, identity: Identity, *, email: str, role: Role | str
) -> tuple[Invitation, str]:
    """Invite ``email`` into the caller's organization; return the row and the raw token."""
    return _create(s, identity.organization_id, identity, email=email, role=role)


def invite_as_operator(
    s: Session, organization_id: int, *, email: str, role: Role | str
) -> tuple[Invitation, str]:
    """The CLI's invitation: the operator of the server may grant any role."""
    return _create(s, organization_id, None, email=email, role=role)


def _create(
    s: Session, organization_id: int, actor: Identity | None, *, email: str, role: Role | str
) -> tuple[Invitation, str]:
    role = accounts.parse_role(role)
    accounts.require_manager(actor, role)
    email = accounts.normalize_email(email)
    member = s.exec(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id, User.email == email)
    ).first()
    if member is not None:
        raise AccessError("invitation.already_member", email=email)
    # One live link per person: inviting again (another role, a lost e-mail) replaces it,
    # which only someone who could withdraw the old one may do.
    previous = s.exec(
        select(Invitation).where(
            *_is_pending(), Invitation.organization_id == organization_id, Invitation.email == email
        )
    ).all()
    for old in previous:
        accounts.require_manager(actor, Role(old.role))
        old.revoked_at = utcnow()
        s.add(old)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=organization_id,
        email=email,
        role=role.value,
        token_hash=_hash(token),
        invited_by_user_id=actor.user_id if actor else None,
        expires_at=_expiry(),
    )
    s.add(invitation)
    s.flush()
    audit.record(
        s,
        "user.invited",
        organization_id=organization_id,
        actor_user_id=actor.user_id if actor else None,
        subject=email,
        role=role.value,
        invitation_id=invitation.id,
        replaced=len(previous),
    )
    return invitation, token


def _is_pending() -> tuple:
    return Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)


def pending(s: Session, identity: Identity) -> list[dict]:
    """The organization's open invitations, newest first, expired ones included (to renew)."""
    accounts.require_manager(identity, Role.AGENT)  # admins and owners
    rows = s.exec(
        select(Invitation, User.name)
        .join(User, User.id == Invitation.invited_by_user_id, isouter=True)
        .where(Invitation.organization_id == identity.organization_id, *_is_pending())
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ).all()
    now = utcnow()
    return [
        {
            "id": invitation.id,
            "email": invitation.email,
            "role": invitation.role,
            "created_at": invitation.created_at.isoformat(),
            "expires_at": invitation.expires_at.isoformat(),
            "expired": invitation.expires_at <= now,
            "emailed": invitation.emailed_at is not None,
            "invited_by": inviter or "",
        }
        for invitation, inviter in rows
    ]


def _open_invitation(s: Session, identity: Identity, invitation_id: int) -> Invitation:
    """A pending invitation of the caller's organization whose role the caller may grant."""
    invitation = s.exec(
        select(Invitation).where(
            Invitation.id == invitation_id,
            Invitation.organization_id == identity.organization_id,
            *_is_pending(),
        )
    ).first()
    if invitation is None:
        raise AccessError("invitation.not_found")
    accounts.require_manager(identity, Role(invitation.role))
    return invitation


def revoke(s: Session, identity: Identity, invitation_id: int) -> None:
    invitation = _open_invitation(s, identity, invitation_id)
    invitation.revoked_at = utcnow()
    s.add(invitation)
    audit.record(
        s,
        "user.invitation_revoked",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=invitation.email,
        invitation_id=invitation.id,
    )


def renew(s: Session, identity: Identity, invitation_id: int) -> str:
    """A new link with a new expiry; the old link stops working. Returns the new token."""
    invitation = _open_invitation(s, identity, invitation_id)
    token = secrets.token_urlsafe(32)
    invitation.token_hash = _hash(token)
    invitation.expires_at = _expiry()
    invitation.emailed_at = None  # the e-mail that went out carries the old link
    s.add(invitation)
    audit.record(
        s,
        "user.invitation_renewed",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=invitation.email,
        invitation_id=invitation.id,
    )
    return token


def _refusal(invitation: Invitation | None) -> str | None:
    """Why a link cannot be used now, as an i18n key; None when it can."""
    if invitation is None or invitation.revoked_at is not None:
        return "invitation.invalid"
    if invitation.accepted_at is not None:
        return "invitation.used"
    if invitation.expires_at <= utcnow():
        return "invitation.expired"
    return None


def _usable(s: Session, token: str) -> Invitation:
    invitation = None
    if token and len(token) <= 200:
        invitation = s.exec(select(Invitation).where(Invitation.token_hash == _hash(token))).first()
    refusal = _refusal(invitation)
    if refusal:
        raise AccessError(refusal)
    return invitation


@dataclasses.dataclass(frozen=True)
class Invited:
    """What the accept page shows: who invites whom, as what."""

    organization: str
    email: str
    role: Role


def lookup(s: Session, token: str) -> Invited:
    """The page is the same whether or not the e-mail already has an account (in another
    organization): whoever holds the link, its admin included, must not learn that here."""
    invitation = _usable(s, token)
    organization = s.get(Organization, invitation.organization_id)
    return Invited(organization.name, invitation.email, Role(invitation.role))


def accept(
    s: Session,
    token: str,
    *,
    name: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
    language: str | None = None,
) -> tuple[str, str]:
    """Join with the invited role and sign in; return ``(session_id, ticket)``.

    A person with an account (in another organization) proves it with their password and
    keeps it; anyone else gets a new account. The link works once, even when two requests
    race: the claim is one UPDATE guarded on the invitation still being open.
    """
    invitation = _usable(s, token)
    email = invitation.email
    user = s.exec(select(User).where(User.email == email)).first()
    if user is None:
        name = accounts.clean_name(name)
        passwords.check_password_rule(password, email)
    else:
        _check_existing(s, user, invitation, password, ip)
    now = utcnow()
    claimed = s.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, *_is_pending(), Invitation.expires_at > now)
        .values(accepted_at=now)
    ).rowcount
    if claimed != 1:
        s.refresh(invitation)
        raise AccessError(_refusal(invitation) or "invitation.used")
    if user is None:
        user = User(
            email=email,
            name=name,
            password_hash=passwords.hash_password(password),
            locale=language if language in LANGUAGES else None,
            password_changed_at=now,
        )
        s.add(user)
        s.flush()
    invitation.accepted_user_id = user.id
    s.add(invitation)
    s.add(
        Membership(
            user_id=user.id, organization_id=invitation.organization_id, role=invitation.role
        )
    )
    audit.record(
        s,
        "user.joined",
        organization_id=invitation.organization_id,
        actor_user_id=user.id,
        subject=f"user:{user.id}",
        ip=ip,
        email=email,
        role=invitation.role,
        invitation_id=invitation.id,
    )
    return accounts.open_session(
        s, user, invitation.organization_id, password=password, ip=ip, user_agent=user_agent
    )


def _check_existing(
    s: Session, user: User, invitation: Invitation, password: str, ip: str | None
) -> None:
    """An existing account joins only with its password, throttled like the sign-in form
    (a forwarded link must not become a way to guess it)."""
    attempt = throttle.begin(s, email=user.email, ip=ip)
    if not passwords.verify_password(user.password_hash, password or ""):
        accounts.failed_sign_in(s, user, user.email, ip)
        raise AccessError("invitation.wrong_password")
    throttle.succeeded(s, attempt)
    member = s.exec(
        select(Membership.id).where(
            Membership.user_id == user.id,
            Membership.organization_id == invitation.organization_id,
        )
    ).first()
    if member is not None:
        raise AccessError("invitation.already_member", email=user.email)


async def send_invitation(
    identity: Identity,
    *,
    email: str,
    role: Role | str,
    language: str,
    origin: str | None = None,
) -> dict:
    """The settings page's "Invite": create the invitation, then e-mail it when SMTP is
    configured. A mail failure keeps the invitation, so the admin can copy the link.

    ``origin`` (the browser's, e.g. ``https://inbox.example.com``) makes the link absolute
    when ``PYTAKE_PUBLIC_URL`` is unset. Returns ``{"link", "emailed", "mail_error"}``, the
    error already in ``language``.
    """
    invitation, token, organization = await run_in_threadpool(
        _create_in_transaction, identity, email, role
    )
    url = link(token, origin)
    result = {"link": url, "emailed": False, "mail_error": ""}
    if not mail.configured():
        return result
    if url.startswith("/"):
        result["mail_error"] = translate("mail.needs_public_url", language)
        return result
    params = {
        "inviter": identity.name,
        "organization": organization,
        "role": translate(f"role.{invitation.role}", language),
        "link": url,
        "hours": get_settings().invitation_hours,
        "expires": f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC",
    }
    subject = translate("mail.invitation_subject", language, **params)
    text = translate("mail.invitation_body", language, **params)
    try:
        await run_in_threadpool(mail.send, invitation.email, subject, text)
    except mail.MailError as exc:
        log.warning("invitation %s not e-mailed: %s", invitation.id, exc)
        result["mail_error"] = translate("mail.failed", language, reason=str(exc))
        return result
    await run_in_threadpool(_stamp_emailed, invitation.id)
    result["emailed"] = True
    return result


def _create_in_transaction(
    identity: Identity, email: str, role: Role | str
) -> tuple[Invitation, str, str]:
    with db.session(write=True) as s:
        invitation, token = invite(s, identity, email=email, role=role)
        organization = s.get(Organization, identity.organization_id).name
    return invitation, token, organization


def _stamp_emailed(invitation_id: int) -> None:
    with db.session(write=True) as s:
        s.execute(
            sa.update(Invitation).where(Invitation.id == invitation_id).values(emailed_at=utcnow())
        )
