"""Processing one stored webhook: parse, apply every item, record the outcome.

Each item runs in its own savepoint, so one bad status cannot take the batch's messages down
with it; a failed item makes the whole event retry later, which is safe because applying is
idempotent.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from pytake import db
from pytake.channels import adapter
from pytake.channels.base import PayloadError, TemplateStatusUpdate
from pytake.crypto import DecryptionError
from pytake.jobs.rows import RowQueue
from pytake.models import Channel, WebhookEvent, utcnow
from pytake.services import channels, inbound
from pytake.services.webhooks import DEAD, DONE, PENDING, QUARANTINED

log = logging.getLogger("pytake.jobs")


QUEUE = RowQueue(WebhookEvent, "received_at", DEAD)


def _channels(s: Session, kind: str, events: list) -> tuple[dict, dict]:
    numbers = {e.channel for e in events if getattr(e, "channel", None)}
    accounts = {e.account for e in events if isinstance(e, TemplateStatusUpdate)}
    by_number, by_account = {}, {}
    if numbers:
        query = select(Channel).where(Channel.kind == kind, col(Channel.external_id).in_(numbers))
        by_number = {c.external_id: c for c in s.exec(query)}
    if accounts:
        query = select(Channel).where(Channel.kind == kind, col(Channel.account_id).in_(accounts))
        for channel in s.exec(query):
            # Template events concern the organization: one channel of each is enough.
            by_account.setdefault(channel.account_id, {})[channel.organization_id] = channel
    return by_number, by_account


class _Signatures:
    """Whether the event was signed by each channel's own app (checked again here, so a
    quarantined body replayed later cannot reach a channel whose app did not sign it)."""

    def __init__(self, event: WebhookEvent) -> None:
        self.event = event
        self.adapter = adapter(event.source)
        self.known: dict[int, bool] = {}

    def by(self, channel: Channel) -> bool:
        if channel.id not in self.known:
            try:
                secret = self.adapter.webhook_secret(channels.credentials(channel))
            except DecryptionError:
                secret = ""
            self.known[channel.id] = self.adapter.signature_valid(
                self.event.body, self.event.signature, secret
            )
        return self.known[channel.id]


def process(event_id: int) -> inbound.Effects | None:
    """Apply a pending event; None when there was nothing (left) to do."""
    with db.session(write=True) as s:
        # Another worker holding the row is applying it already (PostgreSQL; SQLite serializes).
        query = select(WebhookEvent).where(WebhookEvent.id == event_id)
        event = s.exec(query.with_for_update(skip_locked=True)).first()
        if event is None or event.state != PENDING:
            return None
        try:
            items = adapter(event.source).parse(event.body)
        except PayloadError as exc:
            event.state, event.error = QUARANTINED, str(exc)
            return None
        by_number, by_account = _channels(s, event.source, items)
        signed = _Signatures(event)
        effects, failures = inbound.Effects(), []
        for item in items:
            if isinstance(item, TemplateStatusUpdate):
                targets = list(by_account.get(item.account, {}).values())
            else:
                channel = by_number.get(getattr(item, "channel", None))
                targets = [channel] if channel is not None else []
                if channel is None and getattr(item, "channel", None):
                    effects.problems.append(f"number {item.channel} is not connected")
                elif channel is not None and not channel.is_active:
                    # Held back: enabling the number again queues this event once more.
                    effects.problems.append(f"number {item.channel} is disabled")
                    targets = []
            for channel in targets:
                if not signed.by(channel):
                    effects.problems.append(f"not signed by the app of channel {channel.id}")
                    continue
                try:
                    with s.begin_nested():
                        inbound.apply(s, channel, item, effects)
                except Exception as exc:  # isolate the item; the event is retried as a whole
                    log.exception("event %s: item failed", event_id)
                    failures.append(f"{type(item).__name__}: {exc!r}"[:500])
        if failures:
            QUEUE.reschedule(event, "; ".join(failures))
        else:
            event.attempts += 1
            event.state = QUARANTINED if effects.problems else DONE
            event.error = "; ".join(effects.problems)[:4000] or None
            event.processed_at = utcnow()
        return effects
