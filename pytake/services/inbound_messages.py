"""A customer's messages and reactions: who wrote, in which conversation, stored once.

The contact is found by any of their identities and the conversation reused, reopened or
opened (unique constraints decide races between workers); a message is stored once per
number and platform id, and moves its conversation's counters and 24-hour window in SQL, so
concurrent webhooks add up. Then the bot, the automatic messages and members' alerts hear of
it, and what waited for its platform id is applied.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake import db
from pytake.channels.base import (
    MEDIA_TYPES,
    ContactRef,
    DeliveryStatus,
    InboundMessage,
    MessageType,
    Reaction,
)
from pytake.models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    Organization,
    utcnow,
)
from pytake.services import (
    alerts,
    automation,
    bot,
    csat,
    inbound_prefetch,
    inbound_statuses,
    organization,
    search,
    teams,
)
from pytake.services.effects import Effects

log = logging.getLogger("pytake.inbound")

WINDOW = dt.timedelta(hours=24)


# Contacts and conversations ------------------------------------------------------------------


def upsert_contact(s: Session, organization_id: int, ref: ContactRef) -> Contact:
    """Find the customer by scoped id or any spelling of their number; create them if new."""
    numbers = [n for n in (ref.external_id, *ref.aliases) if n]
    query = _contacts(bool(ref.scoped_id), bool(numbers))
    params = {"organization_id": organization_id, "bsuid": ref.scoped_id, "numbers": numbers}
    found = list(s.exec(query, params=params))
    if not found:
        db.insert_ignore(
            s,
            Contact.__table__,
            {
                "organization_id": organization_id,
                "wa_id": ref.external_id,
                "bsuid": ref.scoped_id,
                "username": ref.username,
                "name": ref.name,
                "attributes": {"profile_name": ref.name} if ref.name else {},
                "created_at": utcnow(),
            },
        )
        found = list(s.exec(query, params=params))
    # Prefer the record keyed by the scoped id: numbers change hands, scoped ids do not.
    found.sort(
        key=lambda c: (not ref.scoped_id or c.bsuid != ref.scoped_id, c.wa_id != ref.external_id)
    )
    contact, others = found[0], found[1:]
    _refresh_contact(contact, ref, taken={c.wa_id for c in others} | {c.bsuid for c in others})
    return contact


@functools.cache
def _contacts(scoped: bool, numbered: bool):
    """The customer's records by scoped id and by any of their numbers, built once."""
    conditions = []
    if scoped:
        conditions.append(Contact.bsuid == sa.bindparam("bsuid"))
    if numbered:
        conditions.append(col(Contact.wa_id).in_(sa.bindparam("numbers", expanding=True)))
    return select(Contact).where(
        Contact.organization_id == sa.bindparam("organization_id"), sa.or_(*conditions)
    )


def _refresh_contact(contact: Contact, ref: ContactRef, taken: set[str | None]) -> None:
    changed = False
    if ref.scoped_id and not contact.bsuid and ref.scoped_id not in taken:
        contact.bsuid, changed = ref.scoped_id, True
    if ref.external_id and not contact.wa_id and ref.external_id not in taken:
        contact.wa_id, changed = ref.external_id, True
    if ref.username and contact.username != ref.username:
        contact.username, changed = ref.username, True
    profile_name = (contact.attributes or {}).get("profile_name")
    if ref.name and ref.name != profile_name:
        # An agent's rename wins; the WhatsApp profile name fills in only what it set itself.
        if contact.name in (None, "", profile_name):
            contact.name = ref.name
        contact.attributes = {**(contact.attributes or {}), "profile_name": ref.name}
        changed = True
    if changed:
        contact.updated_at = utcnow()


def _reopen_window(s: Session, organization_id: int) -> dt.timedelta:
    hours = organization.settings_of(s.get(Organization, organization_id))["reopen_hours"]
    return dt.timedelta(hours=max(0.0, hours))


# Built once: this runs for every customer message.
_UNRESOLVED = select(Conversation).where(
    Conversation.channel_id == sa.bindparam("channel_id"),
    Conversation.contact_id == sa.bindparam("contact_id"),
    Conversation.status != ConversationStatus.RESOLVED,
)


