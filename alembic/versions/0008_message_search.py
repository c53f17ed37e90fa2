"""messages' words folded for search, a full-text index on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from pytake.services.search import indexed

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
# pytake.folding.fold for the accented letters of the languages PyTake speaks (SQLite gets
# the Python function itself).
FOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION pytake_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
  SELECT regexp_replace(
    translate(lower(value), 'áàâãäåéèêëíìîïóòôõöúùûüçñýÿ', 'aaaaaaeeeeiiiiooooouuuucnyy'),
    '\\s+', ' ', 'g')
$$
"""
SEARCH_INDEX = """
CREATE INDEX IF NOT EXISTS ix_message_search ON message USING gin (
  (to_tsvector('portuguese'::regconfig, coalesce(search_text, ''))
   || to_tsvector('english'::regconfig, coalesce(search_text, '')))
)
"""


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FOLD_FUNCTION)
        op.execute(SEARCH_INDEX)


def _backfill() -> None:
    """Existing messages, a batch at a time (a large history is never held in memory)."""
    bind = op.get_bind()
    message = sa.table(
        "message",
        sa.column("id", sa.BigInteger),
        sa.column("content", sa.JSON),
        sa.column("search_text", sa.Text),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(message.c.id, message.c.content)
            .where(message.c.id > last)
            .order_by(message.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        updates = [
            {"row_id": row_id, "text": text}
            for row_id, content in rows
            if (text := indexed(content if isinstance(content, dict) else None))
        ]
        if updates:
            bind.execute(
                message.update()
                .where(message.c.id == sa.bindparam("row_id"))
                .values(search_text=sa.bindparam("text")),
                updates,
            )
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_message_search")
        op.execute("DROP FUNCTION IF EXISTS pytake_fold(text)")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("search_text")
