"""Processing stored webhooks: parse, apply every item, record each event's outcome.

Events are applied in batches, in one transaction; a batch that fails is applied again one
event at a time, each item in its own savepoint, so one bad status cannot take other
messages down with it. A failed item makes its whole event retry later, which is safe
because applying is idempotent.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake import db
from pytake.channels import adapter
from pytake.channels.base import InboundMessage, PayloadError, Reaction, TemplateStatusUpdate
from pytake.crypto import DecryptionError
from pytake.jobs.rows import RowQueue
from pytake.models import Channel, Organization, WebhookEvent, utcnow
from pytake.services import channels, inbound, inbound_prefetch
from pytake.services.effects import Effects
from pytake.services.webhooks import DEAD, DONE, PENDING, QUARANTINED

log = logging.getLogger("pytake.jobs")


QUEUE = RowQueue(WebhookEvent, "received_at", DEAD)


def _channels(s: Session, items: list) -> tuple[dict, dict]:
    """The channels items name, keyed by (kind, number) and (kind, account)."""
    numbers = {i.channel for i in items if getattr(i, "channel", None)}
    accounts = {i.account for i in items if isinstance(i, TemplateStatusUpdate)}
    by_number, by_account = {}, {}
    if numbers:
        query = select(Channel).where(col(Channel.external_id).in_(numbers))
        by_number = {(c.kind, c.external_id): c for c in s.exec(query)}
    if accounts:
        query = select(Channel).where(col(Channel.account_id).in_(accounts))
        for channel in s.exec(query):
            # Template events concern the organization: one channel of each is enough.
            key = (channel.kind, channel.account_id)
            by_account.setdefault(key, {})[channel.organization_id] = channel
    return by_number, by_account


class _Signatures:
    """Whether the event was signed by each channel's own app (checked again here, so a
    quarantined body replayed later cannot reach a channel whose app did not sign it)."""

    def __init__(self, s: Session, event: WebhookEvent) -> None:
        self.s, self.event = s, event
        self.adapter = adapter(event.source)
        self.known: dict[int, bool] = {}

    def by(self, channel: Channel) -> bool:
        if channel.id not in self.known:
            # Decrypted once per batch, not once per event.
            secret = db.memo(self.s, ("webhook secret", channel.id), lambda: self._secret(channel))
            self.known[channel.id] = self.adapter.signature_valid(
                self.event.body, self.event.signature, secret
            )
        return self.known[channel.id]

    def _secret(self, channel: Channel) -> str:
        try:
            return self.adapter.webhook_secret(channels.credentials(channel))
        except DecryptionError:
            return ""


def process(event_ids: list[int], *, isolated: bool = False) -> Effects | None:
    """Apply pending events together, in one transaction; None when there was nothing
    (left) to do.

    A batch pays for the commit, the channels and the organizations' settings, flows and
    queues once instead of once per event, and its items run without savepoints (two round
    trips and a flush each): an item that fails takes the whole batch down, and the caller
    then applies its events one at a time, ``isolated``, as it does when the transaction as
    a whole fails (a deadlock, the database going away). Isolated, each item runs in its own
    savepoint, so a failing item makes only its own event retry and the event's other items
    are kept.
    """
    with db.session(write=True) as s:
        db.remember(s)
        _one_worker_per_customer(s, event_ids)
        # Rows another worker holds are being applied already (PostgreSQL; SQLite serializes).
        query = (
            select(WebhookEvent)
            .where(col(WebhookEvent.id).in_(event_ids), WebhookEvent.state == PENDING)
            .order_by(WebhookEvent.id)
        )
        claimed = list(s.exec(query.with_for_update(skip_locked=True)))
        parsed = []
        for event in sorted([*claimed, *_earlier(s, claimed)], key=lambda event: event.id):
            try:
                parsed.append((event, adapter(event.source).parse(event.body)))
            except PayloadError as exc:
                event.state, event.error = QUARANTINED, str(exc)
        if not parsed:
            return None
        # Concurrent batches lock customers' rows in the same order, so they wait for each
        # other instead of deadlocking; a customer's own webhooks keep their order.
        parsed.sort(key=lambda pair: _customer(pair[1]))
        by_number, by_account = _channels(s, [item for _event, items in parsed for item in items])
        # Held for the batch, so every item's lookup of its organization is served from memory.
        organizations = {c.organization_id for c in by_number.values()}
        query = select(Organization).where(col(Organization.id).in_(organizations))
        db.memo(s, Organization, lambda: s.exec(query).all())
        inbound_prefetch.prefetch(s, _messages(parsed, by_number))
        effects = Effects()
        for event, items in parsed:
            _apply(s, event, items, by_number, by_account, effects, isolated)
        return effects


# PostgreSQL advisory locks of two int4 keys: this namespace, then the first 32 bits of a
# customer's digest (a collision only makes two customers take turns). One statement takes
# them all, in one order.
_CUSTOMER_LOCKS = 0x50595443
_LOCK_CUSTOMERS = sa.text(
    "SELECT pg_advisory_xact_lock(:space, key) FROM ("
    "SELECT DISTINCT ('x' || left(customer, 8))::bit(32)::integer AS key FROM webhook_event "
    "WHERE id = ANY(:ids) AND customer IS NOT NULL ORDER BY 1) AS ordered"
)


def _one_worker_per_customer(s: Session, event_ids: list[int]) -> None:
    """Wait until no other worker is applying these webhooks' customers, and keep them until
    the commit (PostgreSQL; SQLite has one writer at a time anyway).

    Taken in one order and before any row, so workers queue for each other and never
    deadlock; with them held, the customers' earlier rows are free to take (see _earlier).
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(_LOCK_CUSTOMERS, {"space": _CUSTOMER_LOCKS, "ids": event_ids})


