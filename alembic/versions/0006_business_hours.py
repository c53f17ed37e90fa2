"""business hours of numbers and teams, and what automations did per conversation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from alembic import op
from pytake.models.base import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "business_hours",
        sa.Column("id", BigId, nullable=False),
        sa.Column("organization_id", BigId, nullable=False),
        sa.Column("channel_id", BigId, nullable=True),
        sa.Column("team_id", BigId, nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("weekly", JsonType, nullable=False),
        sa.Column("holidays", JsonType, nullable=False),
        sa.Column("away_message", sa.Text(), nullable=False),
        sa.Column("greeting_message", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(channel_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_business_hours_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_business_hours_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_business_hours_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
            name=op.f("fk_business_hours_team_id_team"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_hours")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_business_hours_channel_id")),
        sa.UniqueConstraint("team_id", name=op.f("uq_business_hours_team_id")),
    )
    op.create_index(
        op.f("ix_business_hours_organization_id"), "business_hours", ["organization_id"]
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("automation", JsonType, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("automation")
    op.drop_index(op.f("ix_business_hours_organization_id"), table_name="business_hours")
    op.drop_table("business_hours")