def conversation_for(s: Session, channel: Channel, contact: Contact) -> Conversation:
    """The unresolved conversation, else a recently resolved one reopened, else a new one."""
    ids = {"channel_id": channel.id, "contact_id": contact.id}
    for _ in range(3):
        current = s.exec(_UNRESOLVED, params=ids).first()
        if current is not None:
            if current.status == ConversationStatus.SNOOZED:
                current.status, current.snoozed_until = ConversationStatus.OPEN, None
            return current
        recent = s.exec(
            select(Conversation)
            .where(
                Conversation.channel_id == channel.id,
                Conversation.contact_id == contact.id,
                Conversation.status == ConversationStatus.RESOLVED,
                Conversation.resolved_at >= utcnow() - _reopen_window(s, channel.organization_id),
            )
            .order_by(Conversation.resolved_at.desc())
        ).first()
        try:
            with s.begin_nested():
                if recent is not None:
                    recent.status, recent.resolved_at = ConversationStatus.OPEN, None
                    s.flush()
                    return recent
                conversation = Conversation(
                    organization_id=channel.organization_id,
                    channel_id=channel.id,
                    contact_id=contact.id,
                    team_id=teams.serving_team(s, channel.id),
                    status=ConversationStatus.OPEN,
                )
                s.add(conversation)
                s.flush()
                return conversation
        except sa.exc.IntegrityError:
            # Another worker opened it first: the unique index says so; take theirs.
            s.expire_all()
    raise RuntimeError("could not open a conversation after three attempts")


# Messages ---------------------------------------------------------------------------------------


def _store(s: Session, channel: Channel, conversation: Conversation, values: dict) -> int | None:
    inbound_prefetch.note_stored(s, channel.id, values["external_id"])
    return db.insert_ignore(
        s,
        Message.__table__,
        {
            "organization_id": channel.organization_id,
            "conversation_id": conversation.id,
            "channel_id": channel.id,
            "direction": "in",
            "status": DeliveryStatus.RECEIVED,
            "reactions": {},
            "created_at": utcnow(),
            "search_text": search.indexed(values.get("content")),
            **values,
        },
        ["channel_id", "external_id"],
    )


def _later(column, value: dt.datetime):
    """The later of a column and a value, in SQL (statuses and webhooks arrive out of order)."""
    return sa.case((column.is_(None), value), (column < value, value), else_=column)


def _window_values(sent_at, until) -> dict:
    """The customer wrote: the 24-hour window (re)starts at their message's time (``until``
    is that time plus the window, computed by the caller: SQLite adds no intervals)."""
    return {
        "last_inbound_at": _later(Conversation.last_inbound_at, sent_at),
        "window_expires_at": _later(Conversation.window_expires_at, until),
    }


def _window(s: Session, conversation: Conversation, sent_at: dt.datetime) -> None:
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(**_window_values(sent_at, sent_at + WINDOW))
    )


@functools.cache
def _counted(window: bool) -> sa.Update:
    """The UPDATE a customer's message makes to its conversation, built once: built per
    message, its construction and cache key cost more than the database's work.

    Counted in SQL (concurrent webhooks add up); the row comes back in the same statement.
    """
    moment = Conversation.__table__.c.last_activity_at.type
    sent_at = sa.bindparam("sent_at", type_=moment)
    values = {
        "last_activity_at": _later(Conversation.last_activity_at, sent_at),
        "unread_count": Conversation.unread_count + 1,
    }
    if window:
        values |= _window_values(sent_at, sa.bindparam("window_until", type_=moment))
    return (
        sa.update(Conversation)
        .where(Conversation.id == sa.bindparam("conversation_id"))
        .values(**values)
        .returning(Conversation)
    )


