"""Business phone numbers (and, later, other platforms) that conversations arrive on."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pytake.models.base import created_at, fk, id_field, json_field, timestamp


class Channel(SQLModel, table=True):
    __tablename__ = "channel"
    # The webhook routes on (kind, external_id): a WhatsApp phone_number_id is globally unique.
    __table_args__ = (sa.UniqueConstraint("kind", "external_id"),)

    id: int | None = id_field()
    organization_id: int = fk("organization.id")
    kind: str = Field(max_length=20)  # "whatsapp"
    name: str = Field(max_length=120)
    external_id: str = Field(max_length=64)  # WhatsApp: phone_number_id
    account_id: str | None = Field(default=None, max_length=64, index=True)  # WhatsApp: WABA id
    display_number: str | None = Field(default=None, max_length=32)
    # Access token, app secret and verify token, encrypted with a key derived from the secret key.
    secrets_encrypted: str | None = Field(default=None, sa_type=sa.Text)
    is_active: bool = Field(default=True)
    rate_limit_per_second: int = Field(default=80)
    config: dict = json_field()
    last_webhook_at: dt.datetime | None = timestamp()
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    # Set when the platform rejected the access token (Meta 190); cleared when it works again.
    token_invalid_at: dt.datetime | None = timestamp()
    created_at: dt.datetime = created_at()
