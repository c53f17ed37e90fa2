"""Alerts: telling members of what needs them when they are away from the app, by Web Push
at once and by e-mail after their delay (the in-app notices are ``services.notices``).

An event (a customer writing, an assignment, an @mention) raises one ``Alert`` row per member
who wants it, in the transaction that stored the event, so nothing is told twice or lost. The
``alert`` job then decides, at delivery time, what is still worth telling: a conversation
taken meanwhile is not pushed, an agent online is not pushed nor e-mailed (the open app has
told them), quiet hours hold pushes back and move e-mails to their end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake import db, mail, phones, webpush
from pytake.channels.base import MessageType
from pytake.i18n import translate
from pytake.models import (
    Alert,
    Contact,
    Conversation,
    Membership,
    Message,
    Note,
    Organization,
    PushDevice,
    TeamMember,
    User,
    utcnow,
)
from pytake.services import preferences, thread
from pytake.settings import get_settings

ASSIGNING = ("assigned", "auto_assigned", "bot_handoff")
MAX_BODY = 140
PENDING, DONE, DEAD = "pending", "done", "dead"
MAIL_LISTED = 20  # alerts at most in one e-mail; the rest are counted


# Raising -----------------------------------------------------------------------------------


def on_inbound(s: Session, conversation: Conversation, message_id: int, *, first: bool) -> None:
    """A customer wrote: their agent is told; an unassigned ``first`` message of the
    conversation reaches the queue's members, unless a bot is answering it."""
    if conversation.assignee_id is not None:
        _raise(s, conversation, "message", message_id, [conversation.assignee_id])
    elif conversation.bot_run_id is None and first:
        _raise(s, conversation, "new_conversation", message_id, queue_members(s, conversation))


def on_activity(s: Session, conversation: Conversation, message: Message) -> None:
    """A conversation given to someone tells them (not when they took it themselves); a bot
    handing over to a team puts it in the queue, which its members hear of."""
    kind = (message.content or {}).get("kind")
    if kind not in ASSIGNING:
        return
    assignee = conversation.assignee_id
    if assignee is not None and message.sender_user_id != assignee:
        _raise(s, conversation, "assigned", message.id, [assignee])
    elif assignee is None and kind == "bot_handoff":
        _raise(s, conversation, "new_conversation", message.id, queue_members(s, conversation))


def on_note(s: Session, conversation: Conversation, note: Note) -> None:
    mentioned = [u for u in note.mentions or [] if u != note.author_id]
    _raise(s, conversation, "mention", -note.id, mentioned)


def first_from_customer(s: Session, conversation_id: int, message_id: int) -> bool:
    earlier = s.exec(
        select(Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "in",
            Message.id < message_id,
        )
        .limit(1)
    ).first()
    return earlier is None


def queue_members(s: Session, conversation: Conversation) -> list[int]:
    """Who works the conversation's queue: its team, or everyone when it has none."""
    team_id, organization_id = conversation.team_id, conversation.organization_id

    def members() -> tuple[int, ...]:
        if team_id is not None:
            return tuple(s.exec(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))
        query = select(Membership.user_id).where(Membership.organization_id == organization_id)
        return tuple(s.exec(query))

    return list(db.memo(s, ("queue", organization_id, team_id), members))


def _raise(
    s: Session, conversation: Conversation, kind: str, source: int, user_ids: list[int]
) -> None:
    # Only members who can be reached: a push device, or e-mail with SMTP configured. An alert
    # row per member of a busy queue otherwise costs every message a job nobody needs.
    pushable = db.memo(
        s,
        ("pushable", frozenset(user_ids)),
        lambda: set(s.exec(select(PushDevice.user_id).where(PushDevice.user_id.in_(user_ids)))),
    )
    mailable = mail.configured()
    if not user_ids or not (pushable or mailable):
        return
    organization = s.get(Organization, conversation.organization_id)
    users = s.exec(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.id.in_(set(user_ids)),
            Membership.is_active,
            Membership.organization_id == conversation.organization_id,
        )
    ).all()
    now = utcnow()
    for user in users:
        wanted = preferences.of(user, organization)
        by_push = wanted.wants(kind, "push") and user.id in pushable
        by_mail = wanted.wants(kind, "email") and mailable and bool(user.email)
        if not (by_push or by_mail):
            continue
        values = {
            "organization_id": conversation.organization_id,
            "user_id": user.id,
            "conversation_id": conversation.id,
            "kind": kind,
            "source": source,
            "state": PENDING,
            "attempts": 0,
            "outcome": "",
            "created_at": now,
            "next_attempt_at": now,  # due at once: the sweeper hands it out within seconds
        }
        db.insert_ignore(s, Alert.__table__, values, conflict=["user_id", "kind", "source"])


