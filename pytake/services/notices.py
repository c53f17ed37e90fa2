"""What deserves a member's attention as it happens: a new conversation in their queues, a
customer writing in a conversation of theirs, a conversation given to them, an @mention;
each kind as the member's preferences choose, and without sound during their quiet hours.

Worked out per member when a conversation changes (the push relay asks each tab), through
the visibility rule, so a notice never tells of a conversation the member could not open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.sessions import Identity
from pytake.channels.base import MessageType
from pytake.models import Contact, Conversation, Message, Note, utcnow
from pytake.services import alerts, conversations, preferences, thread

SHOWN = 5  # notices at most from one change: a burst reads as its latest messages
MAX_BODY = 140


def about(
    s: Session,
    identity: Identity,
    conversation_ids: Iterable[object],
    since: dt.datetime,
    seen: set[int],
    language: str | None = None,
) -> list[dict]:
    """Notices for ``identity`` from messages and notes of the conversations created after
    ``since`` and not in ``seen`` (ids of messages, negative for notes, already told);
    previews of media in ``language``."""
    ids = sorted({i for i in conversation_ids if conversations.valid_id(i)})
    found = [n for i in ids for n in _about_one(s, identity, i, since, seen, language)]
    if not found:  # most changes tell a tab nothing: no preferences read for them
        return []
    wanted = preferences.get(s, identity)
    quiet = wanted.quiet_until(utcnow()) is not None
    return [{**n, "quiet": quiet} for n in found if wanted.wants(n["kind"], "app")][-SHOWN:]


def _about_one(
    s: Session,
    identity: Identity,
    conversation_id: object,
    since: dt.datetime,
    seen: set[int],
    language: str | None,
) -> list[dict]:
    conversation = s.exec(
        select(Conversation).where(
            Conversation.id == conversation_id, conversations.visible_to(identity)
        )
    ).first()
    if conversation is None:
        return []
    who = alerts.contact_label(s.get(Contact, conversation.contact_id))
    found = [
        notice
        for message in _recent(s, Message, conversation.id, since, seen)
        if (notice := _of_message(s, identity, conversation, message, who, language)) is not None
    ]
    for note in _recent(s, Note, conversation.id, since, {-i for i in seen if i < 0}):
        if identity.user_id in (note.mentions or []) and note.author_id != identity.user_id:
            body = note.body[:MAX_BODY]
            found.append(_notice("mention", -note.id, conversation, who, body))
    return found


def _recent(s: Session, model, conversation_id: int, since: dt.datetime, seen: set[int]):
    return s.exec(
        select(model)
        .where(
            model.conversation_id == conversation_id,
            model.created_at > since,
            model.id.not_in(seen) if seen else sa.true(),
        )
        .order_by(model.id)
        .limit(50)
    ).all()


def _of_message(s, identity, conversation, message, who, language) -> dict | None:
    me = identity.user_id
    if message.type == MessageType.ACTIVITY:
        kind = (message.content or {}).get("kind")
        if (
            kind in alerts.ASSIGNING
            and conversation.assignee_id == me
            and message.sender_user_id != me
        ):
            return _notice("assigned", message.id, conversation, who, "")
        return None
    if message.direction != "in" or message.type == MessageType.SYSTEM:
        return None
    body = thread.preview(message.type, message.content or {}, language)[:MAX_BODY]
    if conversation.assignee_id == me:
        return _notice("message", message.id, conversation, who, body)
    if (
        conversation.assignee_id is None
        and conversation.bot_run_id is None
        and _in_my_queues(s, identity, conversation)
        and alerts.first_from_customer(s, conversation.id, message.id)
    ):
        return _notice("new_conversation", message.id, conversation, who, body)
    return None


def _in_my_queues(s: Session, identity: Identity, conversation: Conversation) -> bool:
    if conversation.team_id is None:
        return True
    return conversation.team_id in set(s.exec(conversations.my_teams(identity)).all())


def _notice(kind: str, key: int, conversation: Conversation, who: str, body: str) -> dict:
    return {"key": key, "kind": kind, "name": who, "body": body, "url": f"/inbox/{conversation.id}"}
