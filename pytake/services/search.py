"""Search across messages and contacts, within what the caller may see.

Each message keeps ``search_text``: its words folded (lower case, no accents), so "não" and
"NAO" meet. PostgreSQL matches it with a full-text index built with both the Portuguese and
the English stemmer ("pedidos" finds "pedido", "orders" finds "order") plus prefixes of the
typed words; elsewhere every typed word must appear in it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import sqlalchemy as sa
from sqlmodel import Session

from pytake import phones
from pytake.auth.sessions import Identity
from pytake.db import contains
from pytake.folding import fold
from pytake.models import Channel, Contact, Conversation, Message, User
from pytake.services.conversations import Narrowing, visible_to

MAX_QUERY = 200
MAX_WORDS = 8
PAGE = 30
SNIPPET = 70  # characters of context on each side of the first match
# Where a message keeps its words, whatever its kind.
TEXT_KEYS = ("body", "caption", "filename", "title", "description", "text")
TEXT_KEYS += ("name", "formatted_name", "address")  # places and contact cards
_WORD = re.compile(r"\w+")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key in TEXT_KEYS for text in _strings(value.get(key))] + [
            text
            for key in ("cards", "rows", "buttons", "sections")
            for text in _strings(value.get(key))
        ]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def message_text(content: dict | None) -> str:
    """The words of a message's content, in reading order (body or caption, names, titles)."""
    return " ".join(_strings(content or {}))[:10_000]


def indexed(content: dict | None) -> str | None:
    """``search_text`` for a message row; None when it has no words (a sticker, a reaction)."""
    return fold(message_text(content)) or None


def words(query: str) -> list[str]:
    return _WORD.findall(fold(query[:MAX_QUERY]))[:MAX_WORDS]


@dataclasses.dataclass(frozen=True)
class Filters(Narrowing):
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive


ANYTHING = Filters()


def _vector() -> sa.ColumnElement:
    """The indexed expression (migration 0008 builds the same one)."""
    text = sa.func.coalesce(Message.search_text, "")
    return sa.func.to_tsvector(sa.literal_column("'portuguese'::regconfig"), text).op("||")(
        sa.func.to_tsvector(sa.literal_column("'english'::regconfig"), text)
    )


def _match(s: Session, terms: list[str]) -> tuple[sa.ColumnElement[bool], sa.ColumnElement | None]:
    """The condition on messages, and a rank (PostgreSQL only)."""
    if s.get_bind().dialect.name == "postgresql":
        phrase = " ".join(terms)
        prefixes = " & ".join(f"{term}:*" for term in terms)
        query = (
            sa.func.websearch_to_tsquery(sa.literal_column("'portuguese'::regconfig"), phrase)
            .op("||")(
                sa.func.websearch_to_tsquery(sa.literal_column("'english'::regconfig"), phrase)
            )
            .op("||")(sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), prefixes))
        )
        vector = _vector()
        return vector.op("@@")(query), sa.func.ts_rank(vector, query)
    conditions = [Message.search_text.like(contains(term), escape="\\") for term in terms]
    return sa.and_(*conditions), None


def _filtered(filters: Filters) -> list[sa.ColumnElement[bool]]:
    where = filters.conditions()
    if filters.since:
        where.append(Message.created_at >= dt.datetime.combine(filters.since, dt.time(), dt.UTC))
    if filters.until:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), dt.UTC)
        where.append(Message.created_at < end)
    return where


def messages(
    s: Session, identity: Identity, query: str, filters: Filters = ANYTHING, limit: int = PAGE
) -> list[dict]:
    """Messages with every typed word, best first (PostgreSQL) or newest first, in the
    conversations the caller may see; each with the words around the first match."""
    terms = words(query)
    if not terms:
        return []
    condition, rank = _match(s, terms)
    order = [rank.desc(), Message.id.desc()] if rank is not None else [Message.id.desc()]
    rows = s.execute(
        sa.select(
            Message.id,
            Message.conversation_id,
            Message.content,
            Message.direction,
            Message.created_at,
            Contact.name.label("contact"),
            Contact.wa_id,
            Channel.name.label("channel"),
            User.name.label("sender"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .outerjoin(User, User.id == Message.sender_user_id)
        .where(visible_to(identity), condition, *_filtered(filters))
        .order_by(*order)
        .limit(min(max(limit, 1), 200))
    )
    found = []
    for row in rows:  # plain columns, not Message objects: only what a result shows
        before, match, after = snippet(message_text(row.content), terms)
        found.append(
            {
                "id": row.id,
                "conversation_id": row.conversation_id,
                "contact": row.contact or phones.for_people(row.wa_id or ""),
                "channel": row.channel,
                "sender": row.sender or "",
                "out": row.direction == "out",
                "at": row.created_at.isoformat(),
                "before": before,
                "match": match,
                "after": after,
            }
        )
    return found


def contacts(s: Session, identity: Identity, query: str, limit: int = 10) -> list[dict]:
    """Contacts whose name, number or attributes hold every typed word, with their latest
    conversation the caller may see."""
    terms = words(query)
    if not terms:
        return []
    haystack = sa.func.pytake_fold(
        sa.func.coalesce(Contact.name, "")
        + " "
        + sa.func.coalesce(Contact.wa_id, "")
        + " "
        + sa.cast(Contact.attributes, sa.Text)
    )
    rows = s.execute(
        sa.select(Contact.id, Contact.name, Contact.wa_id, sa.func.max(Conversation.id))
        .join(Conversation, Conversation.contact_id == Contact.id)
        .where(visible_to(identity), *[haystack.like(contains(t), escape="\\") for t in terms])
        .group_by(Contact.id, Contact.name, Contact.wa_id)
        .order_by(Contact.name, Contact.id)
        .limit(limit)
    )
    return [
        {
            "id": i,
            "name": name or "",
            "number": phones.for_people(wa_id or ""),
            "conversation_id": latest,
        }
        for i, name, wa_id, latest in rows
    ]


def snippet(text: str, terms: list[str]) -> tuple[str, str, str]:
    """The text around the first typed word found: (before, the word, after)."""
    folded = fold(text)
    compact = " ".join(text.split())
    aligned = len(folded) == len(compact)  # folding kept every character in place
    for term in terms:
        at = folded.find(term)
        if at >= 0 and aligned:
            start, end = max(at - SNIPPET, 0), at + len(term)
            before = ("…" if start else "") + compact[start:at]
            after = compact[end : end + SNIPPET] + ("…" if end + SNIPPET < len(compact) else "")
            return before, compact[at:end], after
    return "", "", compact[: 2 * SNIPPET] + ("…" if len(compact) > 2 * SNIPPET else "")