# Delivering --------------------------------------------------------------------------------


@dataclasses.dataclass
class Letter:
    to: str
    subject: str
    text: str
    html: str
    alert_ids: list[int]


@dataclasses.dataclass
class Plan:
    """What the job does outside the transaction: pushes, then maybe an e-mail."""

    alert_id: int
    devices: list[webpush.Device] = dataclasses.field(default_factory=list)
    payload: dict = dataclasses.field(default_factory=dict)
    letter: Letter | None = None


def recipient(s: Session, alert_id: int) -> tuple[int, int] | None:
    """(organization, user) of a pending alert: the job asks if that member is online."""
    alert = s.get(Alert, alert_id)
    if alert is None or alert.state != PENDING:
        return None
    return alert.organization_id, alert.user_id


def plan(s: Session, alert_id: int, online: bool, now: dt.datetime) -> Plan | None:
    """Decide this alert's push (once) and whether its e-mail is due; records the decisions."""
    alert = s.exec(select(Alert).where(Alert.id == alert_id).with_for_update()).first()
    if alert is None or alert.state != PENDING:
        return None
    user = s.get(User, alert.user_id)
    conversation = s.get(Conversation, alert.conversation_id)
    wanted = preferences.of(user, s.get(Organization, alert.organization_id))
    result = Plan(alert.id)
    member = s.exec(
        select(Membership.is_active).where(
            Membership.user_id == alert.user_id,
            Membership.organization_id == alert.organization_id,
        )
    ).first()
    if not member or not _still_news(alert, conversation):
        _finish(alert, "outdated")
        return result
    quiet_until = wanted.quiet_until(now)
    if alert.pushed_at is None:
        alert.pushed_at = now
        if not wanted.wants(alert.kind, "push"):
            _note(alert, "push off")
        elif online:
            _note(alert, "push: online")
        elif quiet_until is not None:
            _note(alert, "push: quiet hours")
        else:
            result.devices = devices_of(s, user.id)
            result.payload = _told(s, alert, conversation, user.locale)
            _note(alert, f"pushed to {len(result.devices)}" if result.devices else "no device")
    if alert.mailed_at is not None:  # in an e-mail sent for an earlier alert
        _finish(alert, "mailed")
        return result
    if not (wanted.wants(alert.kind, "email") and mail.configured() and user.email):
        _finish(alert, "no e-mail")
        return result
    due = alert.created_at + dt.timedelta(minutes=wanted.mail_delay)
    if quiet_until is not None:
        due = max(due, quiet_until)
    if now < due:
        alert.next_attempt_at = due
        return result
    if online:
        _finish(alert, "e-mail: online")
        return result
    result.letter = _letter(s, user, now)
    return result


def devices_of(s: Session, user_id: int) -> list[webpush.Device]:
    rows = s.exec(select(PushDevice).where(PushDevice.user_id == user_id)).all()
    return [webpush.Device(d.id, d.endpoint, d.p256dh, d.auth) for d in rows]


def pushed(s: Session, deliveries: list[webpush.Delivery], now: dt.datetime) -> None:
    """Devices that took the push are in use; gone ones are forgotten; others keep the
    reason they failed, which the preferences page shows."""
    for delivery in deliveries:
        device = s.get(PushDevice, delivery.device_id)
        if device is None:
            continue
        if delivery.gone:
            s.delete(device)
        elif delivery.ok:
            device.last_used_at, device.last_error = now, None
        else:
            device.last_error = (delivery.error or "")[:300]


