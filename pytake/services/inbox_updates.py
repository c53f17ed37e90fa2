"""An inbox page kept current by deltas: one row inserted, updated, moved or removed, and
the counts moved, for each change, without reading the database.

A web worker turns a committed change into a ``Change`` once (the conversation's facts
before and after, and its row as the inbox draws it); each tab then applies it here, in
memory, through its member's ``Scope``. Everything here is pure, so a test can check that a
page kept by deltas is the page a reload reads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable

from pytake.models import ConversationStatus
from pytake.services.inbox import PAGE_SIZE, VIEWS, Query
from pytake.services.scope import Facts, Scope, naive

RESOLVED = ConversationStatus.RESOLVED.value


@dataclasses.dataclass(frozen=True)
class Change:
    """One conversation's change, as every tab of a web worker applies it."""

    seq: int
    conversation_id: int
    # None before: the conversation was resolved or did not exist (see ``live.facts``).
    before: Facts | None
    after: Facts | None  # None: it no longer exists
    row: Callable[[str], dict | None]  # its inbox row in a language, built once per language


@dataclasses.dataclass
class Page:
    """What an inbox tab shows: one page of rows and the views' counts."""

    query: Query
    rows: list[dict]
    has_next: bool
    first: bool  # the first page: a conversation newer than every row belongs on it
    counts: dict[str, int]
    # Each row's (last activity, id), read from the rows once per page, not once per change.
    positions: list[tuple[dt.datetime, int]] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.positions = [_position(row) for row in self.rows]


def matches(scope: Scope, query: Query, facts: Facts | None) -> bool:
    """Whether the conversation belongs in the list the query asks for (``inbox.page``)."""
    if facts is None or not scope.sees(facts) or facts.status != query.status:
        return False
    if not scope.in_view(facts, query.view):
        return False
    for key, value in query.filters.items():
        if key == "label":
            if value not in facts.label_ids:
                return False
        elif getattr(facts, f"{key}_id") != value:
            return False
    return True


def counted(scope: Scope, status: str, facts: Iterable[Facts]) -> dict[str, int]:
    """The counts ``inbox.counts`` reads, from the facts of unresolved conversations."""
    counts = dict.fromkeys(VIEWS, 0) | {"unread": 0}
    for one in facts:
        _add(counts, scope, status, one, 1)
    return counts


def _add(counts: dict[str, int], scope: Scope, status: str, facts: Facts | None, n: int) -> None:
    if facts is None or not scope.sees(facts):
        return
    if facts.status == status:
        for view in VIEWS:
            if scope.in_view(facts, view):
                counts[view] = counts.get(view, 0) + n
    if facts.status == ConversationStatus.OPEN.value and facts.unread:
        counts["unread"] = counts.get("unread", 0) + n


def recount_needed(query: Query, change: Change) -> bool:
    """Resolved conversations are not in memory: a resolved list whose conversation changed
    from a state nobody kept (resolved, or new) must count again."""
    return query.status == RESOLVED and change.before is None


def apply(page: Page, scope: Scope, language: str, change: Change, *, count: bool = True) -> bool:
    """Apply one change to ``page`` in place; return whether anything shown changed.
    ``count=False``: the counts already include it (they were just read)."""
    before = dict(page.counts)
    if count:
        _add(page.counts, scope, page.query.status, change.before, -1)
        _add(page.counts, scope, page.query.status, change.after, 1)
    moved = page.counts != before
    shown = page.positions
    at = next((i for i, (_, row_id) in enumerate(shown) if row_id == change.conversation_id), None)
    wanted = matches(scope, page.query, change.after)
    row = change.row(language) if wanted else None
    if at is not None:
        del page.rows[at], shown[at]
        if row is None:
            return True
    elif row is None:
        return moved
    position = _position(row)
    index = next((i for i, p in enumerate(shown) if p < position), None)
    if index is None:  # older than every row shown
        if page.has_next and at is None:
            return moved  # it belongs on a later page
        index = len(page.rows)
    elif index == 0 and not page.first and at is None:
        return moved  # newer than this page: it belongs on an earlier one
    page.rows.insert(index, row)
    shown.insert(index, position)
    if len(page.rows) > PAGE_SIZE:
        page.rows.pop()
        shown.pop()
        page.has_next = True
    return True


def _position(row: dict) -> tuple[dt.datetime, int]:
    return (_moment(row["last_activity"]), row["id"])


@functools.lru_cache(maxsize=8192)
def _moment(iso: str) -> dt.datetime:
    """Every tab's page holds the same few hundred rows: each time is parsed once."""
    return naive(dt.datetime.fromisoformat(iso))


def cursor(rows: list[dict]) -> tuple[str, int] | None:
    """Where the next page starts, after the last row shown (``inbox.page``'s cursor)."""
    return (rows[-1]["last_activity"], rows[-1]["id"]) if rows else None
