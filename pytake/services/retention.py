"""Data retention: resolved conversations older than the organization's limit are deleted
with their messages and files; processed webhook bodies after the deployment's limit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    Message,
    Organization,
    WebhookEvent,
    utcnow,
)
from pytake.services import audit
from pytake.services.organization import settings_of
from pytake.settings import get_settings

log = logging.getLogger("pytake.retention")
BATCH = 500


@dataclasses.dataclass
class Purged:
    conversations: int = 0
    webhooks: int = 0
    files: list[str] = dataclasses.field(default_factory=list)


def _expired_conversations(s: Session, organization_id: int, cutoff: dt.datetime) -> list[int]:
    return list(
        s.exec(
            select(Conversation.id)
            .where(
                Conversation.organization_id == organization_id,
                Conversation.status == ConversationStatus.RESOLVED,
                Conversation.last_activity_at < cutoff,
            )
            .limit(BATCH)
        )
    )


def purge_batch(s: Session, now: dt.datetime | None = None) -> Purged:
    """One bounded batch, so a large first purge never holds a long transaction; call it
    again while it finds something. Files are returned for deletion after the commit."""
    now = now or utcnow()
    purged = Purged()
    for org in s.exec(select(Organization)):
        days = settings_of(org)["retention_days"]
        if not days:
            continue
        ids = _expired_conversations(s, org.id, now - dt.timedelta(days=days))
        if not ids:
            continue
        purged.files += [
            path
            for path in s.exec(
                select(Attachment.storage_path)
                .join(Message, Message.id == Attachment.message_id)
                .where(Message.conversation_id.in_(ids), Attachment.storage_path.is_not(None))
            )
        ]
        s.execute(sa.delete(Conversation).where(Conversation.id.in_(ids)))
        purged.conversations += len(ids)
        audit.record(
            s, "retention.purged", organization_id=org.id, conversations=len(ids), days=days
        )
    keep_webhooks = get_settings().webhook_retention_days
    old = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.state == "done",
            WebhookEvent.processed_at < now - dt.timedelta(days=keep_webhooks),
        )
        .limit(BATCH)
    )
    ids = list(s.exec(old))
    if ids:
        s.execute(sa.delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
        purged.webhooks = len(ids)
    return purged


def delete_files(paths: list[str]) -> int:
    """Remove stored media of purged messages; a path outside the media folder is skipped."""
    root = get_settings().media_root.resolve()
    removed = 0
    for relative in paths:
        path = (root / relative).resolve()
        if path.is_relative_to(root) and path.is_file():
            Path(path).unlink(missing_ok=True)
            removed += 1
    return removed