def mailed(s: Session, alert_ids: list[int], now: dt.datetime) -> None:
    for alert in s.exec(select(Alert).where(Alert.id.in_(alert_ids))).all():
        alert.mailed_at = now
        if alert.pushed_at is not None and alert.state == PENDING:
            _finish(alert, "mailed")


def _still_news(alert: Alert, conversation: Conversation | None) -> bool:
    if conversation is None:
        return False
    if alert.kind == "new_conversation":
        return conversation.assignee_id is None and conversation.status != "resolved"
    if alert.kind == "message":  # read meanwhile: nothing left to tell
        return conversation.assignee_id == alert.user_id and conversation.unread_count > 0
    if alert.kind == "assigned":
        return conversation.assignee_id == alert.user_id
    return True


def _note(alert: Alert, what: str) -> None:
    alert.outcome = "; ".join(x for x in (alert.outcome, what) if x)[:120]


def _finish(alert: Alert, what: str) -> None:
    _note(alert, what)
    alert.state, alert.next_attempt_at = DONE, None


def _told(s: Session, alert: Alert, conversation: Conversation, language: str | None) -> dict:
    """Title, text and link of one alert, in the member's language."""
    contact = s.get(Contact, conversation.contact_id)
    body = ""
    if alert.source < 0:
        note = s.get(Note, -alert.source)
        body = note.body if note is not None else ""
    elif alert.kind != "assigned":
        message = s.get(Message, alert.source)
        if message is not None and message.type != MessageType.ACTIVITY:
            body = thread.preview(message.type, message.content or {}, language)
    return {
        "title": translate(f"notice.{alert.kind}", language, name=contact_label(contact)),
        "body": body[:MAX_BODY],
        "url": f"/inbox/{conversation.id}",
        "tag": f"conversation-{conversation.id}",
    }


def contact_label(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return contact.name or contact.username or phones.for_people(contact.wa_id or "")


def _letter(s: Session, user: User, now: dt.datetime) -> Letter:
    """One e-mail for everything the member was not told yet and wants e-mailed."""
    pending = s.exec(
        select(Alert)
        .where(
            Alert.user_id == user.id,
            Alert.state == PENDING,
            Alert.mailed_at.is_(None),
            Alert.created_at <= now,
        )
        .order_by(Alert.id)
    ).all()
    wanted = preferences.of(user, s.get(Organization, pending[0].organization_id))
    pending = [a for a in pending if wanted.wants(a.kind, "email")]
    language = user.locale
    base = get_settings().public_url
    lines, items = [], []
    told = [
        _told(s, alert, s.get(Conversation, alert.conversation_id), language)
        for alert in pending[-MAIL_LISTED:]
    ]
    for one in told:
        link = f"{base}{one['url']}" if base else ""
        lines.append("\n".join(x for x in (f"• {one['title']}", one["body"], link) if x))
        title = html.escape(one["title"])
        heading = f'<a href="{html.escape(link)}">{title}</a>' if link else title
        items.append(f"<li><p><strong>{heading}</strong><br>{html.escape(one['body'])}</p></li>")
    more = len(pending) - MAIL_LISTED
    if more > 0:
        extra = translate("alert.mail_more", language, count=more)
        lines.append(extra)
        items.append(f"<li>{html.escape(extra)}</li>")
    intro = translate("alert.mail_intro", language, name=user.name)
    closing = translate("alert.mail_closing", language)
    subject = (
        told[0]["title"]
        if len(pending) == 1
        else translate("alert.mail_subject", language, count=len(pending))
    )
    text = "\n\n".join([intro, *lines, closing])
    body = f"<p>{html.escape(intro)}</p><ul>{''.join(items)}</ul><p>{html.escape(closing)}</p>"
    return Letter(user.email, f"PyTake: {subject}", text, body, [a.id for a in pending])


def purge(s: Session, older_than: dt.timedelta) -> int:
    """Told alerts are only a record; they go after a while."""
    cutoff = utcnow() - older_than
    result = s.execute(sa.delete(Alert).where(Alert.state != PENDING, Alert.created_at < cutoff))
    return result.rowcount or 0
