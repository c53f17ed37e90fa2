"""Who may see which conversation: the one rule every read and write goes through."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Conversation, ConversationLabel, Role, TeamMember

# An organization's choice of what agents see; supervisors and up always see everything.
#   all           every conversation of the organization
#   organization  their own, their teams' and every unassigned one (the shared queue)
#   team          their own, their teams' and the unassigned ones of no team
#   own           their own, and the unassigned ones of their teams or of no team
VISIBILITY_RULES = ("all", "organization", "team", "own")
DEFAULT_VISIBILITY = "organization"


def my_teams(identity: Identity) -> sa.Select:
    return sa.select(TeamMember.team_id).where(TeamMember.user_id == identity.user_id)


def visible_to(identity: Identity) -> sa.ColumnElement[bool]:
    """The organization's rule (above) as one SQL condition, for lists and single reads."""
    scope = Conversation.organization_id == identity.organization_id
    rule = identity.visibility
    if identity.at_least(Role.SUPERVISOR) or rule == "all":
        return scope
    unassigned = Conversation.assignee_id.is_(None)
    teamless = Conversation.team_id.is_(None)
    mine = Conversation.assignee_id == identity.user_id
    in_my_teams = Conversation.team_id.in_(my_teams(identity))
    if rule == "own":
        seen = sa.or_(mine, sa.and_(unassigned, sa.or_(teamless, in_my_teams)))
    elif rule == "team":
        seen = sa.or_(mine, in_my_teams, sa.and_(unassigned, teamless))
    else:
        seen = sa.or_(mine, in_my_teams, unassigned)
    return sa.and_(scope, seen)


def get(s: Session, identity: Identity, conversation_id: object, *, lock: bool = False):
    """The conversation if the caller may see it; the same refusal whether it exists or not."""
    query = sa.select(Conversation).where(
        Conversation.id == checked_id(conversation_id), visible_to(identity)
    )
    if lock:
        query = query.with_for_update()
    conversation = s.scalars(query).first()
    if conversation is None:
        raise AccessError("conversation.not_found")
    return conversation


def checked_id(value: object) -> int:
    """A conversation id the client sent, or the refusal an unseen conversation gets."""
    if not valid_id(value):
        raise AccessError("conversation.not_found")
    return value


def valid_id(value: object) -> bool:
    """An id as the database holds them; anything else a client sends is refused."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


@dataclasses.dataclass(frozen=True)
class Narrowing:
    """Conversations of one number, team, assignee or label (None: any), as search and
    reports offer them."""

    channel_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    label_id: int | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        where = []
        if self.channel_id:
            where.append(Conversation.channel_id == self.channel_id)
        if self.team_id:
            where.append(Conversation.team_id == self.team_id)
        if self.assignee_id:
            where.append(Conversation.assignee_id == self.assignee_id)
        if self.label_id:
            labelled = sa.select(ConversationLabel.conversation_id).where(
                ConversationLabel.label_id == self.label_id
            )
            where.append(Conversation.id.in_(labelled))
        return where