def _earlier(s: Session, events: list[WebhookEvent]) -> list[WebhookEvent]:
    """Their customers' webhooks received before them and not applied yet: applied first,
    in this batch, so a customer's messages are stored, and shown, in the order they
    arrived. A webhook that failed before waits for its own retry instead."""
    customers = {event.customer for event in events if event.customer}
    if not customers:
        return []
    ids = [event.id for event in events]
    query = (
        select(WebhookEvent)
        .where(
            col(WebhookEvent.customer).in_(customers),
            WebhookEvent.state == PENDING,
            WebhookEvent.attempts == 0,
            WebhookEvent.id < max(ids),
            col(WebhookEvent.id).not_in(ids),
        )
        .order_by(WebhookEvent.id)
    )
    return list(s.exec(query.with_for_update(skip_locked=True)))


def _messages(parsed: list, by_number: dict) -> list[tuple[int, str]]:
    """The (channel, platform id) of every message and reaction the batch may store."""
    pairs = []
    for event, items in parsed:
        for item in items:
            if isinstance(item, (InboundMessage, Reaction)):
                channel = by_number.get((event.source, item.channel))
                if channel is not None:
                    pairs.append((channel.id, item.external_id))
    return pairs


def _customer(items: list) -> tuple[str, str]:
    """The number and customer a webhook's first item concerns ("" when none)."""
    for item in items:
        person = getattr(item, "sender", None) or getattr(item, "recipient", None)
        if person is not None:
            return item.channel, person.external_id or person.scoped_id or ""
    return "", ""


def _apply(
    s: Session,
    event: WebhookEvent,
    items: list,
    by_number: dict,
    by_account: dict,
    effects: Effects,
    isolated: bool,
) -> None:
    signed = _Signatures(s, event)
    problems, failures = [], []
    for item in items:
        if isinstance(item, TemplateStatusUpdate):
            targets = list(by_account.get((event.source, item.account), {}).values())
        else:
            channel = by_number.get((event.source, getattr(item, "channel", None)))
            targets = [channel] if channel is not None else []
            if channel is None and getattr(item, "channel", None):
                problems.append(f"number {item.channel} is not connected")
            elif channel is not None and not channel.is_active:
                # Held back: enabling the number again queues this event once more.
                problems.append(f"number {item.channel} is disabled")
                targets = []
        for channel in targets:
            if not signed.by(channel):
                problems.append(f"not signed by the app of channel {channel.id}")
                continue
            if not isolated:
                inbound.apply(s, channel, item, effects)
                continue
            try:
                with s.begin_nested():
                    inbound.apply(s, channel, item, effects)
            except Exception as exc:  # isolate the item; the event is retried as a whole
                log.exception("event %s: item failed", event.id)
                inbound_prefetch.forget(s)
                failures.append(f"{type(item).__name__}: {exc!r}"[:500])
    effects.problems.extend(problems)
    if failures:
        QUEUE.reschedule(event, "; ".join(failures))
    else:
        event.attempts += 1
        event.state = QUARANTINED if problems else DONE
        event.error = "; ".join(problems)[:4000] or None
        event.processed_at = utcnow()
