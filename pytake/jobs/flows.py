"""Advancing chatbot runs: each ``flow_run`` row is a queue entry, due when the customer
answered or a timer (a wait, a question's time limit) ran out."""

from __future__ import annotations

import asyncio
import dataclasses

from pytake import db
from pytake.jobs.rows import RowQueue
from pytake.models import Conversation, FlowRun, utcnow
from pytake.services import bot
from pytake.services.activity import record_activity
from pytake.services.effects import Effects


@dataclasses.dataclass(frozen=True)
class RunQueue(RowQueue):
    """A run given up after failing pass after pass lets go of its conversation, which
    would otherwise stay out of every agent's queue (assignment skips bot conversations)."""

    def fail(self, row_id: int, error: str) -> None:
        super().fail(row_id, error)
        self._let_go(row_id)

    def give_up(self, row_id: int, error: str) -> None:
        super().give_up(row_id, error)
        self._let_go(row_id)

    def _let_go(self, row_id: int) -> None:
        with db.session(write=True) as s:
            run = s.get(FlowRun, row_id)
            if run is None or run.state != self.dead_state:
                return
            conversation = s.get(Conversation, run.conversation_id)
            if conversation is not None and conversation.bot_run_id == run.id:
                conversation.bot_run_id = None
                record_activity(s, conversation, "bot_ended", bot.BOT, reason="broken")
            run.end_reason = run.end_reason or "broken"
            run.ended_at = run.ended_at or utcnow()


QUEUE = RunQueue(FlowRun, "created_at", bot.FAILED)


async def advance(run_id: int) -> Effects:
    def run() -> Effects:
        effects = Effects()
        bot.process(run_id, effects)
        return effects

    return await asyncio.to_thread(run)
