"""Durable queues: raw webhooks received, and messages waiting to be sent."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import created_at, fk, id_field, json_field, timestamp


class WebhookEvent(SQLModel, table=True):
    """A platform's POST body, committed before it is acknowledged."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        # Byte-identical retries of one POST are stored once.
        sa.UniqueConstraint("source", "body_sha256"),
        sa.Index("ix_webhook_event_state_id", "state", "id"),
        sa.Index(
            "ix_webhook_event_pending_customer",
            "customer",
            "id",
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        ),
    )

    id: int | None = id_field()
    source: str = Field(max_length=20)  # "whatsapp"
    body: bytes = Field(sa_type=sa.LargeBinary)
    body_sha256: str = Field(max_length=64)
    # Kept so processing re-checks it against the app secret of every channel it applies to.
    signature: str | None = Field(default=None, max_length=100)
    state: str = Field(default="pending", max_length=20)  # pending|done|quarantined|dead
    # A pseudonym of the first customer it concerns (see Routing.customer): that customer's
    # earlier webhooks are applied first. No phone number is kept here (crypto.pseudonym).
    customer: str | None = Field(default=None, max_length=32)
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


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # committed before the API call
    DONE = "done"
    FAILED = "failed"  # refused, by us or by the platform
    DEAD = "dead"  # retries exhausted
    UNKNOWN = "unknown"  # the request went out and no answer came back


class Outbox(SQLModel, table=True):
    """A message waiting to be sent: written with the message, before any API call."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        # Messages to one customer leave in the order agents sent them.
        sa.Index("ix_outbox_conversation_state", "conversation_id", "state"),
        sa.UniqueConstraint("message_id"),
    )

    id: int | None = id_field()
    message_id: int = fk("message.id", index=False)
    conversation_id: int = fk("conversation.id", index=False)
    channel_id: int = fk("channel.id")
    state: str = Field(default=OutboxState.PENDING, max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime | None = timestamp()
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()
