"""Chatbot flows: the editable draft, its immutable published versions, and each run of
one on a conversation."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import BigId, created_at, fk, id_field, json_field, timestamp


class Flow(SQLModel, table=True):
    __tablename__ = "flow"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    name: str = Field(max_length=80)
    # What an admin edits; running conversations never see it until it is published.
    draft: dict = json_field()
    # new_conversation | keyword | outside_hours | button | manual (only started by a jump)
    trigger: str = Field(default="manual", max_length=20)
    trigger_value: str = Field(default="", max_length=500)  # keywords, or a button payload
    channel_ids: list = json_field(list)  # empty: every number
    priority: int = Field(default=100)  # the lowest number wins when several match
    active: bool = Field(default=False)
    version_id: int | None = Field(default=None, sa_type=BigId, nullable=True)  # published
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()


class FlowVersion(SQLModel, table=True):
    __tablename__ = "flow_version"
    __table_args__ = (sa.UniqueConstraint("flow_id", "number"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    flow_id: int = fk("flow.id", index=False)
    number: int
    definition: dict = json_field()
    published_by: int | None = fk("app_user.id", nullable=True, index=False, ondelete="SET NULL")
    published_at: dt.datetime = created_at()


class FlowRun(SQLModel, table=True):
    """One conversation going through one flow version: a durable queue row (``pending``
    while the bot has work or waits for the customer) and the bot's memory."""

    __tablename__ = "flow_run"
    __table_args__ = (sa.Index("ix_flow_run_state_next_attempt_at", "state", "next_attempt_at"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    conversation_id: int = fk("conversation.id")
    flow_id: int = fk("flow.id", index=False)
    version_id: int = fk("flow_version.id", index=False)
    state: str = Field(default="pending", max_length=20)  # pending|done|stopped|failed
    # Where the bot stands and what it remembers (pytake.flows.engine.Cursor).
    cursor: dict = json_field()
    inputs: list = json_field(list)  # customer message ids not yet read by the bot
    answers: dict = json_field()  # what the customer answered, by attribute or step
    trail: list = json_field(list)  # the steps taken, for the agent who takes over
    wake_at: dt.datetime | None = timestamp()  # a wait ends or a question times out
    sent: int = Field(default=0)  # messages sent so far: their idempotency keys
    end_reason: str = Field(default="", max_length=40)
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime | None = timestamp()
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = created_at()
    ended_at: dt.datetime | None = timestamp()
