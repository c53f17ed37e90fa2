"""Applying normalized inbound events: contacts, conversations, messages, statuses.

Applying an event is idempotent: the unique constraints (message per channel and platform
id, contact per organization and id, one unresolved conversation per contact and number)
decide races, statuses only move forward and reactions keep their latest time, so the same
event applied twice, or by two workers at once, changes nothing the second time. Callers run
each event in its own savepoint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pytake import db
from pytake.channels.base import (
    MEDIA_TYPES,
    STATUS_RANK,
    ChannelError,
    ContactRef,
    DeliveryStatus,
    Event,
    Ignored,
    InboundMessage,
    MessageType,
    PlatformError,
    Reaction,
    StatusUpdate,
    TemplateStatusUpdate,
)
from pytake.models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    MessageTemplate,
    Organization,
    Outbox,
    OutboxState,
    ParkedUpdate,
    utcnow,
)
from pytake.services import (
    alerts,
    automation,
    bot,
    csat,
    organization,
    outbound,
    search,
    teams,
    templates,
)

log = logging.getLogger("pytake.inbound")

WINDOW = dt.timedelta(hours=24)
REENGAGEMENT_REQUIRED = 131047  # Meta: the 24-hour window is closed
CONTACT = "contact"  # the customer's key in Message.reactions


@dataclasses.dataclass(slots=True)
class Effects:
    """What changed, for the caller to announce and schedule after the commit."""

    conversations: set[tuple[int, int]] = dataclasses.field(default_factory=set)  # (org, id)
    attachments: list[int] = dataclasses.field(default_factory=list)
    outbox: list[int] = dataclasses.field(default_factory=list)  # sends to wake up
    flows: list[int] = dataclasses.field(default_factory=list)  # bot runs to advance
    problems: list[str] = dataclasses.field(default_factory=list)
    # The change may have left a conversation waiting for an agent (a customer wrote, a
    # bot handed over): assign now rather than at the next periodic pass. A send's outcome
    # never does, and sparing it the pass matters at hundreds of sends a second.
    assignable: bool = True

    def touch(self, conversation: Conversation | Message) -> None:
        conversation_id = getattr(conversation, "conversation_id", None) or conversation.id
        self.conversations.add((conversation.organization_id, conversation_id))


def apply(s: Session, channel: Channel, event: Event, effects: Effects) -> None:
    if isinstance(event, InboundMessage):
        _message(s, channel, event, effects)
    elif isinstance(event, Reaction):
        _reaction(s, channel, event, effects)
    elif isinstance(event, StatusUpdate):
        if event.reference:
            _reconcile(s, channel, event.message_id, event.reference)
        _status(s, channel, event.message_id, event.status, event.at, event.errors, effects)
    elif isinstance(event, TemplateStatusUpdate):
        _template_status(s, channel, event)
    elif isinstance(event, ChannelError):
        _channel_error(s, channel, event.errors)
    elif isinstance(event, Ignored) and event.problem:
        effects.problems.append(event.problem)


# Contacts and conversations ------------------------------------------------------------------


def upsert_contact(s: Session, organization_id: int, ref: ContactRef) -> Contact:
    """Find the customer by scoped id or any spelling of their number; create them if new."""
    numbers = [n for n in (ref.external_id, *ref.aliases) if n]
    conditions = []
    if ref.scoped_id:
        conditions.append(Contact.bsuid == ref.scoped_id)
    if numbers:
        conditions.append(col(Contact.wa_id).in_(numbers))
    query = select(Contact).where(Contact.organization_id == organization_id, sa.or_(*conditions))
    found = list(s.exec(query))
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
        found = list(s.exec(query))
    # Prefer the record keyed by the scoped id: numbers change hands, scoped ids do not.
    found.sort(
        key=lambda c: (not ref.scoped_id or c.bsuid != ref.scoped_id, c.wa_id != ref.external_id)
    )
    contact, others = found[0], found[1:]
    _refresh_contact(contact, ref, taken={c.wa_id for c in others} | {c.bsuid for c in others})
    return contact


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


def conversation_for(s: Session, channel: Channel, contact: Contact) -> Conversation:
    """The unresolved conversation, else a recently resolved one reopened, else a new one."""
    for _ in range(3):
        current = s.exec(
            select(Conversation).where(
                Conversation.channel_id == channel.id,
                Conversation.contact_id == contact.id,
                Conversation.status != ConversationStatus.RESOLVED,
            )
        ).first()
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


def _known(s: Session, channel_id: int, external_id: str) -> bool:
    return (
        s.exec(
            select(Message.id).where(
                Message.channel_id == channel_id, Message.external_id == external_id
            )
        ).first()
        is not None
    )


def _store(s: Session, channel: Channel, conversation: Conversation, values: dict) -> int | None:
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


def _earlier(column, value: dt.datetime):
    return sa.case((column.is_(None), value), (column > value, value), else_=column)


def _window_values(sent_at: dt.datetime) -> dict:
    """The customer wrote: the 24-hour window (re)starts at their message's time."""
    return {
        "last_inbound_at": _later(Conversation.last_inbound_at, sent_at),
        "window_expires_at": _later(Conversation.window_expires_at, sent_at + WINDOW),
    }


