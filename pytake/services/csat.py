"""Customer satisfaction: when a conversation is resolved (and the organization asks), the
customer is asked for a rating: inside the 24-hour window with a WhatsApp list of five
ratings, outside it with the organization's rating template (its quick-reply buttons, in
order, rate from best to worst). Their choice is kept on that conversation without
reopening it; then they may add one message of comment, kept the same way.

The rating lives in ``conversation.automation["csat"]``: ``{"asked_at", "score",
"answered_at", "comment_until", "comment"}``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.sessions import Identity
from pytake.channels.base import MessageType
from pytake.i18n import translate
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    MessageTemplate,
    Organization,
    utcnow,
)
from pytake.services import conversations, organization, outbound, templates

PREFIX = "csat:"
SCORES = (5, 4, 3, 2, 1)
COMMENT_TIME = dt.timedelta(minutes=30)  # after the rating, one message is its comment
MAX_COMMENT = 1000
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
    if outbound.window_open(conversation):
        kind, content = MessageType.INTERACTIVE, _rating_list(settings["language"] or None)
    else:
        content = _rating_template(s, conversation, settings)
        if content is None:
            return None  # no rating template (or none this number can send)
        kind = MessageType.TEMPLATE
    asked = utcnow()
    outbox_id = outbound.send_automatic(
        s,
        conversation,
        "",
        f"csat-{conversation.id}-{int(asked.timestamp())}",
        kind=kind,
        content=content,
    )
    if outbox_id is not None:
        _keep(s, conversation, asked_at=asked.isoformat())
    return outbox_id


def _keep(s: Session, conversation: Conversation, **values) -> None:
    csat = {**(conversation.automation or {}).get("csat", {}), **values}
    conversation.automation = {**(conversation.automation or {}), "csat": csat}
    s.add(conversation)


def _rating_list(language: str | None) -> dict:
    def text(key: str) -> str:
        return translate(f"csat.{key}", language)

    return {
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


def spread(buttons: int) -> list[int]:
    """The rating each of ``buttons`` quick replies gives, best first: 2 → 5, 1; 3 → 5, 3,
    1; 5 → 5, 4, 3, 2, 1."""
    count = min(buttons, len(SCORES))
    if count < 2:
        return []
    return [round(5 - 4 * n / (count - 1)) for n in range(count)]


def _rating_template(s: Session, conversation: Conversation, settings: dict) -> dict | None:
    """The organization's rating template for this number, filled in: text variables take
    the customer's first name, quick replies carry the ratings."""
    name = settings["csat_template"]
    if not name:
        return None
    channel = s.get(Channel, conversation.channel_id)
    spoken = (settings["language"] or "").replace("-", "_")
    found = s.exec(
        select(MessageTemplate)
        .where(
            MessageTemplate.organization_id == conversation.organization_id,
            MessageTemplate.account_id == channel.account_id,
            MessageTemplate.name == name,
            MessageTemplate.status == templates.SENDABLE,
        )
        .order_by(sa.case((MessageTemplate.language == spoken, 0), else_=1))
    ).first()
    if found is None:
        return None
    fields = templates.variables(found)
    if any(field["kind"] != "text" for field in fields):
        return None  # a media header or a button variable has nothing to be filled from
    contact = s.get(Contact, conversation.contact_id)
    first = (contact.name or contact.username or "").split(" ")[0] or "🙂"
    content = templates.compose(found, {field["key"]: first for field in fields})
    quick = [
        index
        for component in found.components or []
        if str(component.get("type", "")).upper() == "BUTTONS"
        for index, button in enumerate(component.get("buttons") or [])
        if str(button.get("type", "")).upper() == "QUICK_REPLY"
    ]
    scores = spread(len(quick))
    if not scores:
        return None
    content["components"] = [
        *content["components"],
        *(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": f"{PREFIX}{score}"}],
            }
            for index, score in zip(quick, scores, strict=False)
        ),
    ]
    return content


def score_of(kind: MessageType, content: dict) -> int | None:
    """The rating a customer's list choice or template button gives, if it is one."""
    if kind is MessageType.LIST_REPLY:
        value = (content or {}).get("id", "")
    elif kind is MessageType.TEMPLATE_BUTTON:
        value = (content or {}).get("payload", "")
    else:
        return None
    found = _ANSWER.match(str(value))
    return int(found.group(1)) if found else None


def _latest(s: Session, channel: Channel, contact: Contact, *conditions) -> Conversation | None:
    return s.exec(
        select(Conversation)
        .where(Conversation.channel_id == channel.id, Conversation.contact_id == contact.id)
        .where(*conditions)
        .order_by(Conversation.id.desc())
        .with_for_update()
    ).first()


@functools.cache
def _waiting_comment():
    """The latest conversation waiting for a comment: asked for every customer text, so
    built once."""
    waiting = Conversation.automation[("csat", "comment_until")].as_string()
    given = Conversation.automation[("csat", "comment")].as_string()
    return (
        select(Conversation)
        .where(
            Conversation.channel_id == sa.bindparam("channel_id"),
            Conversation.contact_id == sa.bindparam("contact_id"),
            waiting.is_not(None),
            given.is_(None),
        )
        .order_by(Conversation.id.desc())
        .with_for_update()
    )


def rated(s: Session, channel: Channel, contact: Contact, score: int) -> Conversation | None:
    """Keep the rating on the latest conversation that asked for it and has none yet; that
    conversation (it stays as it is), or None when none is waiting for one."""
    asked = Conversation.automation[("csat", "asked_at")].as_string()
    answered = Conversation.automation[("csat", "score")].as_string()
    conversation = _latest(s, channel, contact, asked.is_not(None), answered.is_(None))
    if conversation is None:
        return None
    now = utcnow()
    _keep(
        s,
        conversation,
        score=score,
        answered_at=now.isoformat(),
        comment_until=(now + COMMENT_TIME).isoformat(),
    )
    s.flush()
    return conversation


def ask_comment(s: Session, conversation: Conversation) -> int | None:
    """Right after a rating: the customer may say more, in one message."""
    return _say(s, conversation, "comment_question")


def _say(s: Session, conversation: Conversation, key: str) -> int | None:
    org = s.get(Organization, conversation.organization_id)
    language = organization.settings_of(org)["language"] or None
    text = translate(f"csat.{key}", language)
    return outbound.send_automatic(s, conversation, text, f"csat-{key}-{conversation.id}")


def commented(s: Session, channel: Channel, contact: Contact, text: str) -> Conversation | None:
    """Keep a text as the comment of a rating given moments ago; that conversation, or None
    when no rating waits for one (then the message is an ordinary one)."""
    ids = {"channel_id": channel.id, "contact_id": contact.id}
    conversation = s.exec(_waiting_comment(), params=ids).first()
    if conversation is None or conversation.status != ConversationStatus.RESOLVED:
        return None
    until = dt.datetime.fromisoformat(conversation.automation["csat"]["comment_until"])
    if until < utcnow() or not text.strip():
        return None
    _keep(s, conversation, comment=text.strip()[:MAX_COMMENT])
    s.flush()
    return conversation


def thank(s: Session, conversation: Conversation) -> int | None:
    return _say(s, conversation, "comment_thanks")


def rating_score() -> sa.ColumnElement:
    """The stored rating as a number, for reports."""
    return sa.cast(Conversation.automation[("csat", "score")].as_string(), sa.Integer)
