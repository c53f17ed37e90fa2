"""Organizations, users and roles: first-run setup, sign-in and user administration."""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth import passwords, sessions, throttle
from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.i18n import LANGUAGES
from pytake.models import Membership, Organization, Role, User, utcnow
from pytake.services import actions, audit
from pytake.services.names import clean_name

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_SETUP_LOCK_KEY = 0x7079_7365_7475


def normalize_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccessError("account.bad_email")
    return email


def parse_role(value: str) -> Role:
    try:
        return Role((value or "").strip().lower())
    except ValueError:
        raise AccessError("account.bad_role", roles=", ".join(r.value for r in Role)) from None


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60] or "org"


def needs_setup(db: Session) -> bool:
    return db.exec(select(User.id).limit(1)).first() is None


def setup(
    db: Session,
    *,
    organization: str,
    name: str,
    email: str,
    password: str,
    language: str | None = None,
    ip: str | None = None,
) -> tuple[Organization, User]:
    """Create the first organization and its owner; refused once any user exists."""
    org_name = clean_name(organization, code="account.bad_org_name")
    name = clean_name(name)
    email = normalize_email(email)
    passwords.check_password_rule(password, email)
    if db.get_bind().dialect.name == "postgresql":
        # Two browsers submitting the setup form at once must not create two owners.
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SETUP_LOCK_KEY})
    if not needs_setup(db):
        raise AccessError("setup.already_done")
    org = Organization(name=org_name, slug=slugify(org_name))
    user = User(
        email=email,
        name=name,
        password_hash=passwords.hash_password(password),
        locale=language if language in LANGUAGES else None,
        password_changed_at=utcnow(),
    )
    db.add(org)
    db.add(user)
    db.flush()
    db.add(Membership(user_id=user.id, organization_id=org.id, role=Role.OWNER))
    audit.record(
        db, "org.created", organization_id=org.id, actor_user_id=user.id, subject=email, ip=ip
    )
    return org, user


