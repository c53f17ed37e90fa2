"""A chatbot run's states, and its end: finished, or stopped because a human took over."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.models import Conversation, FlowRun, utcnow
from pytake.services.activity import record_activity

PENDING, WAITING = "pending", "waiting"  # work due at next_attempt_at / idle until a reply
ACTIVE = (PENDING, WAITING)
DONE, STOPPED, FAILED = "done", "stopped", "failed"
BOT = "PyTake"


def active_run(s: Session, conversation: Conversation) -> FlowRun | None:
    if conversation.bot_run_id is None:
        return None
    run = s.get(FlowRun, conversation.bot_run_id, with_for_update=True)
    return run if run is not None and run.state in ACTIVE else None


def end(s: Session, run: FlowRun, state: str, reason: str) -> None:
    run.state, run.end_reason, run.ended_at = state, reason[:40], utcnow()
    run.wake_at = run.next_attempt_at = None
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == run.conversation_id, Conversation.bot_run_id == run.id)
        .values(bot_run_id=None)
    )


def stop(s: Session, conversation: Conversation, reason: str, actor: str) -> bool:
    """A human took over (replied, took or resolved the conversation): the bot lets go."""
    run = active_run(s, conversation)
    if run is None:
        return False
    end(s, run, STOPPED, reason)
    conversation.bot_run_id = None
    record_activity(s, conversation, "bot_stopped", actor, reason=reason)
    return True


def stop_flow(s: Session, flow_id: int) -> None:
    """Every conversation a deleted flow answers goes back to its queue."""
    for run in s.exec(
        select(FlowRun).where(FlowRun.flow_id == flow_id, FlowRun.state.in_(ACTIVE))
    ).all():
        end(s, run, STOPPED, "flow_deleted")
