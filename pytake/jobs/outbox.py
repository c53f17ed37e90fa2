"""Sending queued messages: one outbox row, one API call, one terminal state.

The row is marked ``sending`` (committed) before the call. A worker that dies during the call
leaves it there, and ``recover_stuck`` later calls it ``unknown``: WhatsApp has no idempotency
key, so a message that may have gone out is never sent again without an agent deciding to.
Its status webhook, which echoes our id, still reconciles it (``inbound_statuses.reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import random
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import aliased
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
from pytake.services import channels, inbound_statuses, outbound
from pytake.services.effects import Effects
from pytake.services.explain import DUPLICATE_ID
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
    message_id: int
    attempts: int
    conversation: tuple[int, int]
    channel_id: int
    token_invalid: bool  # the channel's token was refused lately; a success clears that
    contact: tuple[int, str | None]  # id and wa_id, to learn the number Meta answers with
    kind: str
    number: str
    credentials: Credentials
    windows: list[limits.Window]
    pair_key: str
    message: OutboundMessage
    attachment: Attachment | None
    claimed: bool  # marked 'sending' already (nothing to upload first)


def _effects(conversation: tuple[int, int] | None = None) -> Effects:
    """What a send changed: its conversation, never one left waiting for an agent."""
    effects = Effects(assignable=False)
    if conversation is not None:
        effects.conversations.add(conversation)
    return effects


# Before the call -------------------------------------------------------------------------------


@functools.cache
def _with_all_it_needs() -> sa.Select:
    """An outbox row and all its send needs, in one round trip: this runs for every message
    sent (built once; its parameter is the row's id)."""
    earlier = aliased(Outbox)
    waiting = sa.exists().where(
        earlier.conversation_id == Outbox.conversation_id,
        earlier.id < Outbox.id,
        col(earlier.state).in_([PENDING, SENDING]),
    )
    return (
        select(Outbox, Message, Conversation, Channel, Contact, waiting.label("waiting"))
        .join(Message, Message.id == Outbox.message_id)
        .join(Conversation, Conversation.id == Outbox.conversation_id)
        .join(Channel, Channel.id == Outbox.channel_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Outbox.id == sa.bindparam("outbox_id"))
    )


def _prepare(outbox_id: int) -> _Send | Effects | None:
    with db.session(write=True) as s:
        found = s.exec(_with_all_it_needs(), params={"outbox_id": outbox_id}).first()
        if found is None or found[0].state != PENDING:
            return None
        row, message, conversation, channel, contact, behind = found
        key = (conversation.organization_id, conversation.id)
        if message.external_id:  # an unconfirmed send turned out to have gone out
            row.state, row.updated_at = DONE, utcnow()
            return _effects(key)
        if behind:
            row.next_attempt_at = utcnow() + ORDER_WAIT  # not an attempt: just not yet
            return None
        refusal = _refusal(channel, conversation, message)
        if refusal is not None:
            _settle_failure(s, row, message, refusal, FAILED)
            return _effects(key)
        recipient = ContactRef(external_id=contact.wa_id, scoped_id=contact.bsuid)
        settings = get_settings()
        config = channel.config or {}
        pair = limits.pair_window(
            channel.id,
            contact.wa_id or contact.bsuid or str(contact.id),
            int(config.get("pair_limit") or settings.pair_limit),
            float(config.get("pair_window_seconds") or settings.pair_window_seconds),
        )
        attachment = None
        if outbound.file_kind(message.type, message.content or {}) is not None:
            attachment = s.exec(
                select(Attachment).where(Attachment.message_id == message.id)
            ).first()
        if attachment is not None:
            s.expunge(attachment)
        # Nothing to upload: claim it in this transaction rather than in one of its own.
        claimed = attachment is None or bool(attachment.external_media_id)
        if claimed and not _claimed(s, outbox_id):
            return None
        return _Send(
            outbox_id=row.id,
            message_id=message.id,
            attempts=row.attempts,
            conversation=key,
            channel_id=channel.id,
            token_invalid=channel.token_invalid_at is not None,
            contact=(contact.id, contact.wa_id),
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
            claimed=claimed,
        )


def _refusal(
    channel: Channel, conversation: Conversation, message: Message
) -> PlatformError | None:
    """Reasons to send nothing at all, checked again right before the call."""
    if not channel.is_active:
        return PlatformError(None, "channel disabled", "the number was disabled by an admin")
    if message.type != MessageType.TEMPLATE and not outbound.window_open(conversation):
        return PlatformError(
            inbound_statuses.REENGAGEMENT_REQUIRED,
            "Re-engagement message",
            "the 24-hour window closed before this message left; nothing was sent",
        )
    return None


async def _acquire(limiter: limits.Limiter, send: _Send, ticket: str) -> float:
    """Wait briefly for the limits; the wait still ahead when it is too long to sleep."""
    while True:
        wait = await limiter.acquire(send.windows, ticket)
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
    with db.session(write=True) as s:
        return _claimed(s, outbox_id)


def _claimed(s: Session, outbox_id: int) -> bool:
    """pending → sending, committed before the call; False if another worker took it."""
    result = s.execute(
        sa.update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.state == PENDING)
        .values(state=SENDING, updated_at=utcnow())
    )
    return bool(result.rowcount)


