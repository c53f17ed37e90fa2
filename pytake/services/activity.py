"""The conversation's history of what people and PyTake did ("Ana took this conversation")."""

from __future__ import annotations

from sqlmodel import Session

from pytake.channels.base import MessageType
from pytake.models import Conversation, Message, utcnow
from pytake.services import alerts

ACTIVITY = MessageType.ACTIVITY.value


def record_activity(
    s: Session,
    conversation: Conversation,
    kind: str,
    actor: str,
    *,
    sender_user_id: int | None = None,
    **details,
) -> None:
    """An entry in the conversation's history ("Ana took this conversation")."""
    message = Message(
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        channel_id=conversation.channel_id,
        direction="sys",
        type=ACTIVITY,
        content={"kind": kind, "actor": actor, **details},
        sender_user_id=sender_user_id,
        status="received",
        reactions={},
    )
    s.add(message)
    conversation.last_activity_at = utcnow()
    if kind in alerts.ASSIGNING:
        s.flush()
        alerts.on_activity(s, conversation, message)