def _free_slug(db: Session, name: str) -> str:
    base = slugify(name)
    taken = set(
        db.exec(
            select(Organization.slug).where(
                (Organization.slug == base) | Organization.slug.startswith(base + "-")
            )
        ).all()
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def has_account(db: Session, email: str) -> bool:
    return db.exec(select(User.id).where(User.email == normalize_email(email))).first() is not None


def add_organization(
    db: Session,
    *,
    organization: str,
    owner_email: str,
    owner_name: str,
    password: str,
    language: str | None = None,
) -> tuple[Organization, User]:
    """Another organization on this deployment (an operator's command), owned by the
    account of ``owner_email``: an existing one keeps its name and password (``password``
    is not used), a new one is created with it."""
    org_name = clean_name(organization, code="account.bad_org_name")
    email = normalize_email(owner_email)
    user = db.exec(select(User).where(User.email == email)).first()
    if user is None:
        passwords.check_password_rule(password, email)
        user = User(
            email=email,
            name=clean_name(owner_name),
            password_hash=passwords.hash_password(password),
            locale=language if language in LANGUAGES else None,
            password_changed_at=utcnow(),
        )
        db.add(user)
    org = Organization(name=org_name, slug=_free_slug(db, org_name))
    db.add(org)
    db.flush()
    db.add(Membership(user_id=user.id, organization_id=org.id, role=Role.OWNER))
    audit.record(db, "org.created", organization_id=org.id, actor_user_id=user.id, subject=email)
    return org, user


def sign_in(
    db: Session, *, email: str, password: str, ip: str | None, user_agent: str | None
) -> tuple[str, str]:
    """Check the credentials; return ``(session_id, ticket)``.

    Unknown e-mail, wrong password and inactive account give the same refusal, and cost the
    same time, so the form cannot be used to discover accounts.
    """
    email = (email or "").strip().lower()[:254]
    attempt = throttle.begin(db, email=email, ip=ip)
    user = db.exec(select(User).where(User.email == email)).first()
    valid = passwords.verify_password(user.password_hash if user else None, password or "")
    membership = None
    if user is not None and valid:
        membership = db.exec(
            select(Membership)
            .where(Membership.user_id == user.id, Membership.is_active)
            .order_by(Membership.id)
        ).first()
    if membership is None:
        failed_sign_in(db, user, email, ip)
        raise AccessError("auth.invalid_credentials")
    throttle.succeeded(db, attempt)
    return open_session(
        db,
        user,
        membership.organization_id,
        password=password,
        ip=ip,
        user_agent=user_agent,
    )


def failed_sign_in(db: Session, user: User | None, email: str, ip: str | None) -> None:
    """Audit a failed sign-in where the account's admins look: in each organization the
    account belongs to (without one for an address that has no account). Commits, since the
    caller refuses next."""
    organizations = (
        db.exec(select(Membership.organization_id).where(Membership.user_id == user.id)).all()
        if user is not None
        else []
    )
    for organization_id in organizations or [None]:
        audit.record(
            db,
            throttle.FAILED_SIGN_IN,
            organization_id=organization_id,
            actor_user_id=user.id if user else None,
            subject=email,
            ip=ip,
        )
    db.commit()


def open_session(
    db: Session,
    user: User,
    organization_id: int,
    *,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, str]:
    """Sign in a user whose ``password`` was just verified or set: return
    ``(session_id, ticket)``. Shared by the sign-in form and accepted invitations."""
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    db.add(user)
    session_id, ticket = sessions.start(db, user, organization_id, ip=ip, user_agent=user_agent)
    audit.record(
        db,
        "auth.signed_in",
        organization_id=organization_id,
        actor_user_id=user.id,
        subject=user.email,
        ip=ip,
    )
    return session_id, ticket


def sign_out(db: Session, identity: Identity, *, ip: str | None = None) -> None:
    sessions.revoke(db, identity.session_id, "logout")
    audit.record(
        db,
        "auth.signed_out",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=identity.email,
        ip=ip,
    )


def find_organization(db: Session, name_or_slug: str) -> Organization:
    value = (name_or_slug or "").strip()
    org = db.exec(
        select(Organization).where(
            (Organization.slug == value.lower())
            | (sa.func.lower(Organization.name) == value.lower())
        )
    ).first()
    if org is None:
        raise AccessError("account.org_not_found", org=value)
    return org


def _membership(db: Session, organization_id: int, user_id: int) -> Membership:
    membership = db.exec(
        select(Membership).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    ).first()
    if membership is None:
        raise AccessError("account.user_not_found")
    return membership


def require_manager(actor: Identity | None, granted: Role) -> None:
    """Admins manage people; only owners grant or take away ownership. ``None`` is the CLI."""
    if actor is None:
        return
    if not actor.at_least(Role.ADMIN):
        raise NotAllowed("access.denied")
    if granted == Role.OWNER and actor.role != Role.OWNER:
        raise NotAllowed("account.only_owner_grants_owner")


def _other_active_owners(db: Session, organization_id: int, user_id: int) -> int:
    return db.exec(
        select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.organization_id == organization_id,
            Membership.role == Role.OWNER,
            Membership.user_id != user_id,
            Membership.is_active.is_(True),
        )
    ).one()


def add_user(
    db: Session,
    *,
    organization_id: int,
    email: str,
    name: str,
    password: str,
    role: Role,
    actor: Identity | None = None,
) -> User:
    require_manager(actor, role)
    email = normalize_email(email)
    name = clean_name(name)
    passwords.check_password_rule(password, email)
    if db.exec(select(User.id).where(User.email == email)).first() is not None:
        raise AccessError("account.email_taken")
    user = User(
        email=email,
        name=name,
        password_hash=passwords.hash_password(password),
        password_changed_at=utcnow(),
    )
    db.add(user)
    db.flush()
    db.add(Membership(user_id=user.id, organization_id=organization_id, role=role))
    audit.record(
        db,
        "user.added",
        organization_id=organization_id,
        actor_user_id=actor.user_id if actor else None,
        subject=f"user:{user.id}",
        email=email,
        role=role.value,
    )
    return user


def find_user(db: Session, organization_id: int, email: str) -> User:
    user = db.exec(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id, User.email == email.strip().lower())
    ).first()
    if user is None:
        raise AccessError("account.user_not_found")
    return user


