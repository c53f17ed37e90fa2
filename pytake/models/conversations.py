"""Customers, their conversations, the messages in them and what agents attach to them."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import BigId, JsonType, created_at, fk, id_field, json_field, timestamp


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    # A WhatsApp user is known by wa_id, by business-scoped user id (BSUID), or both.
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "wa_id"),
        sa.UniqueConstraint("organization_id", "bsuid"),
        sa.Index("ix_contact_organization_id_name", "organization_id", "name"),
    )

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    wa_id: str | None = Field(default=None, max_length=32)
    bsuid: str | None = Field(default=None, max_length=160)
    username: str | None = Field(default=None, max_length=80)
    name: str | None = Field(default=None, max_length=200)
    attributes: dict = json_field()
    # Set when the customer asked for no more marketing (STOP, SAIR…): such templates are refused.
    opted_out_at: dt.datetime | None = timestamp()
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()


class Label(SQLModel, table=True):
    __tablename__ = "label"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    name: str = Field(max_length=60)
    color: str = Field(default="#6b7280", max_length=9)
    created_at: dt.datetime = created_at()


class Conversation(SQLModel, table=True):
    __tablename__ = "conversation"
    __table_args__ = (
        # The inbox: an organization's conversations in a status, newest activity first.
        sa.Index(
            "ix_conversation_org_status_activity", "organization_id", "status", "last_activity_at"
        ),
        sa.Index("ix_conversation_assignee_status", "assignee_id", "status"),
        sa.Index("ix_conversation_team_status", "team_id", "status"),
        # Reusing the open conversation of a contact on a channel.
        sa.Index("ix_conversation_channel_contact_status", "channel_id", "contact_id", "status"),
        # At most one unresolved conversation per contact and number, even under concurrency.
        sa.Index(
            "uq_conversation_channel_contact_unresolved",
            "channel_id",
            "contact_id",
            unique=True,
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        ),
    )

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    channel_id: int = fk("channel.id", index=False)
    contact_id: int = fk("contact.id")
    status: str = Field(default=ConversationStatus.OPEN, max_length=20)
    assignee_id: int | None = fk("app_user.id", nullable=True, index=False, ondelete="SET NULL")
    team_id: int | None = fk("team.id", nullable=True, index=False, ondelete="SET NULL")
    unread_count: int = Field(default=0)
    last_inbound_at: dt.datetime | None = timestamp()
    window_expires_at: dt.datetime | None = timestamp()
    last_activity_at: dt.datetime = created_at()  # the inbox's order: never NULL
    snoozed_until: dt.datetime | None = timestamp()
    resolved_at: dt.datetime | None = timestamp()
    created_at: dt.datetime = created_at()
    # What automations already did, so each happens once: {"away": period start, "greeted": 1}.
    automation: dict = json_field()
    # Kept as they happen, for reports in business hours (services.timing): when an agent
    # first answered, and the business seconds to that answer and to the resolution.
    first_response_at: dt.datetime | None = timestamp()
    business_first_response: int | None = Field(default=None, nullable=True)
    business_resolution: int | None = Field(default=None, nullable=True)
    # The chatbot run answering this conversation now, if any (humans' queues skip it).
    bot_run_id: int | None = Field(default=None, sa_type=BigId, nullable=True)


class ConversationLabel(SQLModel, table=True):
    __tablename__ = "conversation_label"

    conversation_id: int = Field(
        sa_type=BigId, foreign_key="conversation.id", ondelete="CASCADE", primary_key=True
    )
    label_id: int = Field(
        sa_type=BigId, foreign_key="label.id", ondelete="CASCADE", primary_key=True, index=True
    )


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        # Idempotent ingest: a platform message id is stored once per channel.
        sa.UniqueConstraint("channel_id", "external_id"),
        # Idempotent sends: a double click reuses the client's key.
        sa.UniqueConstraint("conversation_id", "client_key"),
        sa.Index("ix_message_conversation_id_id", "conversation_id", "id"),
    )

    id: int | None = id_field()
    organization_id: int = fk("organization.id")
    conversation_id: int = fk("conversation.id", index=False)
    channel_id: int = fk("channel.id", index=False)
    direction: str = Field(max_length=3)  # "in" | "out"
    type: str = Field(max_length=30)
    content: dict = json_field()
    external_id: str | None = Field(default=None, max_length=160)
    client_key: str | None = Field(default=None, max_length=64)
    reply_to_external_id: str | None = Field(default=None, max_length=160)
    sender_user_id: int | None = fk("app_user.id", nullable=True, index=False, ondelete="SET NULL")
    status: str = Field(default="received", max_length=20)
    # Who reacted with what: {"contact": {"emoji": "👍", "at": iso}, "user:<id>": {...}};
    # a removed reaction stays as {"emoji": None, "at": iso} so a late older one cannot return.
    reactions: dict = json_field()
    error: dict | None = Field(default=None, sa_type=JsonType, nullable=True)
    # Its words folded for search (services.search); PostgreSQL indexes them (migration 0008).
    search_text: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    sent_at: dt.datetime | None = timestamp()
    delivered_at: dt.datetime | None = timestamp()
    read_at: dt.datetime | None = timestamp()
    created_at: dt.datetime = created_at()


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"
    __table_args__ = (sa.Index("ix_attachment_state_next_attempt_at", "state", "next_attempt_at"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    message_id: int = fk("message.id")
    external_media_id: str | None = Field(default=None, max_length=160)
    mime_type: str | None = Field(default=None, max_length=120)
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    sha256: str | None = Field(default=None, max_length=128)
    filename: str | None = Field(default=None, max_length=255)
    storage_path: str | None = Field(default=None, max_length=500)
    state: str = Field(default="pending", max_length=20)  # pending|done|failed
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime | None = timestamp()
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = created_at()


class Note(SQLModel, table=True):
    """A private remark agents leave on a conversation; customers never see it."""

    __tablename__ = "note"

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    conversation_id: int = fk("conversation.id")
    author_id: int | None = fk("app_user.id", nullable=True, index=False, ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    mentions: list = json_field(list)
    created_at: dt.datetime = created_at()
