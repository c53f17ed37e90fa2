"""Notifications that reach members away from the app: Web Push devices, the alerts waiting
to be pushed or e-mailed, and the deployment's own keys."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import created_at, fk, id_field, timestamp


class PushDevice(SQLModel, table=True):
    """A browser's Web Push subscription: where its push service takes our messages, and the
    keys that encrypt them for that browser only."""

    __tablename__ = "push_device"

    id: int | None = id_field()
    user_id: int = fk("app_user.id")
    organization_id: int = fk("organization.id", index=False)
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    label: str = Field(default="", max_length=120)  # "Chrome on Android", from its user agent
    created_at: dt.datetime = created_at()
    last_used_at: dt.datetime | None = timestamp()
    last_error: str | None = Field(default=None, max_length=300)


class Alert(SQLModel, table=True):
    """One member told of one thing away from the app; also the queue row of the ``alert``
    job, which pushes at once and e-mails after the member's delay."""

    __tablename__ = "alert"
    __table_args__ = (
        # A message or note tells each member once, however often it is processed.
        sa.UniqueConstraint("user_id", "kind", "source"),
        sa.Index("ix_alert_state_next_attempt_at", "state", "next_attempt_at"),
        sa.Index("ix_alert_user_id_state", "user_id", "state"),
    )

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    user_id: int = fk("app_user.id", index=False)
    conversation_id: int = fk("conversation.id")
    kind: str = Field(max_length=20)  # new_conversation|message|assigned|mention
    source: int = Field(sa_type=sa.BigInteger)  # the message's id, or minus the note's
    state: str = Field(default="pending", max_length=20)  # pending|done|dead
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime | None = timestamp()
    error: str | None = Field(default=None, sa_type=sa.Text)
    # What became of it: pushed, mailed, or why not (online, quiet, seen, off, ...).
    outcome: str = Field(default="", max_length=120)
    created_at: dt.datetime = created_at()
    pushed_at: dt.datetime | None = timestamp()
    mailed_at: dt.datetime | None = timestamp()


class DeploymentSecret(SQLModel, table=True):
    """A key made once for the whole deployment (the VAPID key pair), kept encrypted."""

    __tablename__ = "deployment_secret"

    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(sa_type=sa.Text)
    created_at: dt.datetime = created_at()
