"""every conversation has a last activity time (the inbox's sort key)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from pytake.models.base import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A NULL sorts apart from every time, which kept PostgreSQL from reading the inbox in
    # index order: conversations without one take their creation time.
    op.execute(
        sa.text(
            "UPDATE conversation SET last_activity_at = created_at WHERE last_activity_at IS NULL"
        )
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.alter_column("last_activity_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.alter_column("last_activity_at", existing_type=UTCDateTime(), nullable=True)
