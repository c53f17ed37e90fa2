"""Each committed change turned, once per web worker, into what its tabs apply.

For a batch of signals the worker reads, in one transaction, every changed conversation's
facts and inbox row; the thread's latest page and header are read on first need, once per
language. Before-facts come from the worker's picture of its organizations' unresolved
conversations (``services.scope.unresolved``), warmed when the first tab of an organization
opens here and kept current by the changes themselves, so the inbox counts move without a
query. Nothing here checks who may see what: ``push`` hands an update only to tabs whose
member's scope sees the conversation, and the tab checks again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable, Iterable

from starlette.concurrency import run_in_threadpool

from pytake import db
from pytake.models import ConversationStatus
from pytake.realtime.signals import ConversationChanged
from pytake.services import inbox, scope, thread
from pytake.services.inbox_updates import Change

# A picture older than this is read again at the next tab's load: a change made without a
# signal (none is known, but a new code path could forget one) is corrected within it.
WARM_SECONDS = 60.0


@dataclasses.dataclass
class _Picture:
    read_at: float
    facts: dict[int, scope.Facts]


_pictures: dict[int, _Picture] = {}  # organization id → its unresolved conversations


def _read(fn: Callable, *args):
    with db.session() as s:
        return fn(s, *args)


async def warm(organization_id: int) -> None:
    """Have the organization's picture here (a tab of it is opening on this worker)."""
    picture = _pictures.get(organization_id)
    if picture is None or time.monotonic() - picture.read_at > WARM_SECONDS:
        facts = await run_in_threadpool(_read, scope.unresolved, organization_id)
        _pictures[organization_id] = _Picture(time.monotonic(), facts)


def unresolved(organization_id: int) -> Iterable[scope.Facts]:
    picture = _pictures.get(organization_id)
    return list(picture.facts.values()) if picture is not None else []


def forget() -> None:
    """Changes were missed: every picture is read again when its tabs reload."""
    _pictures.clear()


class _Memo:
    """One read per key however many tabs ask at once (the first asks, the others wait)."""

    def __init__(self, read: Callable[[str], Awaitable]) -> None:
        self._read = read
        self._found: dict[str, asyncio.Future] = {}

    async def get(self, key: str):
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = asyncio.ensure_future(self._read(key))
        return await asyncio.shield(found)


@dataclasses.dataclass(frozen=True)
class Update:
    """A change as this worker's tabs receive it."""

    organization_id: int
    change: Change
    thread: _Memo  # language → (latest page of bubbles, whether older ones remain)
    header: _Memo  # "" → the conversation's header without "mine" (None: it is gone)

    @property
    def conversation_id(self) -> int:
        return self.change.conversation_id


def _thread_reader(conversation_id: int) -> Callable[[str], Awaitable]:
    async def read(language: str):
        return await run_in_threadpool(_read, thread.latest_for_delivery, conversation_id, language)

    return read


def _header_reader(conversation_id: int) -> Callable[[str], Awaitable]:
    async def read(_: str):
        return await run_in_threadpool(_read, thread.header_for_delivery, conversation_id)

    return read


def _now(s, ids: list[int]) -> tuple[dict[int, scope.Facts], dict]:
    rows = inbox.listed(s, ids)
    return {i: scope.facts_from(row) for i, row in rows.items()}, rows


async def build(batch: list[ConversationChanged]) -> list[Update]:
    """The updates of a batch, for the organizations that have tabs open here (the others'
    changes cost this worker nothing)."""
    wanted = [c for c in batch if c.organization_id in _pictures]
    ids = sorted({c.conversation_id for c in wanted})
    if not ids:
        return []
    facts, rows = await run_in_threadpool(_read, _now, ids)
    updates, done = [], set()
    for signal in reversed(wanted):  # the last signal of a conversation carries it
        if signal.conversation_id in done:
            continue
        done.add(signal.conversation_id)
        picture = _pictures.get(signal.organization_id)
        if picture is None:
            continue
        after = facts.get(signal.conversation_id)
        if after is not None and after.organization_id != signal.organization_id:
            continue  # a signal naming another organization's conversation shows nothing
        before = picture.facts.get(signal.conversation_id)
        if after is None or after.status == ConversationStatus.RESOLVED.value:
            picture.facts.pop(signal.conversation_id, None)
        else:
            picture.facts[signal.conversation_id] = after
        raw = rows.get(signal.conversation_id)
        change = Change(
            seq=signal.seq,
            conversation_id=signal.conversation_id,
            before=before,
            after=after,
            row=functools.cache(functools.partial(_drawn, raw)),
        )
        updates.append(
            Update(
                signal.organization_id,
                change,
                _Memo(_thread_reader(signal.conversation_id)),
                _Memo(_header_reader(signal.conversation_id)),
            )
        )
    updates.reverse()
    return updates


def _drawn(raw, language: str) -> dict | None:
    return inbox.drawn(raw, language) if raw is not None else None
