"""Who may see which conversation: the one rule every read and write goes through."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Conversation, Role, TeamMember

# An organization's choice of what agents see besides their own conversations and their
# teams' ones: every unassigned conversation, or only those no team owns yet.
VISIBILITY_RULES = ("organization", "team")


def my_teams(identity: Identity) -> sa.Select:
    return sa.select(TeamMember.team_id).where(TeamMember.user_id == identity.user_id)


def visible_to(identity: Identity) -> sa.ColumnElement[bool]:
    """Supervisors and up see the whole organization. Agents see their own conversations,
    their teams' ones and the unassigned ones (under the "team" rule, only those of no team).
    """
    scope = Conversation.organization_id == identity.organization_id
    if identity.at_least(Role.SUPERVISOR):
        return scope
    queue = Conversation.assignee_id.is_(None)
    if identity.visibility == "team":
        queue = sa.and_(queue, Conversation.team_id.is_(None))
    return sa.and_(
        scope,
        sa.or_(
            Conversation.assignee_id == identity.user_id,
            Conversation.team_id.in_(my_teams(identity)),
            queue,
        ),
    )


def get(s: Session, identity: Identity, conversation_id: object, *, lock: bool = False):
    """The conversation if the caller may see it; the same refusal whether it exists or not."""
    if not valid_id(conversation_id):
        raise AccessError("conversation.not_found")
    query = sa.select(Conversation).where(Conversation.id == conversation_id, visible_to(identity))
    if lock:
        query = query.with_for_update()
    conversation = s.scalars(query).first()
    if conversation is None:
        raise AccessError("conversation.not_found")
    return conversation


def valid_id(value: object) -> bool:
    """An id as the database holds them; anything else a client sends is refused."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63
