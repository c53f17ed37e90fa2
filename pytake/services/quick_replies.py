"""Quick replies: an organization's (or a team's) canned answers, inserted with "/shortcut".

Supervisors and up keep them; every agent uses the organization's and their teams' ones.
Variables are filled when inserted: {{contact.name}}, {{contact.first_name}},
{{agent.name}}, {{agent.first_name}}, and {{contact.<attribute>}} for custom attributes.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.db import contains
from pytake.models import Contact, QuickReply, Role, Team, utcnow
from pytake.services import conversations
from pytake.services.contacts import attributes_of
from pytake.services.conversations import my_teams, valid_id
from pytake.variables import contact_values, substitute

MAX_BODY = 4096
MAX_REPLIES = 500
SHOWN = 8  # the composer's picker lists at most this many matches
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _usable(identity: Identity) -> sa.ColumnElement[bool]:
    scope = QuickReply.organization_id == identity.organization_id
    if identity.at_least(Role.SUPERVISOR):
        return scope
    return sa.and_(
        scope, sa.or_(QuickReply.team_id.is_(None), QuickReply.team_id.in_(my_teams(identity)))
    )


def listing(s: Session, identity: Identity, search: str = "", *, limit: int = 200) -> list[dict]:
    """The caller's quick replies, by shortcut; ``search`` matches the start of a shortcut
    first, then any part of it or of the text."""
    term = search.strip().lower()[:40] if isinstance(search, str) else ""
    query = (
        select(QuickReply, Team.name)
        .outerjoin(Team, Team.id == QuickReply.team_id)
        .where(_usable(identity))
    )
    if term:
        pattern = contains(term)
        query = query.where(
            sa.or_(
                QuickReply.shortcut.like(pattern, escape="\\"),
                QuickReply.body.ilike(pattern, escape="\\"),
            )
        ).order_by(sa.case((QuickReply.shortcut.startswith(term, autoescape=True), 0), else_=1))
    rows = s.exec(query.order_by(QuickReply.shortcut, QuickReply.id).limit(limit)).all()
    return [
        {
            "id": reply.id,
            "shortcut": reply.shortcut,
            "body": reply.body,
            "team": team or "",
            "team_id": reply.team_id or 0,
        }
        for reply, team in rows
    ]


def save(
    s: Session,
    identity: Identity,
    *,
    shortcut: object,
    body: object,
    team_id: object = None,
    reply_id: object = None,
) -> QuickReply:
    """Create, or (with ``reply_id``) change, a quick reply of the caller's organization."""
    if not identity.at_least(Role.SUPERVISOR):
        raise NotAllowed("quick_reply.not_allowed")
    shortcut = shortcut.strip().lstrip("/").lower() if isinstance(shortcut, str) else ""
    if not _SHORTCUT.match(shortcut):
        raise AccessError("quick_reply.bad_shortcut")
    text = body.strip() if isinstance(body, str) else ""
    if not text or len(text) > MAX_BODY:
        raise AccessError("quick_reply.bad_body", max=MAX_BODY)
    org = identity.organization_id
    if team_id is not None:
        team = s.get(Team, team_id) if valid_id(team_id) else None
        if team is None or team.organization_id != org:
            raise AccessError("conversation.team_invalid")
    reply = _own(s, identity, reply_id) if reply_id is not None else None
    taken = s.exec(
        select(QuickReply.id).where(
            QuickReply.organization_id == org,
            QuickReply.shortcut == shortcut,
            QuickReply.team_id == team_id if team_id is not None else QuickReply.team_id.is_(None),
            QuickReply.id != (reply.id if reply else 0),
        )
    ).first()
    if taken is not None:
        raise AccessError("quick_reply.shortcut_taken", shortcut=shortcut)
    if reply is None:
        count = s.execute(
            sa.select(sa.func.count()).where(QuickReply.organization_id == org)
        ).scalar_one()
        if count >= MAX_REPLIES:
            raise AccessError("quick_reply.too_many", max=MAX_REPLIES)
        reply = QuickReply(
            organization_id=org, created_by_id=identity.user_id, shortcut="", body=""
        )
        s.add(reply)
    reply.shortcut, reply.body, reply.team_id, reply.updated_at = shortcut, text, team_id, utcnow()
    s.flush()
    return reply


def delete(s: Session, identity: Identity, reply_id: object) -> None:
    if not identity.at_least(Role.SUPERVISOR):
        raise NotAllowed("quick_reply.not_allowed")
    s.delete(_own(s, identity, reply_id))


def _own(s: Session, identity: Identity, reply_id: object) -> QuickReply:
    reply = s.get(QuickReply, reply_id) if valid_id(reply_id) else None
    if reply is None or reply.organization_id != identity.organization_id:
        raise AccessError("quick_reply.not_found")
    return reply


def filled(s: Session, identity: Identity, conversation_id: object, reply_id: object) -> str:
    """The quick reply's text for this conversation's customer and this agent."""
    conversation = conversations.get(s, identity, conversation_id)
    reply = (
        s.exec(select(QuickReply).where(QuickReply.id == reply_id, _usable(identity))).first()
        if valid_id(reply_id)
        else None
    )
    if reply is None:
        raise AccessError("quick_reply.not_found")
    contact = s.get(Contact, conversation.contact_id)
    return fill(reply.body, contact, identity.name)


def fill(body: str, contact: Contact, agent_name: str) -> str:
    name = contact.name or contact.username or ""
    values = contact_values(name, contact.wa_id) | {
        ("agent", "name"): agent_name,
        ("agent", "first_name"): agent_name.split(" ")[0],
    }
    return substitute(body, values, attributes_of(contact))
