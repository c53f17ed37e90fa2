"""Updates that name another message by its platform id: delivery statuses, and a
customer's reaction on its target.

Meta may send them before the message they name is stored (our send has not recorded its id
yet, or the webhooks crossed): they are parked, and applied when the message gets its id
(``apply_parked``). Statuses only move forward, and a reaction keeps its latest time, so
applying one twice or late changes nothing.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake.channels.base import STATUS_RANK, DeliveryStatus, PlatformError
from pytake.models import Channel, Conversation, Message, Outbox, OutboxState, ParkedUpdate, utcnow
from pytake.services import inbound_prefetch, outbound
from pytake.services.effects import Effects

REENGAGEMENT_REQUIRED = 131047  # Meta: the 24-hour window is closed
CONTACT = "contact"  # the customer's key in Message.reactions


def react(s: Session, channel_id: int, target_id: str, payload: dict, effects: Effects) -> bool:
    """Keep the customer's latest reaction; a removal stays as a dated tombstone so an older
    reaction arriving late cannot come back."""
    target = s.exec(
        select(Message)
        .where(Message.channel_id == channel_id, Message.external_id == target_id)
        .with_for_update()
    ).first()
    if target is None:
        return False
    current = (target.reactions or {}).get(CONTACT)
    if current is None or current.get("at", "") <= payload["at"]:
        target.reactions = {**(target.reactions or {}), CONTACT: payload}
        effects.touch(target)
    return True


def apply_status(
    s: Session,
    channel: Channel,
    message_id: str,
    status: DeliveryStatus,
    at: dt.datetime,
    errors: tuple[PlatformError, ...],
    effects: Effects,
) -> None:
    """Move the message's status forward, never back; park it until the message is stored."""
    target = s.exec(
        select(Message.id, Message.conversation_id, Message.organization_id).where(
            Message.channel_id == channel.id, Message.external_id == message_id
        )
    ).first()
    if target is None:
        # Sent from elsewhere, or its send has not recorded the id yet: wait for it.
        park(
            s,
            channel.id,
            message_id,
            "status",
            {"status": status.value, "at": at.isoformat(), "errors": [e.as_dict() for e in errors]},
        )
        return
    row_id, conversation_id, organization_id = target
    rank = STATUS_RANK[status]
    settled = [value.value for value, r in STATUS_RANK.items() if r >= rank]
    settled.append(DeliveryStatus.FAILED.value)  # terminal
    values: dict = {"status": status.value}
    if status is DeliveryStatus.FAILED:
        values["error"] = {"errors": [e.as_dict() for e in errors]}
    s.execute(
        sa.update(Message)
        .where(Message.id == row_id, col(Message.status).not_in(settled))
        .values(**values)
    )
    stamp = {
        DeliveryStatus.SENT: Message.sent_at,
        DeliveryStatus.DELIVERED: Message.delivered_at,
        DeliveryStatus.READ: Message.read_at,
    }.get(status)
    if stamp is not None:
        s.execute(
            sa.update(Message).where(Message.id == row_id, stamp.is_(None)).values({stamp.key: at})
        )
    if any(e.code == REENGAGEMENT_REQUIRED for e in errors):
        close_window(s, conversation_id, at)
    effects.conversations.add((organization_id, conversation_id))


def close_window(s: Session, conversation_id: int, at: dt.datetime) -> None:
    """Meta is the authority on the window: a 131047 (in a status webhook or in a send's
    answer) closes it whatever our clock says; only templates go out until the customer
    writes again."""
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(window_expires_at=_earlier(Conversation.window_expires_at, at))
    )


def _earlier(column, value: dt.datetime):
    """The earlier of a column and a value, in SQL (an empty column takes the value)."""
    return sa.case((column.is_(None), value), (column > value, value), else_=column)


def reconcile(s: Session, channel: Channel, external_id: str, reference: str) -> None:
    """A send we never heard back from (timeout, crash) reported by its status webhook,
    which echoes our message id: it did go out, under this platform id."""
    message_id = outbound.referenced_id(reference)
    if message_id is None or inbound_prefetch.known(s, channel.id, external_id):
        return
    updated = s.execute(
        sa.update(Message)
        .where(
            Message.id == message_id,
            Message.channel_id == channel.id,
            Message.direction == "out",
            col(Message.external_id).is_(None),
        )
        .values(external_id=external_id, error=None)
    )
    if updated.rowcount:
        s.execute(
            sa.update(Outbox)
            .where(
                Outbox.message_id == message_id,
                col(Outbox.state).in_(
                    [OutboxState.UNKNOWN, OutboxState.SENDING, OutboxState.PENDING]
                ),
            )
            .values(state=OutboxState.DONE, error=None, updated_at=utcnow())
        )


def park(s: Session, channel_id: int, external_id: str, kind: str, payload: dict) -> None:
    inbound_prefetch.note_parked(s, channel_id, external_id)
    waiting = s.exec(
        select(ParkedUpdate.payload).where(
            ParkedUpdate.channel_id == channel_id,
            ParkedUpdate.external_id == external_id,
            ParkedUpdate.kind == kind,
        )
    )
    if payload not in list(waiting):  # a replayed event parks nothing twice
        s.add(
            ParkedUpdate(channel_id=channel_id, external_id=external_id, kind=kind, payload=payload)
        )


def apply_parked(s: Session, channel_id: int, external_id: str, effects: Effects) -> None:
    """A message just got its platform id: apply what arrived for it before it did."""
    if inbound_prefetch.parked(s, channel_id, external_id) is False:
        return
    parked = list(
        s.exec(
            select(ParkedUpdate)
            .where(ParkedUpdate.channel_id == channel_id, ParkedUpdate.external_id == external_id)
            .order_by(ParkedUpdate.id)
        )
    )
    if not parked:
        return
    channel = s.get(Channel, channel_id)
    for update in parked:
        payload = update.payload
        if update.kind == "status":
            errors = tuple(
                PlatformError(e.get("code"), e.get("title", ""), e.get("details", ""))
                for e in payload.get("errors", [])
            )
            at = dt.datetime.fromisoformat(payload["at"])
            apply_status(
                s, channel, external_id, DeliveryStatus(payload["status"]), at, errors, effects
            )
        elif update.kind == "reaction":
            react(s, channel.id, external_id, payload, effects)
        s.delete(update)


def apply_waiting(s: Session, effects: Effects, limit: int = 500) -> int:
    """Parked updates whose message has appeared since: its id was recorded by a transaction
    that could not see the update being parked at the same moment."""
    found = s.exec(
        select(ParkedUpdate.channel_id, ParkedUpdate.external_id)
        .join(
            Message,
            (Message.channel_id == ParkedUpdate.channel_id)
            & (Message.external_id == ParkedUpdate.external_id),
        )
        .distinct()
        .limit(limit)
    ).all()
    for channel_id, external_id in found:
        apply_parked(s, channel_id, external_id, effects)
    return len(found)


def purge_parked(s: Session, older_than: dt.timedelta) -> int:
    """Statuses of messages we will never see (sent from the phone app, say) are dropped."""
    result = s.execute(
        sa.delete(ParkedUpdate).where(ParkedUpdate.created_at < utcnow() - older_than)
    )
    return result.rowcount or 0
