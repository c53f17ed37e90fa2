"""Customer satisfaction: when a conversation is resolved (and the organization asks), the
customer gets a WhatsApp list of five ratings; their choice is kept on that conversation
without reopening it.

The rating lives in ``conversation.automation["csat"]``: ``{"asked_at", "score",
"answered_at"}``. Outside the 24-hour window nothing is sent (a rating template is not
offered yet).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.sessions import Identity
from pytake.channels.base import MessageType
from pytake.i18n import translate
from pytake.models import Channel, Contact, Conversation, ConversationStatus, Organization, utcnow
from pytake.services import conversations, organization, outbound

PREFIX = "csat:"
SCORES = (5, 4, 3, 2, 1)
_ANSWER = re.compile(r"^csat:([1-5])$")


def after_resolve(s: Session, identity: Identity, conversation_id: object) -> int | None:
    """Ask the customer of a conversation the caller just resolved for a rating (once per
    resolution); the outbox row to wake, or None."""
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    if conversation.status != ConversationStatus.RESOLVED:
        return None
    if (conversation.automation or {}).get("csat", {}).get("asked_at"):
        return None  # asked already: a second resolve does not ask twice
    return _ask(s, conversation)


def _ask(s: Session, conversation: Conversation) -> int | None:
    org = s.get(Organization, conversation.organization_id)
    settings = organization.settings_of(org)
    if not settings["csat"]:
        return None
    language = settings["language"] or None

    def text(key: str) -> str:
        return translate(f"csat.{key}", language)

    content = {
        "kind": "list",
        "body": text("question"),
        "button": text("button"),
        "sections": [
            {
                "title": text("section"),
                "rows": [
                    {"id": f"{PREFIX}{score}", "title": text(f"score.{score}")} for score in SCORES
                ],
            }
        ],
    }
    asked = utcnow()
    outbox_id = outbound.send_automatic(
        s,
        conversation,
        "",
        f"csat-{conversation.id}-{int(asked.timestamp())}",
        kind=MessageType.INTERACTIVE,
        content=content,
    )
    if outbox_id is not None:
        conversation.automation = {
            **(conversation.automation or {}),
            "csat": {"asked_at": asked.isoformat()},
        }
        s.add(conversation)
    return outbox_id


def score_of(kind: MessageType, content: dict) -> int | None:
    """The rating a customer's list choice gives, if it is one."""
    if kind is not MessageType.LIST_REPLY:
        return None
    found = _ANSWER.match(str((content or {}).get("id", "")))
    return int(found.group(1)) if found else None


def rated(s: Session, channel: Channel, contact: Contact, score: int) -> Conversation | None:
    """Keep the rating on the latest conversation that asked for it and has none yet; that
    conversation (it stays as it is), or None when none is waiting for one."""
    asked = Conversation.automation[("csat", "asked_at")].as_string()
    answered = Conversation.automation[("csat", "score")].as_string()
    conversation = s.exec(
        select(Conversation)
        .where(
            Conversation.channel_id == channel.id,
            Conversation.contact_id == contact.id,
            asked.is_not(None),
            answered.is_(None),
        )
        .order_by(Conversation.id.desc())
        .with_for_update()
    ).first()
    if conversation is None:
        return None
    csat = {**conversation.automation["csat"], "score": score, "answered_at": utcnow().isoformat()}
    conversation.automation = {**conversation.automation, "csat": csat}
    s.add(conversation)
    s.flush()
    return conversation


def rating_score() -> sa.ColumnElement:
    """The stored rating as a number, for reports."""
    return sa.cast(Conversation.automation[("csat", "score")].as_string(), sa.Integer)
