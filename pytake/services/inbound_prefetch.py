"""What a batch of webhooks asks of the database for every message, asked once per batch.

Each inbound message asks whether its platform id is stored already (a redelivery) and
whether updates for it were parked (a reaction that arrived before it). Almost always both
answers are no, yet each was a query per message: the batch asks both for all its messages
in two queries, and the session keeps the answers current as its items store messages and
park updates. A pair the batch did not announce is still asked of the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.models import Message, ParkedUpdate

_KEY = "inbound.prefetched"
_CHUNK = 500  # pairs per query: bounded statements however large the batch

Pair = tuple[int, str]  # (channel id, platform message id)


@dataclasses.dataclass(slots=True)
class _Prefetched:
    announced: set[Pair]
    stored: set[Pair]
    parked: set[Pair]


def prefetch(s: Session, pairs: Iterable[Pair]) -> None:
    """Read, for ``pairs``, which messages are stored and which have parked updates; the
    session answers ``known`` and ``parked`` for them from memory until it ends."""
    announced = {pair for pair in pairs if pair[1]}
    stored: set[Pair] = set()
    parked: set[Pair] = set()
    ordered = sorted(announced)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        stored.update(_present(s, Message.__table__, chunk))
        parked.update(_present(s, ParkedUpdate.__table__, chunk))
    s.info[_KEY] = _Prefetched(announced, stored, parked)


def _present(s: Session, table: sa.Table, pairs: list[Pair]) -> set[Pair]:
    query = sa.select(table.c.channel_id, table.c.external_id).where(
        sa.tuple_(table.c.channel_id, table.c.external_id).in_(pairs)
    )
    return {(channel_id, external_id) for channel_id, external_id in s.execute(query)}


def _of(s: Session, pair: Pair) -> _Prefetched | None:
    found = s.info.get(_KEY)
    return found if found is not None and pair in found.announced else None


def known(s: Session, channel_id: int, external_id: str) -> bool:
    """Whether the message is stored: from memory when the batch announced it, else from
    the database (the message a status names, or a session with no batch)."""
    found = _of(s, (channel_id, external_id))
    if found is not None:
        return (channel_id, external_id) in found.stored
    query = select(Message.id).where(
        Message.channel_id == channel_id, Message.external_id == external_id
    )
    return s.exec(query).first() is not None


def parked(s: Session, channel_id: int, external_id: str) -> bool | None:
    """Whether updates may wait for the message; None when the batch did not announce it.

    An update parked by an item whose savepoint then rolled back still counts: the answer
    only ever errs towards asking the database.
    """
    found = _of(s, (channel_id, external_id))
    return None if found is None else (channel_id, external_id) in found.parked


def note_stored(s: Session, channel_id: int, external_id: str) -> None:
    found = _of(s, (channel_id, external_id))
    if found is not None:
        found.stored.add((channel_id, external_id))


def note_parked(s: Session, channel_id: int, external_id: str) -> None:
    found = _of(s, (channel_id, external_id))
    if found is not None:
        found.parked.add((channel_id, external_id))


def forget(s: Session) -> None:
    """An item's savepoint rolled back: what it stored or parked is gone, so the rest of the
    batch asks the database again."""
    s.info.pop(_KEY, None)
