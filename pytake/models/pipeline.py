"""Durable queues: raw webhooks received, and messages waiting to be sent."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import UTCDateTime, created_at, fk, id_field, json_field, timestamp


class WebhookEvent(SQLModel, table=True):
    """A platform's POST body, committed before it is acknowledged."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        # Byte-identical retries of one POST are stored once.
        sa.UniqueConstraint("source", "body_sha256"),
        sa.Index("ix_webhook_event_state_id", "state", "id"),
    )

    id: int | None = id_field()
    source: str = Field(max_length=20)  # "whatsapp"
    body: bytes = Field(sa_type=sa.LargeBinary)
    body_sha256: str = Field(max_length=64)
    # Kept so processing re-checks it against the app secret of every channel it applies to.
    signature: str | None = Field(default=None, max_length=100)
    state: str = Field(default="pending", max_length=20)  # pending|done|quarantined|dead
    attempts: int = Field(default=0)
    error: str | None = Field(default=None, sa_type=sa.Text)
    received_at: dt.datetime = created_at()
    next_attempt_at: dt.datetime | None = timestamp()
    processed_at: dt.datetime | None = timestamp()


class ParkedUpdate(SQLModel, table=True):
    """A status or reaction for a message not stored yet, applied when the message appears."""

    __tablename__ = "parked_update"
    __table_args__ = (sa.Index("ix_parked_update_channel_external", "channel_id", "external_id"),)

    id: int | None = id_field()
    channel_id: int = fk("channel.id", index=False)
    external_id: str = Field(max_length=160)  # the awaited message's platform id
    kind: str = Field(max_length=20)  # status|reaction
    payload: dict = json_field()
    created_at: dt.datetime = created_at()


class Outbox(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        sa.UniqueConstraint("message_id"),
    )

    id: int | None = id_field()
    message_id: int = fk("message.id", index=False)
    channel_id: int = fk("channel.id")
    state: str = Field(default="pending", max_length=20)  # pending|sending|done|unknown|dead
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()
