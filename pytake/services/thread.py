"""A conversation as the agent reads it: its header and a page of messages, ready to draw.

Everything a bubble needs is computed here (preview text, file link, quoted message, the
explained error), so the page only renders plain values.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake import phones
from pytake.auth.sessions import Identity
from pytake.channels.base import MEDIA_TYPES, DeliveryStatus, MessageType
from pytake.i18n import translate
from pytake.models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    ConversationLabel,
    Label,
    Message,
    Note,
    Team,
    User,
    utcnow,
)
from pytake.services import conversations, names
from pytake.services.explain import explain

PAGE = 50
SHOWN_APART = frozenset({MessageType.REACTION.value})  # drawn on their target message
# What a bubble reads of a message, as plain rows: a page is drawn and thrown away.
_DRAWN = (
    Message.id,
    Message.direction,
    Message.type,
    Message.status,
    Message.content,
    Message.reactions,
    Message.error,
    Message.sent_at,
    Message.created_at,
    Message.client_key,
    Message.external_id,
    Message.reply_to_external_id,
)
# The kinds that may have a file: media, and templates with a media header.
_FILED = MEDIA_TYPES | {MessageType.TEMPLATE.value}


def header(s: Session, identity: Identity, conversation_id: object) -> dict:
    conversation = conversations.get(s, identity, conversation_id)
    return {**_header(s, conversation), "mine": conversation.assignee_id == identity.user_id}


def header_for_delivery(s: Session, conversation_id: int) -> dict | None:
    """The header without the caller's part ("mine"), for the live core: it is built once
    per change and shown only to tabs whose member's scope sees the conversation."""
    conversation = s.get(Conversation, conversation_id)
    return _header(s, conversation) if conversation is not None else None


def _header(s: Session, conversation: Conversation) -> dict:
    contact = s.get(Contact, conversation.contact_id)
    channel = s.get(Channel, conversation.channel_id)
    expires = conversation.window_expires_at
    assignee = s.get(User, conversation.assignee_id) if conversation.assignee_id else None
    team = s.get(Team, conversation.team_id) if conversation.team_id else None
    labels = s.exec(
        select(Label)
        .join(ConversationLabel, ConversationLabel.label_id == Label.id)
        .where(ConversationLabel.conversation_id == conversation.id)
        .order_by(Label.name)
    ).all()
    return {
        "id": conversation.id,
        "assignee": assignee.name if assignee else "",
        "team": team.name if team else "",
        "team_id": conversation.team_id or 0,
        "labels": [{"id": label.id, "name": label.name, "color": label.color} for label in labels],
        "contact": contact.name or contact.username or phones.for_people(contact.wa_id or ""),
        "initials": names.initials(contact.name or contact.username or ""),
        "number": phones.for_people(contact.wa_id) if contact.wa_id else (contact.username or ""),
        "channel": channel.name,
        "status": conversation.status,
        "window_open": bool(expires and expires > utcnow()),
        "window_expires_at": expires.isoformat() if expires else "",
        "token_invalid": channel.token_invalid_at is not None,
    }


def page(
    s: Session,
    identity: Identity,
    conversation_id: object,
    language: str | None,
    *,
    before: int | None = None,
) -> tuple[list[dict], bool]:
    """Up to PAGE messages (oldest first) before message id ``before``, with the private
    notes written between them; and whether older ones remain."""
    conversation_id = conversations.checked_id(conversation_id)
    return _page(s, conversation_id, language, before, identity)


def latest_for_delivery(s: Session, conversation_id: int, language: str | None):
    """The latest page for the live core, built once per change and language; it reaches
    only the tabs whose member's scope sees the conversation (``realtime.push``)."""
    return _page(s, conversation_id, language, None, None)


