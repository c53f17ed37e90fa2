"""response and resolution times kept on conversations, in business hours too

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000
"""

import datetime as dt
import zoneinfo
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from pytake.models.automation import BusinessHours
from pytake.models.base import JsonType, UTCDateTime
from pytake.services.hours import open_seconds

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
conversation = sa.table(
    "conversation",
    sa.column("id", sa.BigInteger),
    sa.column("organization_id", sa.BigInteger),
    sa.column("channel_id", sa.BigInteger),
    sa.column("team_id", sa.BigInteger),
    sa.column("created_at", UTCDateTime()),
    sa.column("resolved_at", UTCDateTime()),
    sa.column("first_response_at", UTCDateTime()),
    sa.column("business_first_response", sa.Integer),
    sa.column("business_resolution", sa.Integer),
)
message = sa.table(
    "message",
    sa.column("conversation_id", sa.BigInteger),
    sa.column("direction", sa.String),
    sa.column("sender_user_id", sa.BigInteger),
    sa.column("created_at", UTCDateTime()),
)
business_hours = sa.table(
    "business_hours",
    sa.column("channel_id", sa.BigInteger),
    sa.column("team_id", sa.BigInteger),
    sa.column("timezone", sa.String),
    sa.column("weekly", JsonType),
    sa.column("holidays", JsonType),
)
organization = sa.table(
    "organization", sa.column("id", sa.BigInteger), sa.column("settings", JsonType)
)


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_response_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("business_first_response", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("business_resolution", sa.Integer(), nullable=True))
    _backfill(op.get_bind())


def _backfill(connection) -> None:
    """The same definitions as services.timing, for the conversations already there."""
    zones = {
        org_id: zoneinfo.ZoneInfo((settings or {}).get("timezone") or "UTC")
        for org_id, settings in connection.execute(sa.select(organization))
    }
    schedules = {}
    for row in connection.execute(sa.select(business_hours)).mappings():
        owner = ("team", row["team_id"]) if row["team_id"] else ("channel", row["channel_id"])
        schedules[owner] = BusinessHours(
            timezone=row["timezone"], weekly=row["weekly"] or {}, holidays=row["holidays"] or []
        )
    last = 0
    while True:
        rows = (
            connection.execute(
                sa.select(conversation)
                .where(conversation.c.id > last)
                .order_by(conversation.c.id)
                .limit(BATCH)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        first, last = rows[0]["id"], rows[-1]["id"]
        answers = _answers(connection, first, last)
        updates = []
        for row in rows:
            hours = schedules.get(("team", row["team_id"])) or schedules.get(
                ("channel", row["channel_id"])
            )
            zone = zoneinfo.ZoneInfo(hours.timezone) if hours and hours.timezone else None
            zone = zone or zones.get(row["organization_id"], dt.UTC)

            def seconds(start, end, hours=hours, zone=zone) -> int:
                if hours is None:
                    return max(round((end - start).total_seconds()), 0)
                return open_seconds(hours, zone, start, end)

            asked, answered = answers.get(row["id"], (None, None))
            resolved = row["resolved_at"]
            updates.append(
                {
                    "key": row["id"],
                    "at": answered,
                    "first": seconds(asked, answered) if answered else None,
                    "resolution": seconds(row["created_at"], resolved) if resolved else None,
                }
            )
        connection.execute(
            sa.update(conversation)
            .where(conversation.c.id == sa.bindparam("key"))
            .values(
                first_response_at=sa.bindparam("at"),
                business_first_response=sa.bindparam("first"),
                business_resolution=sa.bindparam("resolution"),
            ),
            updates,
        )


def _answers(connection, first: int, last: int) -> dict:
    """Per conversation of the batch: its first customer message and the first agent
    message after it."""
    asked = (
        sa.select(message.c.conversation_id, sa.func.min(message.c.created_at).label("at"))
        .where(message.c.conversation_id.between(first, last), message.c.direction == "in")
        .group_by(message.c.conversation_id)
        .subquery()
    )
    later = sa.func.min(message.c.created_at)
    found = connection.execute(
        sa.select(asked.c.conversation_id, asked.c.at, later)
        .join(message, message.c.conversation_id == asked.c.conversation_id)
        .where(
            message.c.direction == "out",
            message.c.sender_user_id.is_not(None),
            message.c.created_at >= asked.c.at,
        )
        .group_by(asked.c.conversation_id, asked.c.at)
    )
    as_utc = UTCDateTime().process_result_value
    dialect = connection.dialect
    return {
        key: (as_utc(_parse(at), dialect), as_utc(_parse(answered), dialect))
        for key, at, answered in found
    }


def _parse(value):
    """SQLite hands aggregates back as text."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def downgrade() -> None:
    # A plain DROP COLUMN: recreating the table would cascade-delete its children.
    with op.batch_alter_table("conversation", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("business_resolution")
        batch_op.drop_column("business_first_response")
        batch_op.drop_column("first_response_at")
