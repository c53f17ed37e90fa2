"""Who is behind a session, remembered by each process for a few seconds.

The guard asks on every websocket event of every tab, keystrokes included. Reading the
session, user, membership and organization rows each time was a fair share of a web
worker's CPU, and on SQLite each read was a write transaction (it may stamp last_seen_at)
that queued behind the job workers. ``recall`` answers from memory for ``TTL_SECONDS`` after
it read the database; only that read stamps last_seen_at.

Whatever changes an identity or ends it is forgotten in every process when its transaction
commits: a sign-out or any revoked session (``sessions.revoke``/``revoke_all`` call
``forget``: password change, deactivation, an admin ending sessions), and a change to a
user's name, e-mail, language or active flag, to a role, to a membership or to an
organization's settings (the visibility rule, the default language). Those are noticed
when the ORM flushes them; a bulk UPDATE of those tables must call ``forget`` itself.

After the COMMIT, never before (a tab reading in between would remember the old identity
again), the committing process forgets them at once, and tells the others, whose ``follow``
task forgets them too:

- with Redis, it publishes them on ``CHANNEL``; they arrive within milliseconds;
- embedded, the web server is one process, but a CLI command is another: each commit
  rewrites the ``SIGNAL_FILE`` in the data folder, which the server reads every
  ``POLL_SECONDS``; when it changed, the server forgets everything (revocations are rare,
  and a forgotten identity costs one read).

A read that was under way when something was forgotten is not remembered (it may predate it).

Each web worker also reads again, in one statement every ``REFRESH_SECONDS``, the identities
its tabs used lately whose read is older than that (``keep_fresh``): a busy tab never waits
for its own read, and 200 agents cost one query every few seconds instead of 40 a second.

If a revocation does not reach a process (Redis down, a worker re-subscribing, a CLI
run with another data folder), its entry still expires: ``TTL_SECONDS`` is the bound on
how long a revoked identity can keep working anywhere, as is how long a session may outlive
its ``expires_at``.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import redis
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy import orm
from starlette.concurrency import run_in_threadpool

from pytake import redisio
from pytake.aio import pause, stop_if_cancelled
from pytake.models import Membership, Organization, User
from pytake.settings import get_settings

if TYPE_CHECKING:
    from pytake.auth.sessions import Identity

log = logging.getLogger("pytake.auth")

# A tab sends several events a second while its agent types: at 5 s the guard reads once per
# session every 5 s instead of once per event (50 agents: 10 reads a second per worker, not
# hundreds). Longer would save little more, and this is also the worst case for a revocation
# that does not reach a worker (see the module docstring): a few seconds, not minutes.
TTL_SECONDS = 5.0
# Far more sessions than one worker has tabs for; a flood of distinct (valid, signed)
# cookies evicts the least recently used instead of growing memory.
CAPACITY = 4096
REFRESH_SECONDS = TTL_SECONDS / 2  # how often keep_fresh reads again what tabs use
IN_USE_SECONDS = 60.0  # an identity recalled this recently is kept fresh
REFRESH_BATCH = 500  # sessions per statement
CHANNEL = "pytake:identity-revoked"
RESUBSCRIBE_SECONDS = 1.0
SIGNAL_FILE = "identities-revoked"  # in the data folder; embedded mode only
POLL_SECONDS = 0.25
_PENDING = "pytake_identities_forget"  # Session.info: what to forget when it commits

# The columns an Identity is made of (or depends on), per model.
_COLUMNS: dict[type, tuple[str, ...]] = {
    User: ("name", "email", "locale"),
    Membership: ("role", "is_active"),
    Organization: ("settings",),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Revocation:
    """Identities to forget: those of these sessions, of these users, in these organizations."""

    sessions: frozenset[str] = frozenset()
    users: frozenset[int] = frozenset()
    organizations: frozenset[int] = frozenset()

    def __or__(self, other: Revocation) -> Revocation:
        return Revocation(
            self.sessions | other.sessions,
            self.users | other.users,
            self.organizations | other.organizations,
        )

    def covers(self, identity: Identity) -> bool:
        return (
            identity.session_id in self.sessions
            or identity.user_id in self.users
            or identity.organization_id in self.organizations
        )

    def encode(self) -> str:
        return json.dumps([sorted(self.sessions), sorted(self.users), sorted(self.organizations)])

    @classmethod
    def decode(cls, data: bytes | str) -> Revocation | None:
        """None for a message that is not one."""
        try:
            sessions, users, organizations = json.loads(data)
            return cls(
                frozenset(str(s) for s in sessions),
                frozenset(int(u) for u in users),
                frozenset(int(o) for o in organizations),
            )
        except (ValueError, TypeError):
            return None


class IdentityCache:
    """Session id (verified from the signed cookie) → the identity read for it, and when;
    least recently used first. Thread-safe: the guard reads in worker threads."""

    def __init__(
        self,
        ttl: float = TTL_SECONDS,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl, self._capacity, self._clock = ttl, capacity, clock
        # Session id → (identity, when its read began, when it was last recalled).
        self._entries: collections.OrderedDict[str, tuple[Identity, float, float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        self._forgettings = 0  # how many times anything was forgotten; see recall

    def __len__(self) -> int:
        return len(self._entries)

    def remembered(self, session_id: str) -> Identity | None:
        """The identity if it is remembered and fresh; never reads the database."""
        now = self._clock()
        with self._lock:
            return self._fresh(session_id, now)

    def _fresh(self, session_id: str, now: float) -> Identity | None:
        found = self._entries.get(session_id)
        if found is None or now - found[1] >= self._ttl:
            return None
        self._entries[session_id] = (found[0], found[1], now)
        self._entries.move_to_end(session_id)
        return found[0]

    def recall(self, session_id: str, load: Callable[[], Identity | None]) -> Identity | None:
        """The identity remembered for ``session_id``, else ``load()``'s (from the database),
        remembered unless something was forgotten meanwhile."""
        now = self._clock()
        with self._lock:
            found = self._fresh(session_id, now)
            if found is not None:
                return found
            forgettings = self._forgettings
        identity = load()
        self._remember({session_id: identity}, now, forgettings)
        return identity

    def _remember(
        self, read: dict[str, Identity | None], began: float, forgettings: int, used: bool = True
    ) -> None:
        """Keep what a read that began at ``began`` found, unless something was forgotten
        since it began (``forgettings`` changed: it may predate a revocation). A session
        found ended is dropped either way. ``used``: recalled now, else (a refresh) the
        entry keeps its last use."""
        with self._lock:
            for session_id, identity in read.items():
                if identity is None:
                    self._entries.pop(session_id, None)
                elif self._forgettings == forgettings:
                    # Stamped with the time the read began: it is at least that fresh.
                    last = self._entries.get(session_id)
                    last_used = began if used or last is None else last[2]
                    self._entries[session_id] = (identity, began, last_used)
                    if used:
                        self._entries.move_to_end(session_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def due(self, older_than: float, used_within: float) -> tuple[list[str], float, int]:
        """The sessions recalled within ``used_within`` seconds whose read is older than
        ``older_than``; with the time and forgetting count a read of them starts at."""
        now = self._clock()
        with self._lock:
            wanted = [
                session_id
                for session_id, (_, read_at, used_at) in self._entries.items()
                if now - read_at >= older_than and now - used_at < used_within
            ]
            return wanted, now, self._forgettings

    def refreshed(self, read: dict[str, Identity | None], began: float, forgettings: int) -> None:
        """What a read of ``due`` sessions found (a session missing from ``read`` was not
        read: it keeps its entry, which expires on its own)."""
        self._remember(read, began, forgettings, used=False)

    def forget(self, revocation: Revocation) -> None:
        with self._lock:
            self._forgettings += 1
            for session_id in [
                sid
                for sid, (identity, _, _) in self._entries.items()
                if revocation.covers(identity)
            ]:
                del self._entries[session_id]

    def clear(self) -> None:
        with self._lock:
            self._forgettings += 1
            self._entries.clear()


_cache = IdentityCache()  # this process's


def recall(session_id: str, load: Callable[[], Identity | None]) -> Identity | None:
    """The identity of a session whose id was verified from its signed cookie; ``load``
    reads it from the database when it is not remembered (see the module docstring)."""
    return _cache.recall(session_id, load)


def remembered(session_id: str) -> Identity | None:
    """The remembered identity of a verified session id, without reading (see ``recall``)."""
    return _cache.remembered(session_id)


ReadMany = Callable[[list[str]], dict[str, "Identity | None"]]


async def keep_fresh(read: ReadMany) -> None:
    """Forever (each web worker runs it): read again, a batch per statement, the identities
    its tabs used lately before they expire, so that no tab's event waits for a read.
    ``read`` (in a thread) answers each session id given: its identity, or None if the
    session ended."""
    while True:
        await pause(REFRESH_SECONDS)
        cache = _cache
        wanted, began, forgettings = cache.due(REFRESH_SECONDS, IN_USE_SECONDS)
        for start in range(0, len(wanted), REFRESH_BATCH):
            batch = wanted[start : start + REFRESH_BATCH]
            try:
                found = await run_in_threadpool(read, batch)
            except Exception:  # the tabs read their own when their entries expire
                log.exception("could not read identities again")
                break
            cache.refreshed(found, began, forgettings)


def forget(
    db: orm.Session,
    *,
    sessions: Iterable[str] = (),
    users: Iterable[int] = (),
    organizations: Iterable[int] = (),
) -> None:
    """Once ``db`` commits, every process forgets these identities; nothing if it does not."""
    _pend(db, Revocation(frozenset(sessions), frozenset(users), frozenset(organizations)))


def _pend(db: orm.Session, revocation: Revocation) -> None:
    db.info[_PENDING] = db.info.get(_PENDING, Revocation()) | revocation


def _about(row: object) -> Revocation:
    if isinstance(row, Organization):
        return Revocation(organizations=frozenset({row.id}))
    return Revocation(users=frozenset({row.id if isinstance(row, User) else row.user_id}))


@sa.event.listens_for(orm.Session, "before_flush")
def _notice_changes(db: orm.Session, _context: object, _instances: object) -> None:
    for row in db.deleted:
        if type(row) in _COLUMNS:
            _pend(db, _about(row))
    for row in db.dirty:
        columns = _COLUMNS.get(type(row))
        if columns and any(sa.inspect(row).attrs[c].history.has_changes() for c in columns):
            _pend(db, _about(row))


@sa.event.listens_for(orm.Session, "after_commit")
def _committed(db: orm.Session) -> None:
    revocation = db.info.pop(_PENDING, None)
    if revocation is None:
        return
    _cache.forget(revocation)
    # Blocking, as this runs in the thread that committed, which may have no event loop to
    # await on (a worker thread, the CLI); it is one short write, and revocations are rare.
    client = redisio.blocking_client()
    try:
        if client is None:
            path = _signal_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(8))  # a new content each time
        else:
            client.publish(CHANNEL, revocation.encode())
    except (redis.RedisError, OSError) as exc:
        log.warning("revocation not announced (%s); other processes drop it by expiry", exc)


def _signal_file() -> Path:
    return get_settings().data_dir / SIGNAL_FILE


Revoked = Callable[[Revocation | None], Awaitable[None]]


async def _nothing(_revoked: Revocation | None) -> None:
    return None


async def follow(cache: IdentityCache = _cache, then: Revoked = _nothing) -> None:
    """Forever (each web worker runs it): forget what any process revokes (this one's own
    revocations come back through the same channel), then tell ``then`` what was (None:
    possibly anything), so open tabs can check their identity at once."""
    client = redisio.client()
    if client is None:
        await _watch(cache, then)
    else:
        await _subscribe(client, cache, then)


async def _watch(cache: IdentityCache, then: Revoked) -> None:
    path = _signal_file()
    seen = _content(path)
    while True:
        await pause(POLL_SECONDS)
        now = _content(path)
        if now != seen:
            seen = now
            cache.clear()
            await then(None)


def _content(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


async def _subscribe(client: aioredis.Redis, cache: IdentityCache, then: Revoked) -> None:
    while True:
        stop_if_cancelled()
        try:
            async with redisio.subscription(client, CHANNEL) as messages:
                cache.clear()  # what was published while not subscribed never arrives
                async for data in messages:
                    revocation = Revocation.decode(data)
                    if revocation is None:
                        cache.clear()  # unreadable: forgetting everything is always safe
                    else:
                        cache.forget(revocation)
                    await then(revocation)
        except (redis.RedisError, OSError) as exc:
            log.warning("revocations interrupted (%s); subscribing again", exc)
            await pause(RESUBSCRIBE_SECONDS)
