"""Tenants, people, their roles and teams, and the sessions they sign in with."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import UTCDateTime, created_at, fk, id_field, json_field, timestamp


class Role(enum.StrEnum):
    """Ordered from least to most powerful; ``rank`` compares them."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        # A dict lookup: the live core asks for every change and every open tab.
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {role: position for position, role in enumerate(Role)}


class Organization(SQLModel, table=True):
    __tablename__ = "organization"

    id: int | None = id_field()
    name: str = Field(max_length=120)
    slug: str = Field(max_length=80, unique=True)
    # Organization-wide policies (visibility rule, 2FA requirement, ...), read by the services.
    settings: dict = json_field()
    created_at: dt.datetime = created_at()


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = id_field()
    email: str = Field(max_length=254, unique=True)  # stored lower-cased
    name: str = Field(max_length=120)
    password_hash: str | None = Field(default=None, max_length=255)
    locale: str | None = Field(default=None, max_length=10)
    created_at: dt.datetime = created_at()
    password_changed_at: dt.datetime | None = timestamp()
    last_login_at: dt.datetime | None = timestamp()
    # Which events notify through which channel, the e-mail delay and quiet hours
    # (pytake.services.preferences).
    notify: dict = json_field()


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organization_id"),)

    id: int | None = id_field()
    user_id: int = fk("app_user.id")
    organization_id: int = fk("organization.id")
    role: str = Field(max_length=20)
    max_concurrent: int | None = Field(default=None)
    # Deactivated here only: one organization's admins cannot lock a person out of another.
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_at: dt.datetime = created_at()


class Team(SQLModel, table=True):
    __tablename__ = "team"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    name: str = Field(max_length=120)
    settings: dict = json_field()
    created_at: dt.datetime = created_at()


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"
    __table_args__ = (sa.UniqueConstraint("team_id", "user_id"),)

    id: int | None = id_field()
    team_id: int = fk("team.id", index=False)
    user_id: int = fk("app_user.id")
    created_at: dt.datetime = created_at()


class TeamChannel(SQLModel, table=True):
    """A number a team serves: its new conversations are given to the team."""

    __tablename__ = "team_channel"
    __table_args__ = (sa.UniqueConstraint("team_id", "channel_id"),)

    id: int | None = id_field()
    team_id: int = fk("team.id", index=False)
    channel_id: int = fk("channel.id")
    created_at: dt.datetime = created_at()


class Invitation(SQLModel, table=True):
    """A link that lets someone join an organization; only the token's hash is stored."""

    __tablename__ = "invitation"

    id: int | None = id_field()
    organization_id: int = fk("organization.id")
    email: str = Field(max_length=254, index=True)  # stored lower-cased
    role: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by_user_id: int | None = fk(
        "app_user.id", nullable=True, index=False, ondelete="SET NULL"
    )
    created_at: dt.datetime = created_at()
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    accepted_at: dt.datetime | None = timestamp()
    accepted_user_id: int | None = fk(
        "app_user.id", nullable=True, index=False, ondelete="SET NULL"
    )
    revoked_at: dt.datetime | None = timestamp()
    # When the e-mail went out through SMTP; None when the link was only shown to copy.
    emailed_at: dt.datetime | None = timestamp()


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a signed token naming this row."""

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = fk("app_user.id")
    organization_id: int = fk("organization.id", index=False)
    created_at: dt.datetime = created_at()
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Set when the browser exchanged its one-time ticket for the cookie.
    activated_at: dt.datetime | None = timestamp()
    last_seen_at: dt.datetime | None = timestamp()
    revoked_at: dt.datetime | None = timestamp()
    revoke_reason: str | None = Field(default=None, max_length=40)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_organization_id_created_at", "organization_id", "created_at"),
        sa.Index("ix_audit_log_action_created_at", "action", "created_at"),
    )

    id: int | None = id_field()
    organization_id: int | None = fk(
        "organization.id", nullable=True, index=False, ondelete="SET NULL"
    )
    actor_user_id: int | None = fk("app_user.id", nullable=True, index=False, ondelete="SET NULL")
    action: str = Field(max_length=60)
    # What the action was about: an e-mail for sign-ins, "user:12" for user changes.
    subject: str | None = Field(default=None, max_length=254, index=True)
    ip: str | None = Field(default=None, max_length=64, index=True)
    details: dict = json_field()
    created_at: dt.datetime = created_at()


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins counted per (account, address) and per address (``auth.throttle``).

    A row per key, so concurrent attempts on one key queue on its row lock and each sees
    the others' failures; the key is a digest, so the table holds no e-mail or address.
    """

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True, max_length=64)
    failures: int = Field(default=0, nullable=False)
    started_at: dt.datetime = created_at()  # the window counts from here
    next_at: dt.datetime | None = timestamp()  # no attempt before this
