"""Stored message files, as the people allowed to see their conversation may reach them."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from pytake.auth.sessions import Identity
from pytake.models import Attachment, Conversation, Message
from pytake.services.conversations import visible_to
from pytake.settings import get_settings


def stored_file(s: Session, identity: Identity, attachment_id: int) -> tuple[Path, str, str] | None:
    """(path, MIME type, download name) of a file the caller may see, else None."""
    row = s.exec(
        select(Attachment)
        .join(Message, Message.id == Attachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Attachment.id == attachment_id, Attachment.state == "done", visible_to(identity))
    ).first()
    if row is None or not row.storage_path:
        return None
    root = get_settings().media_root.resolve()
    path = (root / row.storage_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path, row.mime_type or "application/octet-stream", row.filename or path.name
