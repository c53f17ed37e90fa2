"""Tables used as durable queues: rows waiting, retried with backoff, given up after N tries.

The database row is the truth about a job; Redis Streams (or an in-process loop) only decide
who works on it now. So a job survives a lost Redis message, a crash or a restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake import db
from pytake.models import utcnow
from pytake.settings import get_settings

log = logging.getLogger("pytake.jobs")
PENDING = "pending"


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    return dt.timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


@dataclasses.dataclass(frozen=True)
class RowQueue:
    model: type  # has id, state, attempts, next_attempt_at, error
    created: str  # the column holding when the row arrived
    dead_state: str

    def due(self, s: Session, limit: int, now: dt.datetime, fresh_before: dt.datetime) -> list[int]:
        """Rows whose retry time has come, and unscheduled ones that arrived before
        ``fresh_before`` (with Redis, newer ones are already in the stream)."""
        model = self.model
        scheduled = model.next_attempt_at <= now
        unscheduled = col(model.next_attempt_at).is_(None) & (
            getattr(model, self.created) < fresh_before
        )
        query = (
            select(model.id)
            .where(model.state == PENDING, scheduled | unscheduled)
            .order_by(model.id)
            .limit(limit)
        )
        return list(s.exec(query))

    def reschedule(self, row, error: str) -> None:
        """Count a failed attempt: try again later, or give up after the last one."""
        row.attempts += 1
        row.error = error[:4000]
        if row.attempts >= get_settings().job_max_attempts:
            row.state, row.next_attempt_at = self.dead_state, None
            log.error(
                "%s %s given up after %s attempts: %s",
                self.model.__tablename__,
                row.id,
                row.attempts,
                error,
            )
        else:
            row.next_attempt_at = utcnow() + backoff(row.attempts)

    def fail(self, row_id: int, error: str) -> None:
        """A failure outside the job's own handling (it raised, or its worker died)."""
        with db.session(write=True) as s:
            row = s.get(self.model, row_id)
            if row is not None and row.state == PENDING:
                self.reschedule(row, error)

    def give_up(self, row_id: int, error: str) -> None:
        with db.session(write=True) as s:
            row = s.get(self.model, row_id)
            if row is not None and row.state == PENDING:
                row.attempts += 1
                row.state, row.error, row.next_attempt_at = self.dead_state, error[:4000], None
                log.error("%s %s given up: %s", self.model.__tablename__, row_id, error)

    def lease(self, s: Session, ids: list[int], until: dt.datetime) -> None:
        """Handed to a worker: not due again before ``until`` unless it fails first."""
        if ids:
            s.execute(
                sa.update(self.model)
                .where(col(self.model.id).in_(ids), self.model.state == PENDING)
                .values(next_attempt_at=until)
            )
