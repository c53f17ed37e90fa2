"""Messages PyTake sends by itself when a customer writes: the greeting of a new
conversation in business hours, and the away message outside them (once per conversation
per closed period). Both go through the outbox like an agent's reply."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from pytake.models import Conversation, Message
from pytake.services import hours, outbound


def _first_from_customer(s: Session, conversation_id: int) -> bool:
    earlier = s.execute(
        sa.select(sa.func.count())
        .select_from(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
    ).scalar_one()
    return earlier <= 1


def after_inbound(s: Session, conversation: Conversation, at: dt.datetime) -> int | None:
    """Queue the greeting or away message this customer message calls for; returns the
    outbox row to wake, if any. Idempotent: a reprocessed message sends nothing again."""
    found = hours.state(s, conversation, at)
    if found is None:
        return None  # most numbers: no further query on the inbound path
    s.refresh(conversation)  # the window and markers as the message's UPDATE left them
    schedule, opened, period = found
    done = dict(conversation.automation or {})
    outbox_id = None
    if not opened and schedule.away_message and done.get("away") != period:
        outbox_id = outbound.send_automatic(
            s, conversation, schedule.away_message, f"auto-away-{period}"
        )
        done["away"] = period
    elif opened and schedule.greeting_message and not done.get("greeted"):
        if _first_from_customer(s, conversation.id):
            outbox_id = outbound.send_automatic(
                s, conversation, schedule.greeting_message, "auto-greeting"
            )
        done["greeted"] = True
    conversation.automation = done
    s.add(conversation)
    return outbox_id
