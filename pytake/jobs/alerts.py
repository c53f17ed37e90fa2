"""Delivering alerts: a push to each of the member's devices at once, an e-mail after their
delay. Network calls happen between transactions; a worker dying between a send and its
record may repeat that one push or e-mail, never lose it."""

from __future__ import annotations

import asyncio
import logging

from py_vapid import Vapid02

from pytake import db, mail, webpush
from pytake.jobs.rows import RowQueue
from pytake.models import Alert, utcnow
from pytake.realtime import presence
from pytake.services import alerts

log = logging.getLogger("pytake.jobs")
QUEUE = RowQueue(Alert, "created_at", alerts.DEAD)


def _recipient(alert_id: int) -> tuple[int, int] | None:
    with db.session() as s:
        return alerts.recipient(s, alert_id)


def _plan(alert_id: int, online: bool) -> tuple[alerts.Plan | None, Vapid02 | None]:
    with db.session(write=True) as s:
        plan = alerts.plan(s, alert_id, online, utcnow())
        vapid = webpush.key_pair(s) if plan is not None and plan.devices else None
        return plan, vapid


def _pushed(deliveries: list[webpush.Delivery]) -> None:
    with db.session(write=True) as s:
        alerts.pushed(s, deliveries, utcnow())


async def push(
    devices: list[webpush.Device], vapid: Vapid02, payload: dict
) -> list[webpush.Delivery]:
    """Push to every device at once, then record how each went."""
    async with webpush.client() as client:
        deliveries = await asyncio.gather(
            *(webpush.send(client, vapid, device, payload) for device in devices)
        )
    await asyncio.to_thread(_pushed, list(deliveries))
    return list(deliveries)


def _mail(letter: alerts.Letter) -> None:
    mail.send(letter.to, letter.subject, letter.text, letter.html)
    with db.session(write=True) as s:
        alerts.mailed(s, letter.alert_ids, utcnow())


async def deliver(alert_id: int) -> None:
    who = await asyncio.to_thread(_recipient, alert_id)
    if who is None:
        return
    organization_id, user_id = who
    online = user_id in await presence.online(organization_id)
    plan, vapid = await asyncio.to_thread(_plan, alert_id, online)
    if plan is None:
        return
    if plan.devices:
        await push(plan.devices, vapid, plan.payload)
    if plan.letter is not None:
        try:
            await asyncio.to_thread(_mail, plan.letter)
        except mail.MailError as exc:
            log.warning("alert %s: e-mail not sent: %s", alert_id, exc)
            await asyncio.to_thread(QUEUE.fail, alert_id, str(exc))
