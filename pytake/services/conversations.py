"""Who may see which conversation: the one rule every read and write goes through."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Conversation, Role


def visible_to(identity: Identity) -> sa.ColumnElement[bool]:
    """Agents see their own and unassigned conversations; supervisors and up, all of them."""
    scope = Conversation.organization_id == identity.organization_id
    if identity.at_least(Role.SUPERVISOR):
        return scope
    return sa.and_(
        scope,
        sa.or_(Conversation.assignee_id == identity.user_id, Conversation.assignee_id.is_(None)),
    )


def get(s: Session, identity: Identity, conversation_id: object, *, lock: bool = False):
    """The conversation if the caller may see it; the same refusal whether it exists or not."""
    if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
        raise AccessError("conversation.not_found")
    query = sa.select(Conversation).where(Conversation.id == conversation_id, visible_to(identity))
    if lock:
        query = query.with_for_update()
    conversation = s.scalars(query).first()
    if conversation is None:
        raise AccessError("conversation.not_found")
    return conversation