# The job ----------------------------------------------------------------------------------------


async def deliver(outbox_id: int) -> Effects | None:
    prepared = await asyncio.to_thread(_prepare, outbox_id)
    if not isinstance(prepared, _Send):
        return prepared
    send = prepared
    try:
        media_id = await _upload(send)
    except PlatformCallError as exc:  # nothing was sent: an upload is safe to repeat
        exc.ambiguous = False
        return await _failed(send, exc)
    if not send.claimed and not await asyncio.to_thread(_claim, outbox_id):
        return None
    # The limits are taken last, so the grant and the call are moments apart.
    limiter, ticket = limits.limiter(), f"outbox:{outbox_id}:{secrets.token_hex(4)}"
    try:
        wait = await _acquire(limiter, send, ticket)
    except limits.LimiterUnavailable as exc:
        log.warning("outbox %s: rate limiter unavailable, not sending: %s", outbox_id, exc)
        await asyncio.to_thread(_release, outbox_id, LIMITER_DOWN_WAIT)
        return None
    if wait > 0:
        await asyncio.to_thread(_release, outbox_id, dt.timedelta(seconds=wait))
        return None
    message = dataclasses.replace(send.message, media_id=media_id)
    try:
        async with limits.call(limiter, send.windows, ticket):
            result = await adapter(send.kind).send(send.number, send.credentials, message)
    except PlatformCallError as exc:
        return await _failed(send, exc)
    return await asyncio.to_thread(_sent, send, result)


# After the call ---------------------------------------------------------------------------------


def _sent(send: _Send, result: SendResult) -> Effects:
    effects = _effects(send.conversation)
    now = utcnow()
    with db.session(write=True) as s:
        s.execute(
            sa.update(Outbox)
            .where(Outbox.id == send.outbox_id)
            .values(state=DONE, error=None, updated_at=now, next_attempt_at=None)
        )
        if _taken(s, send, result.external_id):
            return _clashed(s, send, result.external_id, now, effects)
        # A status webhook may have got here first (its status is further on: keep it).
        # One UPDATE: each one writes the whole row and its index entries again.
        behind = col(Message.status).in_([DeliveryStatus.QUEUED, DeliveryStatus.UNKNOWN])
        s.execute(
            sa.update(Message)
            .where(Message.id == send.message_id)
            .values(
                external_id=result.external_id,
                sent_at=sa.func.coalesce(Message.sent_at, now),
                status=sa.case((behind, DeliveryStatus.SENT.value), else_=Message.status),
                error=sa.case((behind, sa.null()), else_=Message.error),
            )
        )
        if send.token_invalid:
            s.execute(
                sa.update(Channel)
                .where(Channel.id == send.channel_id)
                .values(token_invalid_at=None)
            )
        _learn_recipient(s, send.contact, result.recipient)
        inbound_statuses.apply_parked(s, send.channel_id, result.external_id, effects)
        _next_in_line(s, send.conversation[1], effects)
    return effects


def _taken(s: Session, send: _Send, external_id: str) -> bool:
    """Meta never gives two messages one id, but an answer that did (a stand-in restarted,
    say) must not make storing this one fail and retry for minutes."""
    return (
        s.exec(
            select(Message.id).where(
                Message.channel_id == send.channel_id,
                Message.external_id == external_id,
                Message.id != send.message_id,
            )
        ).first()
        is not None
    )


def _clashed(
    s: Session, send: _Send, external_id: str, now: dt.datetime, effects: Effects
) -> Effects:
    """The send was accepted, but under another message's id: its statuses cannot be told
    apart, so it is left unconfirmed with the reason (``explain``), and never sent again by
    itself (it may well have arrived)."""
    log.warning(
        "message %s was answered with id %s, already another's", send.message_id, external_id
    )
    s.execute(
        sa.update(Message)
        .where(Message.id == send.message_id)
        .values(
            sent_at=sa.func.coalesce(Message.sent_at, now),
            status=DeliveryStatus.UNKNOWN.value,
            error={"errors": [{"title": DUPLICATE_ID, "details": external_id}], "exhausted": True},
        )
    )
    _next_in_line(s, send.conversation[1], effects)
    return effects


