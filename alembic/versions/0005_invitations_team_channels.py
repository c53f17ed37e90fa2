"""invitations, and the numbers each team serves

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from pytake.models.base import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "team_channel",
        sa.Column("id", BigId, nullable=False),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("channel_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_team_channel_team_id_team"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_team_channel_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_channel")),
        sa.UniqueConstraint(
            "team_id", "channel_id", name=op.f("uq_team_channel_team_id_channel_id")
        ),
    )
    op.create_index(op.f("ix_team_channel_channel_id"), "team_channel", ["channel_id"])
    op.create_table(
        "invitation",
        sa.Column("id", BigId, nullable=False),
        sa.Column("organization_id", BigId, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_user_id", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("accepted_user_id", BigId, nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("emailed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_invitation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_invitation_invited_by_user_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_user_id"],
            ["app_user.id"],
            name=op.f("fk_invitation_accepted_user_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash")),
    )
    op.create_index(op.f("ix_invitation_organization_id"), "invitation", ["organization_id"])
    op.create_index(op.f("ix_invitation_email"), "invitation", ["email"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invitation_email"), table_name="invitation")
    op.drop_index(op.f("ix_invitation_organization_id"), table_name="invitation")
    op.drop_table("invitation")
    op.drop_index(op.f("ix_team_channel_channel_id"), table_name="team_channel")
    op.drop_table("team_channel")