def _page(
    s: Session,
    conversation_id: int,
    language: str | None,
    before: object,
    identity: Identity | None,
) -> tuple[list[dict], bool]:
    # The visibility rule and the senders' names ride on the messages' own query: one
    # round trip where a page used to take three.
    query = (
        sa.select(*_DRAWN, User.name.label("sender"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(User, User.id == Message.sender_user_id)
        .where(
            Message.conversation_id == conversation_id,
            conversations.visible_to(identity) if identity is not None else sa.true(),
            col(Message.type).not_in(SHOWN_APART),
        )
    )
    before = before if conversations.valid_id(before) else None
    if before is not None:
        query = query.where(Message.id < before)
    found = s.execute(query.order_by(Message.id.desc()).limit(PAGE + 1)).all()
    if not found and identity is not None:  # refused (the same answer either way), or empty
        conversations.get(s, identity, conversation_id)
    more, found = len(found) > PAGE, found[:PAGE]
    found.reverse()
    notes = []
    if found or before is None:
        upper = None
        if before is not None:  # this page ends where the newer page's first message begins
            upper = (
                s.exec(
                    select(Message.created_at).where(
                        Message.id == before, Message.conversation_id == conversation_id
                    )
                ).first()
                or found[-1].created_at
            )
        notes = _notes(s, conversation_id, found[0].created_at if more else None, upper)
    # Each lookup below runs only when the page needs it: most pages have no files,
    # quotes or notes, and a query per kind would cost more than drawing the page.
    filed = [m.id for m in found if m.type in _FILED]
    files = {
        a.message_id: a
        for a in (
            s.exec(select(Attachment).where(col(Attachment.message_id).in_(filed))) if filed else ()
        )
    }
    quoted_ids = {m.reply_to_external_id for m in found if m.reply_to_external_id}
    quoted = {
        m.external_id: m
        for m in (
            s.execute(
                sa.select(Message.external_id, Message.type, Message.content).where(
                    Message.conversation_id == conversation_id,
                    col(Message.external_id).in_(quoted_ids),
                )
            )
            if quoted_ids
            else ()
        )
    }
    people = {n.author_id for n in notes} | {i for n in notes for i in n.mentions}
    people.discard(None)
    senders = dict(
        s.execute(sa.select(User.id, User.name).where(col(User.id).in_(people))).all()
        if people
        else ()
    )
    bubbles, pending = [], list(notes)
    for message in found:
        while pending and pending[0].created_at < message.created_at:
            bubbles.append(_note(pending.pop(0), senders))
        bubbles.append(_bubble(message, files.get(message.id), quoted, language))
    bubbles += [_note(note, senders) for note in pending]
    return bubbles, more


def _notes(
    s: Session, conversation_id: int, lower: dt.datetime | None, upper: dt.datetime | None
) -> list[Note]:
    """The notes written from the page's first message (or the start) until the next page's
    first message (or now): each note lands on exactly one page."""
    query = select(Note).where(Note.conversation_id == conversation_id)
    if lower is not None:
        query = query.where(Note.created_at >= lower)
    if upper is not None:
        query = query.where(Note.created_at < upper)
    return list(s.exec(query.order_by(Note.created_at, Note.id)))


def _automatic(message: sa.Row, language: str | None) -> str:
    """Who sent a message PyTake sent by itself (greeting, away message)."""
    automatic = message.direction == "out" and (message.client_key or "").startswith("auto-")
    return translate("thread.automatic", language) if automatic else ""


def _note(note: Note, senders: dict[int, str]) -> dict:
    """A note's bubble; its id is negative so it never collides with a message's."""
    return {
        **_EMPTY,
        "id": -note.id,
        "note": True,
        "type": "note",
        "at": note.created_at.isoformat(),
        "day": note.created_at.astimezone(dt.UTC).date().isoformat(),
        "text": note.body,
        "sender": senders.get(note.author_id, ""),
        "segments": segments(note.body, [senders[i] for i in note.mentions if i in senders]),
    }


def segments(text: str, names: list[str]) -> list[dict]:
    """The text cut into plain runs and "@Name" mentions, for the page to highlight."""
    if not names:
        return [{"text": text, "mention": False}]
    pattern = re.compile(
        "(" + "|".join(re.escape("@" + n) for n in sorted(names, key=len, reverse=True)) + ")",
        re.IGNORECASE,
    )
    return [
        {"text": part, "mention": bool(pattern.fullmatch(part))}
        for part in pattern.split(text)
        if part
    ]


# Every bubble carries every key, so the page's typed Vars read them all.
_EMPTY = {
    "out": False,
    "note": False,
    "status": "",
    "reactions": [],
    "media_url": "",
    "media_name": "",
    "media_size": "",
    "media_state": "",
    "media_kind": "",  # how to show the file: a media message's type, a template header's
    "map_url": "",
    "quote": "",
    "has_quote": False,
    "error_reason": "",
    "error_next": "",
    "error_code": "",
    "can_retry": False,
    "can_reply": False,
    "until": "",
    "can_react": False,
    "choices": [],
    "segments": [],
}


def _bubble(
    message: sa.Row,
    attachment: Attachment | None,
    quoted: dict[str, sa.Row],
    language: str | None,
) -> dict:
    content = message.content or {}
    when = message.sent_at if message.direction == "in" and message.sent_at else message.created_at
    bubble = {
        **_EMPTY,
        "id": message.id,
        "out": message.direction == "out",
        "type": message.type,
        "status": message.status,
        "at": when.isoformat(),
        "day": when.astimezone(dt.UTC).date().isoformat(),
        "text": preview(message.type, content, language, full=True),
        "sender": message.sender or _automatic(message, language),
        "reactions": sorted(
            {r["emoji"] for r in (message.reactions or {}).values() if r.get("emoji")}
        ),
        "has_quote": bool(message.reply_to_external_id),
        "can_reply": bool(message.external_id) and message.type != MessageType.SYSTEM,
        "until": str(content.get("until") or "") if message.type == MessageType.ACTIVITY else "",
        "can_react": message.direction == "in" and bool(message.external_id),
        "choices": _choices(message.type, content),
    }
    if message.type == MessageType.TEMPLATE and attachment is not None:
        media = attachment.mime_type.split("/")[0]
        bubble["media_kind"] = media if media in ("image", "video") else "document"
    elif message.type in MEDIA_TYPES:
        bubble["media_kind"] = message.type
    if bubble["media_kind"] and attachment is not None:
        bubble["media_state"] = attachment.state
        if attachment.state == "done":
            bubble["media_url"] = f"/media/{attachment.id}"
        bubble["media_name"] = attachment.filename or content.get("filename") or ""
        bubble["media_size"] = _size(attachment.size_bytes)
    elif message.type in MEDIA_TYPES and content.get("link"):  # sent by link (a bot's step)
        bubble["media_state"], bubble["media_url"] = "done", content["link"]
        bubble["media_name"] = content["link"].rsplit("/", 1)[-1][:80]
    if message.type == MessageType.LOCATION and "latitude" in content:
        lat, lng = content["latitude"], content["longitude"]
        bubble["map_url"] = (
            f"https://www.openstreetmap.org/?mlat={lat}&mlon={lng}#map=16/{lat}/{lng}"
        )
    if message.reply_to_external_id:
        original = quoted.get(message.reply_to_external_id)
        bubble["quote"] = (
            preview(original.type, original.content or {}, language)
            if original is not None
            else translate("thread.quote_unavailable", language)
        )
    if message.status in (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN) and message.error:
        explained = explain(message.status, message.error, language)
        bubble["error_reason"], bubble["error_next"] = explained["reason"], explained["next"]
        bubble["error_code"] = explained["code"]
        bubble["can_retry"] = message.direction == "out" and explained["retry"]
    if message.status == DeliveryStatus.UNKNOWN and not message.error:
        explained = explain(message.status, None, language)
        bubble["error_reason"], bubble["error_next"] = explained["reason"], explained["next"]
        bubble["can_retry"] = message.direction == "out"
    return bubble


def _choices(kind: str, content: dict) -> list[str]:
    """The buttons or list rows an interactive message or a template offered the customer."""
    if kind == MessageType.TEMPLATE:
        return [str(title) for title in content.get("buttons") or []]
    if kind != MessageType.INTERACTIVE:
        return []
    if content.get("kind") == "button":
        return [str(b.get("title", "")) for b in content.get("buttons") or []]
    return [
        str(row.get("title", ""))
        for section in content.get("sections") or []
        for row in section.get("rows") or []
    ]


def _names(content: dict, language: str | None) -> dict:
    reason = content.get("reason")
    return {
        "actor": str(content.get("actor") or ""),
        "target": str(content.get("target") or ""),
        "reason": translate(f"flows.reason.{reason}", language) if reason else "",
    }


def _size(size: int | None) -> str:
    if not size:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def preview(kind: str, content: dict, language: str | None, *, full: bool = False) -> str:
    """What a message says, in words: the text itself, or its kind ("📷 Photo") and caption."""
    text = ""
    if kind == MessageType.TEXT:
        text = str(content.get("body") or "")
    elif kind in MEDIA_TYPES:
        label = "voice" if kind == MessageType.AUDIO and content.get("voice") else kind
        caption = content.get("caption") or content.get("filename") or ""
        text = caption if full else f"{translate(f'preview.{label}', language)} {caption}".strip()
    elif kind == MessageType.LOCATION:
        place = content.get("name") or content.get("address") or ""
        if full:  # the bubble draws the map link itself
            text = "\n".join(str(content[k]) for k in ("name", "address") if content.get(k))
        else:
            text = f"{translate('preview.location', language)} {place}"
    elif kind == MessageType.CONTACTS:
        names = [
            str((card.get("name") or {}).get("formatted_name") or "")
            for card in content.get("cards") or []
            if isinstance(card, dict)
        ]
        text = f"{translate('preview.contacts', language)} {', '.join(n for n in names if n)}"
    elif kind in (MessageType.BUTTON_REPLY, MessageType.LIST_REPLY):
        text = str(content.get("title") or "")
    elif kind == MessageType.TEMPLATE_BUTTON:
        text = str(content.get("text") or content.get("payload") or "")
    elif kind == MessageType.INTERACTIVE:
        text = str(content.get("body") or "")
    elif kind == MessageType.TEMPLATE:
        text = str(content.get("preview") or content.get("name") or "")
        text = text if full else f"{translate('preview.template', language)} {text}"
    elif kind == MessageType.ACTIVITY:
        text = translate(f"activity.{content.get('kind')}", language, **_names(content, language))
    elif kind == MessageType.SYSTEM:
        text = str(content.get("body") or translate("preview.system", language))
    elif kind == MessageType.FLOW_REPLY:
        text = str(content.get("body") or translate("preview.form", language))
    elif kind == MessageType.ORDER:
        text = f"{translate('preview.order', language)} {content.get('text') or ''}".strip()
    else:
        text = translate("preview.unsupported", language)
    return text.strip()