def _window(s: Session, conversation: Conversation, sent_at: dt.datetime) -> None:
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(**_window_values(sent_at))
    )


def _message(s: Session, channel: Channel, event: InboundMessage, effects: Effects) -> None:
    if _known(s, channel.id, event.external_id):
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
    values = {
        "last_activity_at": _later(Conversation.last_activity_at, event.sent_at),
        "unread_count": Conversation.unread_count + 1,
    }
    if event.type is not MessageType.SYSTEM:
        values |= _window_values(event.sent_at)
    # Counted in SQL (concurrent webhooks add up); the row comes back in the same statement.
    s.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(**values)
        .returning(Conversation),
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
        alerts.on_inbound(s, conversation, message_id)
    effects.touch(conversation)
    apply_parked(s, channel.id, event.external_id, effects)


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


# Reactions and statuses: they refer to another message, which may not be stored yet ----------


def _reaction(s: Session, channel: Channel, event: Reaction, effects: Effects) -> None:
    if _known(s, channel.id, event.external_id):
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
    if not _react(s, channel.id, event.target_id, payload, effects):
        park(s, channel.id, event.target_id, "reaction", payload)


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


def _react(s: Session, channel_id: int, target_id: str, payload: dict, effects: Effects) -> bool:
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


def _status(
    s: Session,
    channel: Channel,
    message_id: str,
    status: DeliveryStatus,
    at: dt.datetime,
    errors: tuple[PlatformError, ...],
    effects: Effects,
) -> None:
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
        # Meta is the authority on the window: a 131047 closes it whatever our clock says.
        s.execute(
            sa.update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(window_expires_at=_earlier(Conversation.window_expires_at, at))
        )
    effects.conversations.add((organization_id, conversation_id))


def _reconcile(s: Session, channel: Channel, external_id: str, reference: str) -> None:
    """A send we never heard back from (timeout, crash) reported by its status webhook,
    which echoes our message id: it did go out, under this platform id."""
    message_id = outbound.referenced_id(reference)
    if message_id is None or _known(s, channel.id, external_id):
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
            _status(s, channel, external_id, DeliveryStatus(payload["status"]), at, errors, effects)
        elif update.kind == "reaction":
            _react(s, channel.id, external_id, payload, effects)
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


# Account-level events ------------------------------------------------------------------------


def _template_status(s: Session, channel: Channel, event: TemplateStatusUpdate) -> None:
    stored = s.exec(
        select(MessageTemplate).where(
            MessageTemplate.organization_id == channel.organization_id,
            MessageTemplate.account_id == event.account,
            MessageTemplate.name == event.name,
            MessageTemplate.language == event.language,  # both in the adapter's normal form
        )
    )
    approved = False
    for template in stored:
        if event.at and template.status_at and template.status_at > event.at:
            continue  # a replayed or delayed webhook older than what we know
        template.status = event.status
        template.rejected_reason = event.reason if event.reason not in (None, "NONE") else None
        template.status_at = event.at or template.status_at
        approved = approved or event.status == "APPROVED"
    if approved:  # the next periodic sync fetches what Meta approved (it may word it itself)
        config = channel.config or {}
        channel.config = {k: v for k, v in config.items() if k != templates.SYNCED_AT}


def _channel_error(s: Session, channel: Channel, errors: tuple[PlatformError, ...]) -> None:
    text = "; ".join(f"{e.code}: {e.title} {e.details}".strip() for e in errors)
    channel.last_error = text[:2000]
    log.warning("channel %s reported: %s", channel.id, text)
