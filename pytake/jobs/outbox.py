"""Sending queued messages: one outbox row, one API call, one terminal state.

The row is marked ``sending`` (committed) before the call. A worker that dies during the call
leaves it there, and ``recover_stuck`` later calls it ``unknown``: WhatsApp has no idempotency
key, so a message that may have gone out is never sent again without an agent deciding to.
Its status webhook, which echoes our id, still reconciles it (``inbound``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import random

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake import db
from pytake.channels import adapter
from pytake.channels.base import (
    ContactRef,
    Credentials,
    DeliveryStatus,
    MessageType,
    OutboundMessage,
    PlatformCallError,
    PlatformError,
    SendResult,
)
from pytake.jobs import limits
from pytake.jobs.rows import RowQueue
from pytake.models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    Message,
    Outbox,
    OutboxState,
    utcnow,
)
from pytake.services import channels, inbound, outbound
from pytake.settings import get_settings

log = logging.getLogger("pytake.jobs")

PENDING, SENDING, DONE, FAILED, DEAD, UNKNOWN = (
    OutboxState.PENDING,
    OutboxState.SENDING,
    OutboxState.DONE,
    OutboxState.FAILED,
    OutboxState.DEAD,
    OutboxState.UNKNOWN,
)
QUEUE = RowQueue(Outbox, "created_at", DEAD)
INLINE_WAIT_SECONDS = 1.0  # shorter limiter waits are slept; longer ones reschedule the row
ORDER_WAIT = dt.timedelta(seconds=1)  # an earlier message to the same customer is on its way
LIMITER_DOWN_WAIT = dt.timedelta(seconds=2)
RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 300.0
# Longer than the HTTP timeout: a row still 'sending' after this lost its worker mid-call.
STUCK_AFTER = dt.timedelta(minutes=2)


@dataclasses.dataclass(frozen=True)
class _Send:
    outbox_id: int
    attempts: int
    conversation: tuple[int, int]
    channel_id: int
    kind: str
    number: str
    credentials: Credentials
    windows: list[limits.Window]
    pair_key: str
    message: OutboundMessage
    attachment: Attachment | None


def _effects(conversation: tuple[int, int]) -> inbound.Effects:
    effects = inbound.Effects()
    effects.conversations.add(conversation)
    return effects


# Before the call -------------------------------------------------------------------------------


def _prepare(outbox_id: int) -> _Send | inbound.Effects | None:
    with db.session(write=True) as s:
        row = s.get(Outbox, outbox_id)
        if row is None or row.state != PENDING:
            return None
        message = s.get(Message, row.message_id)
        conversation = s.get(Conversation, row.conversation_id)
        key = (conversation.organization_id, conversation.id)
        if message.external_id:  # an unconfirmed send turned out to have gone out
            row.state, row.updated_at = DONE, utcnow()
            return _effects(key)
        earlier = s.exec(
            select(Outbox.id).where(
                Outbox.conversation_id == row.conversation_id,
                Outbox.id < row.id,
                col(Outbox.state).in_([PENDING, SENDING]),
            )
        ).first()
        if earlier is not None:
            row.next_attempt_at = utcnow() + ORDER_WAIT  # not an attempt: just not yet
            return None
        channel = s.get(Channel, row.channel_id)
        refusal = _refusal(channel, conversation, message)
        if refusal is not None:
            _settle_failure(s, row, message, refusal, FAILED)
            return _effects(key)
        contact = s.get(Contact, conversation.contact_id)
        recipient = ContactRef(external_id=contact.wa_id, scoped_id=contact.bsuid)
        settings = get_settings()
        config = channel.config or {}
        pair = limits.pair_window(
            channel.id,
            contact.wa_id or contact.bsuid or str(contact.id),
            int(config.get("pair_limit") or settings.pair_limit),
            float(config.get("pair_window_seconds") or settings.pair_window_seconds),
        )
        attachment = s.exec(select(Attachment).where(Attachment.message_id == message.id)).first()
        if attachment is not None:
            s.expunge(attachment)
        return _Send(
            outbox_id=row.id,
            attempts=row.attempts,
            conversation=key,
            channel_id=channel.id,
            kind=channel.kind,
            number=channel.external_id,
            credentials=channels.credentials(channel),
            windows=[limits.number_window(channel.id, channel.rate_limit_per_second), pair],
            pair_key=pair.key,
            message=OutboundMessage(
                to=recipient,
                type=message.type,
                content=message.content,
                reply_to=message.reply_to_external_id,
                reference=outbound.reference(message.id),
            ),
            attachment=attachment,
        )


def _refusal(
    channel: Channel, conversation: Conversation, message: Message
) -> PlatformError | None:
    """Reasons to send nothing at all, checked again right before the call."""
    if not channel.is_active:
        return PlatformError(None, "channel disabled", "the number was disabled by an admin")
    if message.type != MessageType.TEMPLATE and not outbound.window_open(conversation):
        return PlatformError(
            inbound.REENGAGEMENT_REQUIRED,
            "Re-engagement message",
            "the 24-hour window closed before this message left; nothing was sent",
        )
    return None


async def _acquire(send: _Send) -> float:
    """Wait briefly for the limits; the wait still ahead when it is too long to sleep."""
    limiter = limits.limiter()
    while True:
        wait = await limiter.acquire(send.windows)
        if wait <= 0:
            return 0.0
        if wait > INLINE_WAIT_SECONDS:
            return wait
        await asyncio.sleep(wait)


def _release(outbox_id: int, delay: dt.timedelta) -> None:
    """Claimed but not sent (a limit, or Redis away): back in line, and not an attempt."""
    with db.session(write=True) as s:
        s.execute(
            sa.update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.state == SENDING)
            .values(state=PENDING, next_attempt_at=utcnow() + delay, updated_at=utcnow())
        )


async def _upload(send: _Send) -> str | None:
    attachment = send.attachment
    if attachment is None:
        return None
    if attachment.external_media_id:
        return attachment.external_media_id
    media_id = await adapter(send.kind).upload_media(
        send.number,
        send.credentials,
        get_settings().media_root / attachment.storage_path,
        attachment.mime_type or "application/octet-stream",
        attachment.filename or f"file{attachment.id}",
    )
    await asyncio.to_thread(_remember_upload, attachment.id, media_id)
    return media_id


def _remember_upload(attachment_id: int, media_id: str) -> None:
    with db.session(write=True) as s:
        s.get(Attachment, attachment_id).external_media_id = media_id


def _claim(outbox_id: int) -> bool:
    """pending → sending, committed before the call; False if another worker took it."""
    with db.session(write=True) as s:
        result = s.execute(
            sa.update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.state == PENDING)
            .values(state=SENDING, updated_at=utcnow())
        )
        return bool(result.rowcount)


# The job ----------------------------------------------------------------------------------------


async def deliver(outbox_id: int) -> inbound.Effects | None:
    prepared = await asyncio.to_thread(_prepare, outbox_id)
    if not isinstance(prepared, _Send):
        return prepared
    send = prepared
    try:
        media_id = await _upload(send)
    except PlatformCallError as exc:  # nothing was sent: an upload is safe to repeat
        exc.ambiguous = False
        return await _failed(send, exc)
    if not await asyncio.to_thread(_claim, outbox_id):
        return None
    # The limits are taken last, so the grant and the call are moments apart.
    try:
        wait = await _acquire(send)
    except limits.LimiterUnavailable as exc:
        log.warning("outbox %s: rate limiter unavailable, not sending: %s", outbox_id, exc)
        await asyncio.to_thread(_release, outbox_id, LIMITER_DOWN_WAIT)
        return None
    if wait > 0:
        await asyncio.to_thread(_release, outbox_id, dt.timedelta(seconds=wait))
        return None
    message = dataclasses.replace(send.message, media_id=media_id)
    try:
        result = await adapter(send.kind).send(send.number, send.credentials, message)
    except PlatformCallError as exc:
        return await _failed(send, exc)
    return await asyncio.to_thread(_sent, send, result)


# After the call ---------------------------------------------------------------------------------


def _sent(send: _Send, result: SendResult) -> inbound.Effects:
    effects = _effects(send.conversation)
    now = utcnow()
    with db.session(write=True) as s:
        row = s.get(Outbox, send.outbox_id)
        message = s.get(Message, row.message_id)
        row.state, row.error, row.updated_at, row.next_attempt_at = DONE, None, now, None
        message.external_id = result.external_id
        s.execute(
            sa.update(Message)
            .where(
                Message.id == message.id,
                col(Message.status).in_([DeliveryStatus.QUEUED, DeliveryStatus.UNKNOWN]),
            )
            .values(status=DeliveryStatus.SENT.value, error=None)
        )
        s.execute(
            sa.update(Message)
            .where(Message.id == message.id, col(Message.sent_at).is_(None))
            .values(sent_at=now)
        )
        channel = s.get(Channel, send.channel_id)
        if channel.token_invalid_at is not None:
            channel.token_invalid_at = None
        _learn_recipient(s, send.conversation, result.recipient)
        s.flush()
        inbound.apply_parked(s, channel, result.external_id, effects)
        _next_in_line(s, row, effects)
    return effects


def _learn_recipient(s: Session, conversation: tuple[int, int], reported: ContactRef) -> None:
    """Meta answers the canonical wa_id (Brazil's and Mexico's prefixes): key the contact on
    it, unless another contact already has it."""
    if not reported.external_id:
        return
    contact = s.exec(
        select(Contact)
        .join(Conversation, Conversation.contact_id == Contact.id)
        .where(Conversation.id == conversation[1])
    ).one()
    if contact.wa_id == reported.external_id:
        return
    taken = s.exec(
        select(Contact.id).where(
            Contact.organization_id == contact.organization_id,
            Contact.wa_id == reported.external_id,
        )
    ).first()
    if taken is None:
        contact.attributes = {**(contact.attributes or {}), "sent_to": contact.wa_id}
        contact.wa_id, contact.updated_at = reported.external_id, utcnow()


def _next_in_line(s: Session, row: Outbox, effects: inbound.Effects) -> None:
    """The next message to this customer waited for this one: wake it now."""
    following = s.exec(
        select(Outbox.id)
        .where(Outbox.conversation_id == row.conversation_id, Outbox.state == PENDING)
        .order_by(Outbox.id)
    ).first()
    if following is not None:
        effects.outbox.append(following)


def _jitter(attempts: int) -> float:
    """Full-jitter exponential backoff."""
    return random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempts))  # noqa: S311


def _pause_for(exc: PlatformCallError, attempts: int) -> tuple[str | None, float]:
    """Which limiter key Meta asked us to slow down, and for how long."""
    if exc.throttle == "number":
        return "number", max(exc.retry_after or 0.0, 1.0 + _jitter(attempts))
    if exc.throttle == "recipient":
        # Meta: retry after 4^X seconds, X counting the failures.
        return "pair", max(exc.retry_after or 0.0, 4.0**attempts + random.uniform(0, 1))  # noqa: S311
    return None, max(exc.retry_after or 0.0, _jitter(attempts))


async def _failed(send: _Send, exc: PlatformCallError) -> inbound.Effects:
    log.warning("outbox %s: %s", send.outbox_id, exc)
    delay = 0.0
    if exc.retryable and not exc.ambiguous:
        which, delay = _pause_for(exc, send.attempts)
        if which is not None:
            key = send.windows[0].key if which == "number" else send.pair_key
            # Without Redis, the row's own retry time still holds it back.
            with contextlib.suppress(limits.LimiterUnavailable):
                await limits.limiter().pause(key, delay)
    return await asyncio.to_thread(_record_failure, send, exc, delay)


def _record_failure(send: _Send, exc: PlatformCallError, delay: float) -> inbound.Effects:
    effects = _effects(send.conversation)
    with db.session(write=True) as s:
        row = s.get(Outbox, send.outbox_id)
        message = s.get(Message, row.message_id)
        if exc.credentials_rejected:
            s.get(Channel, send.channel_id).token_invalid_at = utcnow()
        if exc.ambiguous:
            row.state, row.error, row.updated_at = UNKNOWN, str(exc)[:4000], utcnow()
            row.attempts += 1
            s.execute(
                sa.update(Message)
                .where(Message.id == message.id, col(Message.external_id).is_(None))
                .values(status=DeliveryStatus.UNKNOWN.value, error=_error(exc.error, True))
            )
        elif exc.retryable and row.attempts + 1 < get_settings().job_max_attempts:
            row.state, row.attempts, row.error = PENDING, row.attempts + 1, str(exc)[:4000]
            row.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
            row.updated_at = utcnow()
        else:
            _settle_failure(s, row, message, exc.error, DEAD if exc.retryable else FAILED)
        s.flush()
        if row.state != PENDING:
            _next_in_line(s, row, effects)
    return effects


def _settle_failure(
    s: Session, row: Outbox, message: Message, error: PlatformError, state: str
) -> None:
    row.state, row.attempts, row.updated_at = state, row.attempts + 1, utcnow()
    row.error, row.next_attempt_at = f"{error.code}: {error.title} {error.details}"[:4000], None
    message.status = DeliveryStatus.FAILED.value
    message.error = _error(error, state == DEAD)
    if state == DEAD:
        log.error("outbox %s given up after %s attempts: %s", row.id, row.attempts, row.error)


def _error(error: PlatformError, exhausted: bool) -> dict:
    return {"errors": [error.as_dict()], "exhausted": exhausted}


def recover_stuck(older_than: dt.timedelta = STUCK_AFTER) -> inbound.Effects:
    """Rows left 'sending' by a worker that died during the call become 'unknown'."""
    effects = inbound.Effects()
    with db.session(write=True) as s:
        stuck = s.exec(
            select(Outbox).where(Outbox.state == SENDING, Outbox.updated_at < utcnow() - older_than)
        ).all()
        for row in stuck:
            message = s.get(Message, row.message_id)
            row.state, row.updated_at = UNKNOWN, utcnow()
            row.error = "the worker stopped during the call"
            if message.external_id is None:
                message.status = DeliveryStatus.UNKNOWN.value
                message.error = _error(PlatformError(None, "no answer", row.error), True)
            effects.touch(message)
            _next_in_line(s, row, effects)
    return effects


# Read receipts and typing: not queued, since losing one costs nothing ---------------------------


def _channel(channel_id: int) -> tuple[str, str, Credentials, int] | None:
    with db.session() as s:
        channel = s.get(Channel, channel_id)
        if channel is None or not channel.is_active:
            return None
        return (
            channel.kind,
            channel.external_id,
            channels.credentials(channel),
            channel.rate_limit_per_second,
        )


async def mark_read(channel_id: int, external_id: str, *, typing: bool = False) -> bool:
    """Blue ticks for the customer (and, with ``typing``, "typing…" for up to 25 s).

    They count against the number's throughput; under load they are dropped, not queued.
    """
    found = await asyncio.to_thread(_channel, channel_id)
    if found is None:
        return False
    kind, number, credentials, per_second = found
    try:
        if await limits.limiter().acquire([limits.number_window(channel_id, per_second)]):
            return False
        await adapter(kind).mark_read(number, credentials, external_id, typing=typing)
    except (limits.LimiterUnavailable, PlatformCallError) as exc:
        log.info("channel %s: read receipt for %s not sent: %s", channel_id, external_id, exc)
        return False
    return True
