"""Accepting a webhook: authenticate it, then commit the raw body before answering.

Nothing is parsed into conversations here; that is the pipeline's job, after the 200. The
only reasons not to answer 200 are a bad signature (nothing is written) and a database that
cannot commit (503, so the platform retries later).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Mapping

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake import crypto, db
from pytake.channels import adapter
from pytake.channels.base import Routing
from pytake.models import Channel, WebhookEvent, utcnow
from pytake.services.channels import Route, directory
from pytake.settings import get_settings

log = logging.getLogger("pytake.webhooks")

PENDING, DONE, QUARANTINED, DEAD = "pending", "done", "quarantined", "dead"


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    status: int
    reason: str
    event_id: int | None = None  # set when a new row is waiting for the pipeline


def _authenticate(
    s: Session, kind: str, body: bytes, signature: str, routing: Routing, problem: str | None
) -> tuple[list[Route] | None, str | None]:
    """The routes that signed the body, or None; plus why it must be quarantined, if so."""
    channel_adapter = adapter(kind)
    named = directory.routes(s, kind, routing.numbers, routing.accounts)
    if named:
        # One app signs one POST: every channel it names must share that app's secret.
        secrets = {route.app_secret for route in named}
        valid = all(channel_adapter.signature_valid(body, signature, sec) for sec in secrets)
        return (named, problem) if valid else (None, None)
    # Unroutable: authentic only if signed by one of our apps; kept for an admin to look at.
    # Processing checks the signature again against the channels it is finally applied to.
    by_secret = {route.app_secret: route for route in directory.all(s, kind)}
    for secret, route in by_secret.items():
        if channel_adapter.signature_valid(body, signature, secret):
            return [route], problem or "names no configured channel"
    return None, None


def customer_key(customer: str | None) -> str | None:
    """What a webhook row keeps of its customer: enough to order their webhooks, no number."""
    return crypto.pseudonym(customer) if customer else None


STAMP_EVERY = 10.0  # seconds; "last webhook received" needs no finer grain
_stamped: dict[int, float] = {}


def _stamp(s: Session, channel_ids: list[int]) -> None:
    """Record when a channel last heard from its platform, without making every POST of a
    busy number update (and lock) the same row."""
    now = time.monotonic()
    due = [i for i in channel_ids if now - _stamped.get(i, float("-inf")) >= STAMP_EVERY]
    if due:
        s.execute(sa.update(Channel).where(Channel.id.in_(due)).values(last_webhook_at=utcnow()))
        _stamped.update(dict.fromkeys(due, now))


def accept(kind: str, body: bytes, headers: Mapping[str, str]) -> Verdict:
    signature = adapter(kind).signature(headers)
    if signature is None:
        return Verdict(401, "missing signature")
    routing, problem = adapter(kind).inspect(body)
    try:
        with db.session() as s:  # reading only: strangers never queue for the write lock
            routes, problem = _authenticate(s, kind, body, signature, routing, problem)
        if routes is None:
            return Verdict(403, "invalid signature")
        with db.session(write=True, wait=get_settings().webhook_store_seconds) as s:
            event_id = db.insert_ignore(
                s,
                WebhookEvent.__table__,
                {
                    "source": kind,
                    "body": body,
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                    "signature": signature,
                    "state": QUARANTINED if problem else PENDING,
                    "customer": customer_key(routing.customer),
                    "attempts": 0,
                    "error": problem,
                    "received_at": utcnow(),
                },
                ["source", "body_sha256"],
            )
            _stamp(s, [route.channel_id for route in routes])
    except sa.exc.SQLAlchemyError as exc:
        log.error("webhook not stored, asking the platform to retry: %s", exc.__class__.__name__)
        return Verdict(503, "cannot store the event now")
    if problem:
        log.warning("webhook event %s quarantined: %s", event_id, problem)
        return Verdict(200, "quarantined")
    if event_id is None:
        return Verdict(200, "duplicate")
    return Verdict(200, "stored", event_id)


def retry(event_ids: list[int] | None = None, *, state: str = QUARANTINED) -> list[int]:
    """Put quarantined or dead events back in the queue (after the cause was fixed)."""
    with db.session(write=True) as s:
        query = select(WebhookEvent.id).where(WebhookEvent.state == state)
        if event_ids:
            query = query.where(WebhookEvent.id.in_(event_ids))
        ids = list(s.exec(query))
        if ids:
            s.execute(
                sa.update(WebhookEvent)
                .where(WebhookEvent.id.in_(ids))
                .values(state=PENDING, attempts=0, next_attempt_at=None, error=None)
            )
    return ids


def events(state: str | None = None, limit: int = 50) -> list[WebhookEvent]:
    with db.session() as s:
        query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
        if state:
            query = query.where(WebhookEvent.state == state)
        return list(s.exec(query))
