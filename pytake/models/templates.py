"""Canned answers agents insert, and the WhatsApp templates Meta approved."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import created_at, fk, id_field, json_field, timestamp


class QuickReply(SQLModel, table=True):
    __tablename__ = "quick_reply"
    __table_args__ = (sa.UniqueConstraint("organization_id", "team_id", "shortcut"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    team_id: int | None = fk("team.id", nullable=True)  # None: for the whole organization
    shortcut: str = Field(max_length=40)
    body: str = Field(sa_type=sa.Text)
    created_by_id: int | None = fk("app_user.id", nullable=True, index=False, ondelete="SET NULL")
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()


class MessageTemplate(SQLModel, table=True):
    __tablename__ = "message_template"
    # Meta names a template by (WABA, name, language).
    __table_args__ = (sa.UniqueConstraint("organization_id", "account_id", "name", "language"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id", index=False)
    account_id: str = Field(max_length=64)  # WhatsApp: WABA id
    external_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=512)
    language: str = Field(max_length=15)  # normalized: en_US, pt_BR
    category: str = Field(max_length=30)
    status: str = Field(max_length=30)
    components: list = json_field(list)
    rejected_reason: str | None = Field(default=None, sa_type=sa.Text)
    # When Meta reported the status: a late, older status webhook must not override it.
    status_at: dt.datetime | None = timestamp()
    # When PyTake edited it while approved (ISO times, the last 30 days): Meta allows one such
    # edit a day and ten in 30 days, so a refused one is told before Meta is asked.
    approved_edits: list = json_field(list)
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()
