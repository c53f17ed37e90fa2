"""active per membership: deactivating someone in one organization leaves their others alone

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Columns are added and dropped in place (SQLite 3.35+ can), never by the batch mode's copy
# of the table: with foreign keys on, SQLite empties a dropped table first, and app_user's
# ON DELETE rules would take every membership and session with it.


def upgrade() -> None:
    op.add_column(
        "membership", sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    # Until now deactivation was of the account: it carries over to each of its memberships.
    op.execute(
        "UPDATE membership SET is_active = false"
        " WHERE user_id IN (SELECT id FROM app_user WHERE NOT is_active)"
    )
    op.execute("ALTER TABLE app_user DROP COLUMN is_active")


def downgrade() -> None:
    op.add_column(
        "app_user", sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    # An account with memberships stays active only if it is active in one of them.
    op.execute(
        "UPDATE app_user SET is_active = false"
        " WHERE EXISTS (SELECT 1 FROM membership WHERE membership.user_id = app_user.id)"
        " AND NOT EXISTS (SELECT 1 FROM membership"
        " WHERE membership.user_id = app_user.id AND membership.is_active)"
    )
    op.execute("ALTER TABLE membership DROP COLUMN is_active")
