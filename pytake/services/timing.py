"""Response and resolution times kept on the conversation as they happen, in business
hours too: reports then aggregate columns instead of replaying schedules over messages.

First response: from the conversation's first customer message to the first message an
agent sent after it (automatic messages and bots do not count). Resolution: from the
conversation's start to its (latest) resolution.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from pytake.models import Conversation, Message
from pytake.services import hours


def _first_asked(s: Session, conversation_id: int) -> dt.datetime | None:
    return s.execute(
        sa.select(sa.func.min(Message.created_at)).where(
            Message.conversation_id == conversation_id, Message.direction == "in"
        )
    ).scalar_one_or_none()


def replied(s: Session, conversation: Conversation, at: dt.datetime) -> None:
    """An agent sent a message: the first answer to a waiting customer is kept, once."""
    if conversation.first_response_at is not None:
        return
    asked = _first_asked(s, conversation.id)
    if asked is None or asked > at:
        return  # the business wrote first (a template): nobody was waiting yet
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.first_response_at.is_(None))
        .values(
            first_response_at=at,
            business_first_response=hours.seconds_between(s, conversation, asked, at),
        )
        .execution_options(synchronize_session="fetch")
    )


def resolved(s: Session, conversation: Conversation) -> None:
    """The conversation was just resolved: its resolution time in business hours."""
    conversation.business_resolution = hours.seconds_between(
        s, conversation, conversation.created_at, conversation.resolved_at
    )
