"""webhooks remember (a digest of) their first customer, so each customer's apply in order

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_webhook_event_pending_customer",
            ["customer", "id"],
            unique=False,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_webhook_event_pending_customer", sqlite_where=PENDING, postgresql_where=PENDING
        )
        batch_op.drop_column("customer")
