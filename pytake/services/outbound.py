"""What an agent sends: checked, stored with its outbox row in one transaction, never twice.

The sender worker (``pytake.jobs.outbox``) does the API call later; here the message is only
accepted or refused, with a reason the agent can act on. Ids from the client (conversation,
quoted message, reaction target) are resolved inside the caller's organization and
visibility, never trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import mimetypes
import re
import secrets
import shutil
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake import audio, db, sniff
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels import adapter
from pytake.channels.base import MEDIA_TYPES, DeliveryStatus, MessageType
from pytake.models import (
    Attachment,
    Channel,
    Conversation,
    Message,
    Outbox,
    OutboxState,
    utcnow,
)
from pytake.services import conversations, runs, search, timing
from pytake.settings import get_settings

REFERENCE_PREFIX = "pytake-"  # what the platform echoes back in statuses
CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
# Messages allowed when the customer's 24-hour window is closed.
OUTSIDE_WINDOW = frozenset({MessageType.TEMPLATE})
TEMPLATE_FILES = ("image", "video", "document")  # a template header's media kinds
RESENDABLE = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN})
_MB = 1024 * 1024
_DOCUMENTS = (
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
# What WhatsApp accepts per kind, and the largest file (Meta's reference, §5).
UPLOADS: dict[MessageType, tuple[tuple[str, ...], int]] = {
    MessageType.IMAGE: (("image/jpeg", "image/png"), 5 * _MB),
    MessageType.VIDEO: (("video/mp4", "video/3gpp"), 16 * _MB),
    MessageType.AUDIO: (
        ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"),
        16 * _MB,
    ),
    MessageType.STICKER: (("image/webp",), 500 * 1024),
    MessageType.DOCUMENT: (_DOCUMENTS, 100 * _MB),
}
VOICE_NOTE_MAX = 512 * 1024  # larger voice notes lose WhatsApp's play button


@dataclasses.dataclass(frozen=True)
class StagedFile:
    """A file the agent attached, saved by the web layer before the send is accepted."""

    path: Path
    mime_type: str
    filename: str


@dataclasses.dataclass(frozen=True)
class Accepted:
    message_id: int
    outbox_id: int | None  # None: the same client key was sent before (nothing new queued)
    conversation: tuple[int, int]  # (organization, conversation), to announce


def reference(message_id: int) -> str:
    return f"{REFERENCE_PREFIX}{message_id}"


def referenced_id(value: str | None) -> int | None:
    number = value[len(REFERENCE_PREFIX) :] if value else ""
    if value and value.startswith(REFERENCE_PREFIX) and number.isdigit():
        return int(number)
    return None


def window_open(conversation: Conversation) -> bool:
    expires = conversation.window_expires_at
    return expires is not None and expires > utcnow()


def send(
    s: Session,
    identity: Identity,
    conversation_id: object,
    kind: str,
    content: dict,
    *,
    client_key: object,
    reply_to: object = None,
    file: StagedFile | None = None,
) -> Accepted:
    if not isinstance(client_key, str) or not CLIENT_KEY.fullmatch(client_key):
        raise AccessError("send.client_key_invalid")
    conversation = conversations.get(s, identity, conversation_id)
    existing = _by_client_key(s, conversation.id, client_key)
    if existing is not None:  # a double click, or a retry after a lost answer
        return Accepted(existing, None, (conversation.organization_id, conversation.id))
    channel = s.get(Channel, conversation.channel_id)
    if not channel.is_active:
        raise AccessError("send.channel_inactive")
    if kind == MessageType.REACTION:
        content = {**content, "target": _external_id(s, conversation, content.get("target"))}
    content = adapter(channel.kind).check(kind, content)
    message_type = MessageType(kind)
    if message_type not in OUTSIDE_WINDOW and not window_open(conversation):
        raise AccessError("send.window_closed")
    quoted = None
    if reply_to is not None and message_type is not MessageType.REACTION:
        quoted = _external_id(s, conversation, reply_to)
    carried = file_kind(message_type, content)
    if message_type in MEDIA_TYPES and file is None:
        raise AccessError("send.file_required")
    if file is not None and carried is None:
        raise AccessError("send.file_unexpected")
    queued = _enqueue(
        s,
        conversation,
        message_type,
        content,
        client_key=client_key,
        sender_user_id=identity.user_id,
        reply_to_external_id=quoted,
    )
    if queued is None:  # the same key, committed by a concurrent request
        return Accepted(
            _by_client_key(s, conversation.id, client_key),
            None,
            (conversation.organization_id, conversation.id),
        )
    message_id, outbox_id = queued
    runs.stop(s, conversation, "agent_replied", identity.name)
    timing.replied(s, conversation, utcnow())
    if file is not None:
        _attach(s, conversation.organization_id, message_id, carried, content, file)
    return Accepted(message_id, outbox_id, (conversation.organization_id, conversation.id))


def _enqueue(
    s: Session,
    conversation: Conversation,
    message_type: MessageType,
    content: dict,
    *,
    client_key: str,
    sender_user_id: int | None,
    reply_to_external_id: str | None = None,
) -> tuple[int, int] | None:
    """The message and its outbox row in the caller's transaction; None when the key was
    used already (the message exists: nothing is sent twice)."""
    values = {
        "organization_id": conversation.organization_id,
        "conversation_id": conversation.id,
        "channel_id": conversation.channel_id,
        "direction": "out",
        "type": message_type.value,
        "content": content,
        "search_text": search.indexed(content),
        "client_key": client_key,
        "reply_to_external_id": reply_to_external_id,
        "sender_user_id": sender_user_id,
        "status": DeliveryStatus.QUEUED.value,
        "reactions": {},
        "created_at": utcnow(),
    }
    message_id = db.insert_ignore(s, Message.__table__, values, ["conversation_id", "client_key"])
    if message_id is None:
        return None
    outbox = Outbox(
        message_id=message_id, conversation_id=conversation.id, channel_id=conversation.channel_id
    )
    s.add(outbox)
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(last_activity_at=utcnow())
    )
    s.flush()
    return message_id, outbox.id


def send_automatic(
    s: Session,
    conversation: Conversation,
    text: str,
    key: str,
    *,
    kind: MessageType = MessageType.TEXT,
    content: dict | None = None,
) -> int | None:
    """A message PyTake sends on the organization's behalf (greeting, away message, rating
    request: ``content`` of ``kind``, else ``text``), once per ``key``; returns the outbox row
    to wake, or None when it was queued before or cannot go out (number disabled, window
    closed, for anything but a template)."""
    channel = s.get(Channel, conversation.channel_id)
    if not channel.is_active or (kind not in OUTSIDE_WINDOW and not window_open(conversation)):
        return None
    checked = adapter(channel.kind).check(kind.value, content or {"body": text})
    queued = _enqueue(s, conversation, kind, checked, client_key=key[:64], sender_user_id=None)
    return queued[1] if queued else None


def _by_client_key(s: Session, conversation_id: int, client_key: str) -> int | None:
    return s.exec(
        select(Message.id).where(
            Message.conversation_id == conversation_id, Message.client_key == client_key
        )
    ).first()


def _external_id(s: Session, conversation: Conversation, message_id: object) -> str:
    """The platform id of a message of this conversation, named by our id."""
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise AccessError("send.message_not_found")
    external_id = s.exec(
        select(Message.external_id).where(
            Message.id == message_id, Message.conversation_id == conversation.id
        )
    ).first()
    if not external_id:
        raise AccessError("send.message_not_found")
    return external_id


def file_kind(message_type: MessageType, content: dict) -> MessageType | None:
    """The kind of file a message carries: a media message its own; a template the media of
    a header given as a file rather than a link (a header parameter without ``link``)."""
    if message_type in MEDIA_TYPES:
        return MessageType(message_type)
    if message_type != MessageType.TEMPLATE:
        return None
    for component in content.get("components") or []:
        if component.get("type") != "header":
            continue
        for parameter in component.get("parameters") or []:
            media = parameter.get("type") if isinstance(parameter, dict) else None
            if media in TEMPLATE_FILES and not (parameter.get(media) or {}).get("link"):
                return MessageType(media)
    return None


def _attach(
    s: Session,
    organization_id: int,
    message_id: int,
    kind: MessageType,
    content: dict,
    file: StagedFile,
) -> None:
    """Check the file against WhatsApp's rules, convert voice notes, and keep it."""
    mime = file.mime_type.split(";")[0].strip().lower()
    if kind is MessageType.AUDIO and content.get("voice") and mime != "audio/ogg":
        converted = file.path.with_suffix(".ogg")
        try:
            audio.to_ogg_opus(file.path, converted)
        except audio.AudioError:
            raise AccessError("send.voice_unreadable") from None
        file.path.unlink(missing_ok=True)
        file, mime = StagedFile(converted, "audio/ogg", file.filename), "audio/ogg"
    allowed, limit = UPLOADS[kind]
    if mime not in allowed:
        raise AccessError("send.file_type", kind=kind.value, mime=mime[:80] or "?")
    size = file.path.stat().st_size
    if kind is MessageType.AUDIO and content.get("voice"):
        limit = min(limit, VOICE_NOTE_MAX)
    if size > limit:
        raise AccessError("send.file_too_large", limit_mb=round(limit / _MB, 1))
    if size == 0:
        raise AccessError("send.file_empty")
    if not sniff.agrees(file.path, mime):
        raise AccessError("send.file_mismatch")
    settings = get_settings()
    suffix = mimetypes.guess_extension(mime) or ".bin"
    name = f"out-{secrets.token_hex(8)}{suffix}"
    relative = Path(str(organization_id), f"{utcnow():%Y/%m}", name)
    target = settings.media_root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with file.path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    shutil.move(file.path, target)
    s.add(
        Attachment(
            organization_id=organization_id,
            message_id=message_id,
            mime_type=mime,
            size_bytes=size,
            sha256=digest.hexdigest(),
            filename=Path(file.filename).name[:255] or None,
            storage_path=str(relative),
            state="done",
        )
    )


