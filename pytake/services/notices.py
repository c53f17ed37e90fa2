"""What deserves a member's attention as it happens: a new conversation in their queues, a
customer writing in a conversation of theirs, a conversation given to them, an @mention;
each kind as the member's preferences choose, and without sound during their quiet hours.

Worked out once per change and web worker, not per tab: the push relay reads what happened
in the changed conversations (``news``, one read for a batch of changes) and decides in
memory, from each member's scope and the conversation's facts, who is told what (``pick``);
a tab then only applies its member's preferences. ``about`` does the same from the database
for a tab that must look for itself (its worker did not read the change). A notice never
tells of a conversation the member could not open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.sessions import Identity
from pytake.channels.base import MessageType
from pytake.models import Contact, Conversation, Message, Note
from pytake.services import alerts, conversations, thread
from pytake.services.preferences import Preferences
from pytake.services.scope import Facts, Scope, facts_of, scope_of

SHOWN = 5  # notices at most from one change: a burst reads as its latest messages
MAX_BODY = 140
# What happened lately in a conversation is its newest messages and notes: a burst of more
# between two reads (a tenth of a second apart under load) is told as its latest ones.
NEWEST = 10
_CHUNK = 100  # conversations per compound query (SQLite allows 500 terms)

INBOUND, ASSIGNING, NOTE = "inbound", "assigning", "note"


@dataclasses.dataclass(frozen=True, slots=True)
class Happening:
    """A message or note that may deserve a notice, as read once for every tab."""

    key: int  # the message's id, or minus the note's
    created_at: dt.datetime
    kind: str  # INBOUND (a customer wrote), ASSIGNING (given to someone), NOTE
    actor_id: int | None  # who assigned it, or wrote the note
    mentions: frozenset[int]
    message_type: str
    content: dict  # what the preview is made of (a note's: its body)
    first_from_customer: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class News:
    """What happened lately in one conversation."""

    conversation_id: int
    name: str  # the customer, as agents know them
    bot_running: bool
    happenings: tuple[Happening, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    key: int
    kind: str  # message, new_conversation, assigned, mention
    conversation_id: int
    name: str
    message_type: str
    content: dict
    quiet: bool = False  # during quiet hours: no sound, no desktop notification

    @property
    def url(self) -> str:
        return f"/inbox/{self.conversation_id}"

    def body(self, language: str | None) -> str:
        """What it says, in the member's language (a photo's kind, say)."""
        if self.kind == "assigned":
            return ""
        if self.kind == "mention":
            return str(self.content.get("body") or "")[:MAX_BODY]
        return thread.preview(self.message_type, self.content, language)[:MAX_BODY]


def may_concern(member: Scope, before: Facts | None, after: Facts | None) -> bool:
    """Whether a change could bring ``member`` a notice, decided in memory so that only the
    changes that may concern someone are read (``news``). Errs towards yes: a conversation
    this worker knew nothing of, or a new private note."""
    if after is None or not member.sees(after):
        return False  # a notice never tells of a conversation the member cannot open
    if before is None or after.last_note != before.last_note:
        return True  # new here (or reopened), or a note that may mention them
    if member.user_id in (after.assignee_id, before.assignee_id):
        return True  # a message in their conversation, or it was given to them
    queue = after.team_id is None or after.team_id in member.teams
    return (
        after.assignee_id is None and queue and after.customer_wrote and not before.customer_wrote
    )


def pick(news: News, member: Scope, after: Facts | None, since: dt.datetime) -> list[Notice]:
    """What ``member`` is told of ``news`` that happened after ``since``, the conversation
    being as ``after`` says now. In memory: it runs for every tab a change may concern."""
    if after is None or not member.sees(after):
        return []
    me, found = member.user_id, []
    for happening in news.happenings:
        if happening.created_at <= since:
            continue
        kind = _kind(happening, news, member, after, me)
        if kind is not None:
            found.append(
                Notice(
                    happening.key,
                    kind,
                    news.conversation_id,
                    news.name,
                    happening.message_type,
                    happening.content,
                )
            )
    return found


def _kind(happening: Happening, news: News, member: Scope, after: Facts, me: int) -> str | None:
    if happening.kind == ASSIGNING:
        return "assigned" if after.assignee_id == me and happening.actor_id != me else None
    if happening.kind == NOTE:
        return "mention" if me in happening.mentions and happening.actor_id != me else None
    if after.assignee_id == me:
        return "message"
    in_my_queues = after.team_id is None or after.team_id in member.teams
    if (
        after.assignee_id is None
        and not news.bot_running
        and in_my_queues
        and happening.first_from_customer
    ):
        return "new_conversation"
    return None


def chosen(found: Iterable[Notice], wanted: Preferences, now: dt.datetime) -> list[Notice]:
    """The notices the member wants in the app, marked quiet during their quiet hours; a
    burst reads as its latest."""
    quiet = wanted.quiet_until(now) is not None
    kept = [n for n in found if wanted.wants(n.kind, "app")]
    return [dataclasses.replace(n, quiet=quiet) for n in kept][-SHOWN:]


def news(
    s: Session, conversation_ids: Iterable[int], queued: Iterable[int] = ()
) -> dict[int, News]:
    """What happened lately in each conversation, in one read for them all. ``queued``:
    those waiting in a queue (unassigned), whose customers' first messages are news."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    about = {
        conversation_id: (bot_run_id, contact)
        for conversation_id, bot_run_id, contact in s.exec(
            select(Conversation.id, Conversation.bot_run_id, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.id.in_(ids))
        )
    }
    happened: dict[int, list[Happening]] = {i: [] for i in about}
    for row in _newest(s, ids, _messages):
        inbound = row.direction == "in"
        content = row.content if isinstance(row.content, dict) else {}
        if not inbound and content.get("kind") not in alerts.ASSIGNING:
            continue
        happened[row.conversation_id].append(
            Happening(
                key=row.id,
                created_at=row.created_at,
                kind=INBOUND if inbound else ASSIGNING,
                actor_id=row.sender_user_id,
                mentions=frozenset(),
                message_type=row.type,
                content=content,
            )
        )
    for row in _newest(s, ids, _notes):
        happened[row.conversation_id].append(
            Happening(
                key=-row.id,
                created_at=row.created_at,
                kind=NOTE,
                actor_id=row.author_id,
                mentions=frozenset(row.mentions or ()),
                message_type="",
                content={"body": row.body},
            )
        )
    queued = set(queued)
    found = {}
    for conversation_id, (bot_run_id, contact) in about.items():
        items = sorted(happened[conversation_id], key=lambda h: h.created_at)
        if conversation_id in queued:
            items = _with_first(s, conversation_id, items)
        found[conversation_id] = News(
            conversation_id, alerts.contact_label(contact), bot_run_id is not None, tuple(items)
        )
    return found


