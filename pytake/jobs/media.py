"""Downloading a message's media as its own retryable job.

The message is stored (and shown as 'media pending') before the file arrives; a download that
keeps failing ends as 'failed' with the reason, and an agent can ask for another try.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from pytake import db
from pytake.channels import adapter
from pytake.channels.base import Credentials, MediaRef, PlatformCallError
from pytake.jobs.rows import RowQueue
from pytake.models import Attachment, Channel, Message, utcnow
from pytake.services import channels
from pytake.services.effects import Effects
from pytake.settings import get_settings

log = logging.getLogger("pytake.jobs")

PENDING, DONE, FAILED = "pending", "done", "failed"
QUEUE = RowQueue(Attachment, "created_at", FAILED)
# Meta's limits per kind (reference §5); the operator's PYTAKE_MEDIA_MAX_BYTES caps them all.
MAX_BYTES = {
    "image": 5 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "sticker": 500 * 1024,
    "document": 100 * 1024 * 1024,
}
# What each kind may be; documents may be anything except what a browser would run.
MIME_PREFIX = {
    "image": ("image/",),
    "sticker": ("image/",),
    "audio": ("audio/",),
    "video": ("video/",),
}
ACTIVE_CONTENT = (
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/x-msdownload",
)


def mime_allowed(kind: str, mime: str) -> bool:
    if not mime or mime in ACTIVE_CONTENT:
        return False
    prefixes = MIME_PREFIX.get(kind)
    return prefixes is None or mime.startswith(prefixes)


def _load(attachment_id: int) -> tuple[Attachment, Message, Channel, Credentials] | None:
    with db.session() as s:
        attachment = s.get(Attachment, attachment_id)
        if attachment is None or attachment.state != PENDING:
            return None
        message = s.get(Message, attachment.message_id)
        channel = s.get(Channel, message.channel_id)
        return attachment, message, channel, channels.credentials(channel)


def _finish(attachment_id: int, **values) -> Effects:
    effects = Effects()
    with db.session(write=True) as s:
        attachment = s.get(Attachment, attachment_id)
        for key, value in values.items():
            setattr(attachment, key, value)
        message = s.get(Message, attachment.message_id)
        effects.touch(message)
    return effects


async def download(attachment_id: int) -> Effects | None:
    loaded = await asyncio.to_thread(_load, attachment_id)
    if loaded is None:
        return None
    attachment, message, channel, credentials = loaded
    settings = get_settings()
    kind = message.type
    limit = min(MAX_BYTES.get(kind, settings.media_max_bytes), settings.media_max_bytes)
    # Named by our ids only; the extension comes from the type checked below, never from
    # what the payload declared.
    folder = Path(str(channel.organization_id), f"{utcnow():%Y/%m}")
    partial = settings.media_root / folder / f"{attachment.id}.download"
    attempts = attachment.attempts + 1
    try:
        result = await adapter(channel.kind).download_media(
            channel.external_id,
            credentials,
            MediaRef(attachment.external_media_id or "", attachment.mime_type),
            partial,
            limit,
        )
        if not mime_allowed(kind, result.mime_type):
            partial.unlink(missing_ok=True)
            raise PlatformCallError.refused(f"a {kind} cannot be of type {result.mime_type}")
        suffix = mimetypes.guess_extension(result.mime_type) or ".bin"
        relative = folder / f"{attachment.id}{suffix}"
        partial.replace(settings.media_root / relative)
    except PlatformCallError as exc:
        log.warning("attachment %s: %s (attempt %s)", attachment_id, exc, attempts)
        settle = QUEUE.fail if exc.retryable else QUEUE.give_up
        await asyncio.to_thread(settle, attachment_id, str(exc))
        effects = Effects()
        effects.touch(message)
        return effects
    return await asyncio.to_thread(
        _finish,
        attachment_id,
        attempts=attempts,
        state=DONE,
        error=None,
        next_attempt_at=None,
        storage_path=str(relative),
        mime_type=result.mime_type,
        size_bytes=result.size,
        sha256=result.sha256,
    )


def retry(s: Session, organization_id: int, attachment_id: int) -> bool:
    """An agent asks for a failed download again (the organization is checked here)."""
    result = s.execute(
        sa.update(Attachment)
        .where(
            Attachment.id == attachment_id,
            Attachment.organization_id == organization_id,
            Attachment.state == FAILED,
        )
        .values(state=PENDING, attempts=0, next_attempt_at=None, error=None)
    )
    return bool(result.rowcount)
