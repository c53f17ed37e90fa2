"""inbound pipeline

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:58:29.312413
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from pytake.models.base import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_update",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("external_id", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_parked_update_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_update")),
    )
    with op.batch_alter_table("parked_update", schema=None) as batch_op:
        batch_op.create_index(
            "ix_parked_update_channel_external", ["channel_id", "external_id"], unique=False
        )

    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
        batch_op.create_index(
            "ix_attachment_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(
            "uq_conversation_channel_contact_unresolved",
            ["channel_id", "contact_id"],
            unique=True,
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        )

    with op.batch_alter_table("message_template", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_at", UTCDateTime(), nullable=True))

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reactions",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )

    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("signature")

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("reactions")

    with op.batch_alter_table("message_template", schema=None) as batch_op:
        batch_op.drop_column("status_at")

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_conversation_channel_contact_unresolved",
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        )

    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index("ix_attachment_state_next_attempt_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")

    with op.batch_alter_table("parked_update", schema=None) as batch_op:
        batch_op.drop_index("ix_parked_update_channel_external")

    op.drop_table("parked_update")
