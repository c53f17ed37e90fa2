"""outbound messaging

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from pytake.models.base import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # No release wrote outbox rows before this revision: the table is rebuilt empty.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", BigId, nullable=False))
        batch_op.alter_column("last_error", new_column_name="error")
        batch_op.alter_column("next_attempt_at", existing_type=UTCDateTime(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_conversation_id_conversation"),
            "conversation",
            ["conversation_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_outbox_conversation_state", ["conversation_id", "state"], unique=False
        )

    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_invalid_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.drop_column("token_invalid_at")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_conversation_state")
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_conversation_id_conversation"), type_="foreignkey"
        )
        batch_op.alter_column("next_attempt_at", existing_type=UTCDateTime(), nullable=False)
        batch_op.alter_column("error", new_column_name="last_error")
        batch_op.drop_column("conversation_id")