def apply_message(s: Session, channel: Channel, event: InboundMessage, effects: Effects) -> None:
    if inbound_prefetch.known(s, channel.id, event.external_id):
        return
    contact = upsert_contact(s, channel.organization_id, event.sender)
    score = csat.score_of(event.type, event.content)
    # A rating, or the comment just after it, answers a resolved conversation: it is kept
    # there and reopens nothing.
    rated = csat.rated(s, channel, contact, score) if score is not None else None
    commented = None
    if rated is None and event.type is MessageType.TEXT:
        commented = csat.commented(s, channel, contact, str(event.content.get("body") or ""))
    conversation = rated or commented or conversation_for(s, channel, contact)
    message_id = _store(
        s,
        channel,
        conversation,
        {
            "type": event.type.value,
            "content": event.content,
            "external_id": event.external_id,
            "reply_to_external_id": event.reply_to,
            "sent_at": event.sent_at,
            "error": {"errors": [e.as_dict() for e in event.errors]} if event.errors else None,
        },
    )
    if message_id is None:
        return  # a concurrent worker stored it a moment ago
    if rated is not None or commented is not None:
        _window(s, conversation, event.sent_at)
        s.refresh(conversation)
        asked = csat.ask_comment(s, conversation) if rated else csat.thank(s, conversation)
        if asked is not None:
            effects.outbox.append(asked)
        effects.touch(conversation)
        return
    # Every customer message stored moves last_inbound_at (this worker alone writes it):
    # none yet means this is the first, with no query for earlier ones.
    first = conversation.last_inbound_at is None
    s.execute(
        _counted(event.type is not MessageType.SYSTEM),
        {
            "conversation_id": conversation.id,
            "sent_at": event.sent_at,
            "window_until": event.sent_at + WINDOW,
        },
        execution_options={"populate_existing": True},
    )
    if event.media is not None and event.type in MEDIA_TYPES:
        attachment = Attachment(
            organization_id=channel.organization_id,
            message_id=message_id,
            external_media_id=event.media.media_id,
            mime_type=event.media.mime_type,
            sha256=event.media.sha256,
            filename=event.media.filename,
        )
        s.add(attachment)
        s.flush()
        effects.attachments.append(attachment.id)
    if event.new_identity is not None:
        _change_identity(s, contact, event.new_identity)
    if event.type is not MessageType.SYSTEM:
        answered = bot.on_inbound(
            s, channel, conversation, contact, message_id, event.type, event.content, effects
        )
        outbox_id = None if answered else automation.after_inbound(s, conversation, utcnow())
        if outbox_id is not None:
            effects.outbox.append(outbox_id)
        alerts.on_inbound(s, conversation, message_id, first=first)
    effects.touch(conversation)
    inbound_statuses.apply_parked(s, channel.id, event.external_id, effects)


def _change_identity(s: Session, contact: Contact, new: ContactRef) -> None:
    """The customer changed number (or scoped id): follow them, unless another record has it."""
    for attribute, value in (("wa_id", new.external_id), ("bsuid", new.scoped_id)):
        if not value or getattr(contact, attribute) == value:
            continue
        holder = s.exec(
            select(Contact.id).where(
                Contact.organization_id == contact.organization_id,
                getattr(Contact, attribute) == value,
            )
        ).first()
        if holder is None:
            previous = getattr(contact, attribute)
            setattr(contact, attribute, value)
            contact.attributes = {**(contact.attributes or {}), f"previous_{attribute}": previous}
            contact.updated_at = utcnow()
        else:
            log.warning(
                "contact %s changed %s to one contact %s already has", contact.id, attribute, holder
            )


# Reactions: stored as messages, then applied to the message they name ---------------------


def apply_reaction(s: Session, channel: Channel, event: Reaction, effects: Effects) -> None:
    if inbound_prefetch.known(s, channel.id, event.external_id):
        return
    contact = upsert_contact(s, channel.organization_id, event.sender)
    conversation = _reaction_conversation(s, channel, contact, event.target_id)
    stored = _store(
        s,
        channel,
        conversation,
        {
            "type": MessageType.REACTION.value,
            "content": {"emoji": event.emoji, "target": event.target_id},
            "external_id": event.external_id,
            "reply_to_external_id": event.target_id,
            "sent_at": event.sent_at,
        },
    )
    if stored is None:
        return
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(last_activity_at=_later(Conversation.last_activity_at, event.sent_at))
    )
    effects.touch(conversation)
    payload = {"emoji": event.emoji, "at": event.sent_at.isoformat()}
    if not inbound_statuses.react(s, channel.id, event.target_id, payload, effects):
        inbound_statuses.park(s, channel.id, event.target_id, "reaction", payload)


def _reaction_conversation(
    s: Session, channel: Channel, contact: Contact, target_id: str
) -> Conversation:
    """A reaction belongs with its message and never reopens a resolved conversation."""
    target = s.exec(
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Message.channel_id == channel.id, Message.external_id == target_id)
    ).first()
    latest = (
        target
        or s.exec(
            select(Conversation)
            .where(Conversation.channel_id == channel.id, Conversation.contact_id == contact.id)
            .order_by(Conversation.id.desc())
        ).first()
    )
    return latest or conversation_for(s, channel, contact)