def _messages(conversation_id: int) -> sa.Select:
    relevant = sa.or_(
        sa.and_(Message.direction == "in", Message.type != MessageType.SYSTEM.value),
        Message.type == MessageType.ACTIVITY.value,
    )
    return (
        sa.select(
            Message.id,
            Message.conversation_id,
            Message.created_at,
            Message.direction,
            Message.type,
            Message.content,
            Message.sender_user_id,
        )
        .where(Message.conversation_id == conversation_id, relevant)
        .order_by(Message.id.desc())
        .limit(NEWEST)
    )


def _notes(conversation_id: int) -> sa.Select:
    return (
        sa.select(
            Note.id, Note.conversation_id, Note.created_at, Note.author_id, Note.body, Note.mentions
        )
        .where(Note.conversation_id == conversation_id)
        .order_by(Note.id.desc())
        .limit(NEWEST)
    )


def _newest(s: Session, ids: list[int], each) -> list:
    """``each(conversation)``'s rows for every conversation, a hundred per round trip (each
    part walks its conversation's index from the newest)."""
    rows = []
    for start in range(0, len(ids), _CHUNK):
        parts = [each(i).subquery() for i in ids[start : start + _CHUNK]]
        rows += s.execute(sa.union_all(*(sa.select(*part.c) for part in parts))).all()
    return rows


def _with_first(s: Session, conversation_id: int, items: list[Happening]) -> list[Happening]:
    """Marks the customer's first message ever, if it is among ``items``."""
    inbound = [h for h in items if h.kind == INBOUND]
    if not inbound or not alerts.first_from_customer(s, conversation_id, inbound[0].key):
        return items
    first = dataclasses.replace(inbound[0], first_from_customer=True)
    return [first if h is inbound[0] else h for h in items]


def about(
    s: Session, identity: Identity, conversation_ids: Iterable[object], since: dt.datetime
) -> list[Notice]:
    """From the database: what ``identity`` is told of the conversations (ids from anywhere:
    checked), for a tab whose worker did not read their changes."""
    ids = sorted({i for i in conversation_ids if conversations.valid_id(i)})
    facts = facts_of(s, ids)
    if not facts:
        return []
    member = scope_of(s, identity)
    queued = [i for i, f in facts.items() if f.assignee_id is None]
    read = news(s, facts.keys(), queued)
    return [n for i in ids if i in read for n in pick(read[i], member, facts.get(i), since)]