def _learn_recipient(s: Session, contact: tuple[int, str | None], reported: ContactRef) -> None:
    """Meta answers the canonical wa_id (Brazil's and Mexico's prefixes): key the contact on
    it, unless another contact already has it."""
    contact_id, wa_id = contact
    if not reported.external_id or reported.external_id == wa_id:
        return
    known = s.get(Contact, contact_id)
    taken = s.exec(
        select(Contact.id).where(
            Contact.organization_id == known.organization_id,
            Contact.wa_id == reported.external_id,
        )
    ).first()
    if taken is None:
        known.attributes = {**(known.attributes or {}), "sent_to": known.wa_id}
        known.wa_id, known.updated_at = reported.external_id, utcnow()


def _next_in_line(s: Session, conversation_id: int, effects: Effects) -> None:
    """The next message to this customer waited for this one: wake it now."""
    following = s.exec(
        select(Outbox.id)
        .where(Outbox.conversation_id == conversation_id, Outbox.state == PENDING)
        .order_by(Outbox.id)
    ).first()
    if following is not None:
        effects.outbox.append(following)


def _jitter(attempts: int) -> float:
    """Exponential backoff with equal jitter: spread so a burst of failures does not come back
    at once, yet never sooner than half the step (full jitter could retry a failing call at
    once, hammering Meta and jumping ahead of what a test or an operator expects)."""
    step = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempts)
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311


def _pause_for(exc: PlatformCallError, attempts: int) -> tuple[str | None, float]:
    """Which limiter key Meta asked us to slow down, and for how long."""
    if exc.throttle == "number":
        return "number", max(exc.retry_after or 0.0, 1.0 + _jitter(attempts))
    if exc.throttle == "recipient":
        # Meta: retry after 4^X seconds, X counting the failures.
        return "pair", max(exc.retry_after or 0.0, 4.0**attempts + random.uniform(0, 1))  # noqa: S311
    return None, max(exc.retry_after or 0.0, _jitter(attempts))


async def _failed(send: _Send, exc: PlatformCallError) -> Effects:
    log.warning("outbox %s: %s", send.outbox_id, exc)
    delay = 0.0
    if exc.retryable and not exc.ambiguous:
        which, delay = _pause_for(exc, send.attempts)
        # Without Redis, the row's own retry time still holds it back.
        with contextlib.suppress(limits.LimiterUnavailable):
            limiter = limits.limiter()
            if which == "pair":
                await limiter.pause(send.pair_key, delay)
            elif which == "number" and exc.retry_after is not None:  # Meta said how long
                await limiter.pause(send.windows[0].key, delay)
            elif which == "number":
                await limiter.strike(send.windows[0], delay)
    return await asyncio.to_thread(_record_failure, send, exc, delay)


def _record_failure(send: _Send, exc: PlatformCallError, delay: float) -> Effects:
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
            _next_in_line(s, row.conversation_id, effects)
    return effects


def _settle_failure(
    s: Session, row: Outbox, message: Message, error: PlatformError, state: str
) -> None:
    row.state, row.attempts, row.updated_at = state, row.attempts + 1, utcnow()
    row.error, row.next_attempt_at = f"{error.code}: {error.title} {error.details}"[:4000], None
    message.status = DeliveryStatus.FAILED.value
    message.error = _error(error, state == DEAD)
    if error.code == inbound_statuses.REENGAGEMENT_REQUIRED:
        inbound_statuses.close_window(s, row.conversation_id, utcnow())
    if state == DEAD:
        log.error("outbox %s given up after %s attempts: %s", row.id, row.attempts, row.error)


def _error(error: PlatformError, exhausted: bool) -> dict:
    return {"errors": [error.as_dict()], "exhausted": exhausted}


def recover_stuck(older_than: dt.timedelta = STUCK_AFTER) -> Effects:
    """Rows left 'sending' by a worker that died during the call become 'unknown'."""
    effects = _effects()
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
            _next_in_line(s, row.conversation_id, effects)
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
    limiter, windows = limits.limiter(), [limits.number_window(channel_id, per_second)]
    ticket = f"read:{external_id}:{secrets.token_hex(4)}"
    try:
        if await limiter.acquire(windows, ticket):
            return False
        async with limits.call(limiter, windows, ticket):
            await adapter(kind).mark_read(number, credentials, external_id, typing=typing)
    except (limits.LimiterUnavailable, PlatformCallError) as exc:
        log.info("channel %s: read receipt for %s not sent: %s", channel_id, external_id, exc)
        return False
    return True