def resend(s: Session, identity: Identity, message_id: object) -> Accepted:
    """An agent sends a failed (or unconfirmed) message again: a new API call, a new id."""
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise AccessError("send.message_not_found")
    message = s.get(Message, message_id)
    if message is None or message.direction != "out":
        raise AccessError("send.message_not_found")
    conversation = conversations.get(s, identity, message.conversation_id)
    if message.status not in RESENDABLE:
        raise AccessError("send.not_resendable")
    if not s.get(Channel, conversation.channel_id).is_active:
        raise AccessError("send.channel_inactive")
    if MessageType(message.type) not in OUTSIDE_WINDOW and not window_open(conversation):
        raise AccessError("send.window_closed")
    message.status, message.error, message.external_id = DeliveryStatus.QUEUED.value, None, None
    outbox = s.exec(select(Outbox).where(Outbox.message_id == message.id)).first()
    outbox.state, outbox.attempts, outbox.error = OutboxState.PENDING, 0, None
    outbox.next_attempt_at, outbox.updated_at = None, utcnow()
    s.execute(  # uploaded media ids expire: upload again
        sa.update(Attachment)
        .where(Attachment.message_id == message.id)
        .values(external_media_id=None)
    )
    s.flush()
    return Accepted(message.id, outbox.id, (conversation.organization_id, conversation.id))


def read_receipt(s: Session, identity: Identity, conversation_id: object) -> tuple[int, str] | None:
    """An agent opened the conversation: it is read here, and the customer's latest message
    is to be marked read on WhatsApp. Returns (channel id, platform message id)."""
    conversation = conversations.get(s, identity, conversation_id)
    if not conversation.unread_count:
        return None  # already read here, and on WhatsApp
    conversation.unread_count = 0
    return latest_inbound(s, identity, conversation.id)


def latest_inbound(s: Session, identity: Identity, conversation_id: object):
    """(channel id, platform id) of the customer's latest message, for receipts and typing."""
    conversation = conversations.get(s, identity, conversation_id)
    latest = s.exec(
        select(Message.external_id)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == "in",
            Message.external_id.is_not(None),
            Message.type != MessageType.REACTION.value,
        )
        .order_by(Message.id.desc())
    ).first()
    return (conversation.channel_id, latest) if latest else None
