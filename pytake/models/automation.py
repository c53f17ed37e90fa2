"""Business hours of a number or a team, with the messages sent on their behalf."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import created_at, fk, id_field, json_field, timestamp


class BusinessHours(SQLModel, table=True):
    """Exactly one of ``channel_id`` / ``team_id`` is set: a team's hours win over its
    number's for the conversations it owns."""

    __tablename__ = "business_hours"
    __table_args__ = (
        sa.CheckConstraint("(channel_id IS NULL) <> (team_id IS NULL)", name="one_owner"),
        sa.UniqueConstraint("channel_id"),
        sa.UniqueConstraint("team_id"),
    )

    id: int | None = id_field()
    organization_id: int = fk("organization.id")
    channel_id: int | None = fk("channel.id", nullable=True, index=False)
    team_id: int | None = fk("team.id", nullable=True, index=False)
    # IANA name; empty means the organization's time zone.
    timezone: str = Field(default="", max_length=64)
    # Monday=0 … Sunday=6 → list of ["HH:MM", "HH:MM"] open intervals; a day absent is closed.
    weekly: dict = json_field()
    holidays: list = json_field(default_factory=list)  # "YYYY-MM-DD", closed all day
    away_message: str = Field(default="", sa_type=sa.Text)
    greeting_message: str = Field(default="", sa_type=sa.Text)
    created_at: dt.datetime = created_at()
    updated_at: dt.datetime | None = timestamp()