def set_role(
    db: Session, *, organization_id: int, user_id: int, role: Role, actor: Identity | None = None
) -> None:
    membership = _membership(db, organization_id, user_id)
    previous = Role(membership.role)
    require_manager(actor, max(role, previous, key=lambda r: r.rank))
    demoting_owner = previous == Role.OWNER and role != Role.OWNER
    if demoting_owner and not _other_active_owners(db, organization_id, user_id):
        raise AccessError("account.last_owner")
    if previous == role:
        return
    membership.role = role
    db.add(membership)
    audit.record(
        db,
        "user.role_changed",
        organization_id=organization_id,
        actor_user_id=actor.user_id if actor else None,
        subject=f"user:{user_id}",
        before=previous.value,
        after=role.value,
    )


def set_active(
    db: Session,
    *,
    organization_id: int,
    user_id: int,
    active: bool,
    actor: Identity | None = None,
) -> list[tuple[int, int]]:
    """Deactivating a member of this organization (not their account: they keep working
    in their other organizations) revokes their sessions here at once (their open tabs are
    refused) and returns their unresolved conversations here to the queue; returns those
    conversations."""
    membership = _membership(db, organization_id, user_id)
    require_manager(actor, Role(membership.role))
    if actor is not None and actor.user_id == user_id:
        raise AccessError("account.cannot_deactivate_self")
    user = db.get(User, user_id)
    removing_owner = not active and membership.role == Role.OWNER
    if removing_owner and not _other_active_owners(db, organization_id, user_id):
        raise AccessError("account.last_owner")
    if membership.is_active == active:
        return []
    membership.is_active = active
    db.add(membership)
    revoked, released = 0, []
    if not active:
        revoked = sessions.revoke_all(db, user_id, "deactivated", organization_id=organization_id)
        released = actions.release_all(db, organization_id, user, actor.name if actor else "PyTake")
    audit.record(
        db,
        "user.activated" if active else "user.deactivated",
        organization_id=organization_id,
        actor_user_id=actor.user_id if actor else None,
        subject=f"user:{user_id}",
        sessions_revoked=revoked,
        conversations_released=len(released),
    )
    return released


MAX_CONCURRENT = 500


def set_capacity(db: Session, identity: Identity, user_id: object, limit: object) -> None:
    """How many open conversations auto-assignment may give this member (None: no limit)."""
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise AccessError("access.bad_request")
    membership = _membership(db, identity.organization_id, user_id)
    require_manager(identity, Role(membership.role))
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CONCURRENT
    ):
        raise AccessError("account.bad_capacity", max=MAX_CONCURRENT)
    if membership.max_concurrent == limit:
        return
    audit.record(
        db,
        "user.capacity_changed",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=f"user:{user_id}",
        before=membership.max_concurrent,
        after=limit,
    )
    membership.max_concurrent = limit
    db.add(membership)


def change_password(
    db: Session, identity: Identity, *, current: str, new: str, ip: str | None = None
) -> int:
    """Change the caller's password; every other session is revoked. Returns how many."""
    user = db.get(User, identity.user_id)
    if not passwords.verify_password(user.password_hash, current or ""):
        raise AccessError("profile.wrong_current_password")
    passwords.check_password_rule(new, user.email)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    db.add(user)
    revoked = sessions.revoke_all(db, user.id, "password_changed", keep=identity.session_id)
    audit.record(
        db,
        "user.password_changed",
        organization_id=identity.organization_id,
        actor_user_id=user.id,
        subject=f"user:{user.id}",
        ip=ip,
        sessions_revoked=revoked,
    )
    return revoked


def update_profile(db: Session, identity: Identity, *, name: str, language: str | None) -> User:
    user = db.get(User, identity.user_id)
    user.name = clean_name(name)
    if language is not None:
        if language not in LANGUAGES:
            raise AccessError("profile.bad_language")
        user.locale = language
    db.add(user)
    return user


def reset_password(db: Session, *, organization_id: int, user_id: int, password: str) -> None:
    """Operator reset from the CLI; the user's sessions end."""
    _membership(db, organization_id, user_id)
    user = db.get(User, user_id)
    passwords.check_password_rule(password, user.email)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()
    db.add(user)
    sessions.revoke_all(db, user_id, "password_reset")
    audit.record(
        db, "user.password_reset", organization_id=organization_id, subject=f"user:{user_id}"
    )
