"""Pushing committed changes into the browsers of this worker that may show them.

Each web worker keeps its own map of what its connected tabs show (a topic: one
conversation, or an organization's inbox list or dashboard), with each tab's member's
``Scope``, and listens to the change signals (Redis pub/sub reaches every worker).

- The inbox and conversation pages receive deltas: each change is read once here
  (``changes.build``), handed only to the tabs whose member's scope sees the conversation
  before or after it, and applied by the tab in memory. A tab holds at most one waiting
  event: updates arriving meanwhile join the list that event takes, so a busy tab applies
  them in batches instead of queuing one event per change. Each update handed to a tab is
  numbered; a tab that finds a number skipped (its worker changed, an update was lost) or is
  told that publications were missed reads its page again.
- Notices (every signed-in tab) are worked out here too: for the changes that may concern
  a tab's member, what happened in the conversation is read once for the batch
  (``notices.news``) and each such tab is handed what its member is told (``notices.pick``);
  its event only applies the member's preferences. A tab this worker cannot decide for (its
  member's scope changed, the change was not read here) looks for itself.
- Dashboards are worked out once per board and worker (``realtime.dashboards``): the relay
  tells it which organizations changed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable

import redis
from reflex_base.event import Event
from starlette.concurrency import run_in_threadpool

from pytake import db
from pytake.aio import pause, stop_if_cancelled
from pytake.auth.identities import Revocation
from pytake.realtime import changes, dashboards, presence, signals
from pytake.services import notices
from pytake.services.scope import Scope

log = logging.getLogger("pytake.realtime")
RESUBSCRIBE_SECONDS = 1.0

CONVERSATION, INBOX, DASHBOARD, SANDBOX = "conversation", "inbox", "dashboard", "sandbox"
NOTICE = "notice"  # every signed-in tab, whatever it shows: what needs its member's attention
# (CONVERSATION, conversation id), or (INBOX, DASHBOARD or SANDBOX, organization id)
Topic = tuple[str, int]
# What a kind of tab runs when something waits for it: an event's name (enqueued as if the
# browser had sent it), or ``run(token)``, work done in the tab's state directly (``ui.tabs``).
Handler = str | Callable[[str], Awaitable[None]]

_viewers: dict[Topic, set[str]] = collections.defaultdict(set)
_watching: dict[str, Topic] = {}
_people: dict[str, tuple[int, int]] = {}  # tab → (organization id, user id), for presence
_listeners: dict[str, int] = {}  # tab → organization id, for notices
_holders: dict[str, tuple[int, str]] = {}  # tab → (user id, session id), for revocations
_listening_as: dict[str, Scope] = {}  # tab → its member's scope, to target notices
_listening_since: dict[str, dt.datetime] = {}  # tab → what happened before is not news to it
QUEUED_STALE_SECONDS = 10.0


# A refresh enqueued for a tab (``nudge``) and not yet begun covers every change until it
# begins: more would only queue behind it. Tab → topic kind → that refresh; one never begun
# (its tab went away mid-queue) stops holding the next back after QUEUED_STALE_SECONDS.
_queued: dict[str, dict[str, float]] = {}


@dataclasses.dataclass
class _Pending:
    """The updates waiting for a tab's delta event, which takes them all when it begins."""

    since: float  # when its event was enqueued (monotonic)
    first: int  # the number of the first update in ``updates`` (see ``take``)
    updates: list[changes.Update] = dataclasses.field(default_factory=list)
    resync: bool = False  # read the page again instead


_pending: dict[str, _Pending] = {}
_numbered: dict[str, int] = {}  # tab → the number of the last update handed to it
_scopes: dict[str, Scope] = {}
MAX_PENDING = 200  # beyond this a tab reads its page again: cheaper than applying them all
DELTA_KINDS = (CONVERSATION, INBOX)


@dataclasses.dataclass(frozen=True)
class Taken:
    """What a tab's delta event takes: the updates waiting, whether it must read its page
    again instead, and the number of the last update handed to it (``applied`` next time)."""

    updates: list[changes.Update]
    resync: bool
    last: int


def take(token: str, applied: int) -> Taken:
    """The updates waiting for a tab that has applied those numbered up to ``applied``: if
    the first waiting one is not the next, some were lost (or the tab's state comes from
    another worker), and the tab reads its page again."""
    last = _numbered.get(token, 0)
    pending = _pending.pop(token, None)
    if pending is None:
        return Taken([], last != applied, last)
    return Taken(pending.updates, pending.resync or pending.first != applied + 1, last)


def scope(token: str) -> Scope | None:
    """The scope of the member behind a tab watching a page, as its page load computed it;
    None when it must be read again (``rescope``)."""
    return _scopes.get(token)


def watching(token: str) -> bool:
    return token in _watching


def rescope(token: str, seen_by: Scope) -> None:
    if token in _watching:
        _scopes[token] = seen_by


def listen(
    token: str,
    organization_id: int,
    user_id: int,
    session_id: str,
    seen_by: Scope | None = None,
    since: dt.datetime | None = None,
) -> None:
    """The tab hears of its organization's changes on any page (see NOTICE): what they tell
    its member given their scope (else it looks for itself), of what happened after
    ``since``; and of the end of its member's session (see ``recheck``)."""
    _listeners[token] = organization_id
    _holders[token] = (user_id, session_id)
    _listening_since[token] = since or dt.datetime.now(dt.UTC)
    if seen_by is not None:
        _listening_as[token] = seen_by
    else:
        _listening_as.pop(token, None)


async def recheck(
    app, revoked: Revocation | None, handler: str, connected: Callable[[str], bool]
) -> None:
    """Identities were revoked or changed (``None``: possibly any): every tab of this worker
    they cover runs ``handler``, so the guard reads its identity again now. A tab whose
    session ended (signed out elsewhere, deactivated, password changed) goes to the sign-in
    page at once instead of at its next click; one whose member changed carries on."""
    for token, organization_id in list(_listeners.items()):
        user_id, session_id = _holders.get(token, (0, ""))
        if revoked is not None and not (
            organization_id in revoked.organizations
            or user_id in revoked.users
            or session_id in revoked.sessions
        ):
            continue
        if not connected(token):
            forget(token)
            continue
        try:
            await app.event_processor.enqueue(token, Event(name=handler, payload={}))
        except Exception:  # one tab's trouble must not stop the others'
            log.exception("could not push to a tab")


def begun(token: str, kind: str) -> None:
    """The tab's refresh of ``kind`` started: it reads what was committed until now, so a
    later change needs another."""
    _queued.get(token, {}).pop(kind, None)
    if token in _queued and not _queued[token]:
        del _queued[token]


async def watch(
    token: str, topic: Topic, organization_id: int, user_id: int, seen_by: Scope | None = None
) -> None:
    """A tab shows one page, so it watches one topic at a time; its member is online.
    Pages kept by deltas give their member's scope, and their numbering starts again."""
    unwatch(token)
    if topic[0] in DELTA_KINDS:
        await changes.warm(organization_id)
        if seen_by is not None:
            _scopes[token] = seen_by
        _numbered[token] = 0
    _viewers[topic].add(token)
    _watching[token] = topic
    _people[token] = (organization_id, user_id)
    await presence.seen(organization_id, [user_id])


def unwatch(token: str) -> None:
    """The tab left its page (the notices waiting for it are about its member: they stay)."""
    _people.pop(token, None)
    _scopes.pop(token, None)
    _pending.pop(token, None)
    _numbered.pop(token, None)
    _queued.pop(token, None)
    dashboards.leave(token)
    previous = _watching.pop(token, None)
    if previous is not None:
        _viewers[previous].discard(token)
        if not _viewers[previous]:
            del _viewers[previous]


def forget(token: str) -> None:
    """The tab closed, moved to another worker or signed out: it hears of nothing more."""
    unwatch(token)
    _listeners.pop(token, None)
    _holders.pop(token, None)
    _listening_as.pop(token, None)
    _listening_since.pop(token, None)
    _told.pop(token, None)


def viewers(topic: Topic) -> set[str]:
    return set(_viewers.get(topic, ()))


async def relay(app, handlers: dict[str, Handler], connected: Callable[[str], bool]) -> None:
    """Forever: each change reaches the tabs of this worker that show it and may see it:
    ``handlers[topic kind]`` is the event each kind of tab runs.

    If Redis drops the subscription, it is made again; the first publication after that
    tells whether some were missed meanwhile, and if so the pages open here read again.
    """
    seen = [0]
    while True:
        stop_if_cancelled()
        try:
            await _relay(app, handlers, connected, seen)
        except (redis.RedisError, OSError) as exc:
            log.warning("live updates interrupted (%s); subscribing again", exc)
            await pause(RESUBSCRIBE_SECONDS)


async def vouch(connected: Callable[[str], bool]) -> None:
    """Forever: say again who is behind this worker's connected tabs (see presence)."""
    while True:
        stop_if_cancelled()
        by_org: dict[int, set[int]] = collections.defaultdict(set)
        for token, (org, user) in list(_people.items()):
            if connected(token):
                by_org[org].add(user)
            else:
                forget(token)
        for org, users in by_org.items():
            await presence.seen(org, users)
        await pause(presence.REFRESH)


async def _relay(
    app, handlers: dict[str, Handler], connected: Callable[[str], bool], seen: list[int]
) -> None:
    """``seen[0]``: the number of the last publication this relay saw, kept across
    subscriptions so that one made while it was away is noticed."""
    async for batch in signals.batches():
        missed = False
        if not batch:  # (re)subscribed: was anything published while this relay was away?
            now = await signals.current()
            missed, seen[0] = seen[0] > 0 and now != seen[0], now
        for seq in dict.fromkeys(change.seq for change in batch):
            missed |= signals.gap(seen[0], seq)
            seen[0] = seq
        waking: dict[str, Handler] = {}
        if missed:
            log.warning("live updates were missed; the pages open here read again")
            changes.forget()
        rescoped = {c.organization_id for c in batch if c.conversation_id == signals.SCOPE}
        for token, org in list(_listeners.items()):
            if org in rescoped:
                _listening_as.pop(token, None)  # told of every change until it loads a page
        for token, topic in list(_watching.items()):
            org = _people.get(token, (0, 0))[0]
            if topic[0] in DELTA_KINDS and topic[0] in handlers and (missed or org in rescoped):
                _add(token, None, handlers[topic[0]], waking)
                if org in rescoped:
                    _scopes.pop(token, None)  # the tab reads its member's scope again
        # From reading the changes to handing them to the tabs, nothing else runs: a tab
        # that counts from the picture then takes what waits for it never counts one twice.
        updates = await changes.build(batch)
        for update in updates:
            _hand_on(update, handlers, waking)
        for token, handler in waking.items():
            await _wake(app, token, handler, connected)
        changed = [
            pair
            for pair in dict.fromkeys((c.organization_id, c.conversation_id) for c in batch)
            if pair[1] != signals.SCOPE
        ]
        dashboards.changed(org for org, _ in changed)
        if NOTICE in handlers:
            await _tell(app, changed, updates, handlers[NOTICE], connected)


def _hand_on(
    update: changes.Update, handlers: dict[str, Handler], waking: dict[str, Handler]
) -> None:
    """The update goes to the tabs whose member sees the conversation, before or after."""
    change = update.change
    for topic in ((CONVERSATION, update.conversation_id), (INBOX, update.organization_id)):
        if topic[0] not in handlers:
            continue
        for token in viewers(topic):
            seen_by = _scopes.get(token)
            if seen_by is not None and (seen_by.sees(change.before) or seen_by.sees(change.after)):
                _add(token, update, handlers[topic[0]], waking)


def _add(
    token: str, update: changes.Update | None, handler: Handler, waking: dict[str, Handler]
) -> None:
    """Add the update (None: read the page again) to what the tab's waiting event takes;
    note the tab in ``waking`` unless such an event is already on its way."""
    now = time.monotonic()
    pending = _pending.get(token)
    if pending is None:
        pending = _pending[token] = _Pending(0.0, _numbered.get(token, 0) + 1)
    _numbered[token] = _numbered.get(token, 0) + (update is not None)
    if update is None or len(pending.updates) >= MAX_PENDING:
        pending.updates.clear()
        pending.resync = True
    else:
        pending.updates.append(update)
    if now - pending.since >= QUEUED_STALE_SECONDS:  # none on its way, or lost on the way
        pending.since = now
        waking[token] = handler


async def _wake(app, token: str, handler: Handler, connected: Callable[[str], bool]) -> None:
    if not connected(token):
        forget(token)  # the tab closed or moved to another worker
        return
    if not isinstance(handler, str):
        # Its own task: a tab busy with an event of its own holds its lock meanwhile, and
        # must not hold the other tabs' updates back.
        task = asyncio.create_task(handler(token))
        _running.add(task)
        task.add_done_callback(functools.partial(_ran, token))
        return
    try:
        await app.event_processor.enqueue(token, Event(name=handler, payload={}))
    except Exception:  # one tab's trouble must not stop the others' updates
        _lost(token)
        log.exception("could not push to a tab")


_running: set[asyncio.Task] = set()  # direct runs under way (the loop keeps weak references)


def _ran(token: str, task: asyncio.Task) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        _lost(token)
        log.error("could not push to a tab", exc_info=task.exception())


def _lost(token: str) -> None:
    """What waited for the tab may not have reached it: its next update reads its page."""
    if token in _watching:
        pending = _pending.setdefault(token, _Pending(0.0, _numbered.get(token, 0) + 1))
        pending.resync, pending.since = True, 0.0


@dataclasses.dataclass
class Told:
    """The notices waiting for a tab's notice event, which takes them all when it begins."""

    since: float  # when its event was enqueued (monotonic)
    notices: list[notices.Notice] = dataclasses.field(default_factory=list)
    look: set[int] = dataclasses.field(default_factory=set)  # conversations to look into


_told: dict[str, Told] = {}
MAX_TOLD = 50


def take_notices(token: str) -> Told:
    """What waits for a tab's notice event: notices decided here, and conversations it must
    look into itself."""
    return _told.pop(token, None) or Told(0.0)


async def _tell(
    app,
    changed: list[tuple[int, int]],
    updates: list[changes.Update],
    handler: str,
    connected: Callable[[str], bool],
) -> None:
    """Notices for the tabs the changes may concern: what happened is read once, for every
    change that concerns some tab here, and each tab is handed its member's notices."""
    built = {update.conversation_id: update.change for update in updates}
    concerned: dict[int, list[tuple[str, Scope]]] = collections.defaultdict(list)
    looking: dict[str, set[int]] = collections.defaultdict(set)
    for org, conversation in changed:
        change = built.get(conversation)
        for token, of in list(_listeners.items()):
            if of != org:
                continue
            member = _listening_as.get(token)
            if change is None or member is None:  # not read here, or scope unknown
                looking[token].add(conversation)
            elif notices.may_concern(member, change.before, change.after):
                concerned[conversation].append((token, member))
    if concerned:
        queued = [c for c in concerned if (f := built[c].after) and f.assignee_id is None]
        try:
            read = await run_in_threadpool(_read_news, list(concerned), queued)
        except Exception:  # the tabs look for themselves rather than miss their notices
            log.exception("could not read what happened; the tabs look for themselves")
            read = {}
        for conversation, tabs in concerned.items():
            news = read.get(conversation)
            if news is not None:
                news = _unprocessed(news)
            for token, member in tabs:
                if news is None:
                    looking[token].add(conversation)
                    continue
                since = _listening_since.get(token, dt.datetime.now(dt.UTC))
                found = notices.pick(news, member, built[conversation].after, since)
                if found:
                    _told.setdefault(token, Told(0.0)).notices.extend(found)
    for token, conversations in looking.items():
        _told.setdefault(token, Told(0.0)).look.update(conversations)
    now = time.monotonic()
    for token in list(_told):
        waiting = _told[token]
        del waiting.notices[:-MAX_TOLD]  # a tab that never takes them keeps only the latest
        if now - waiting.since < QUEUED_STALE_SECONDS or not (waiting.notices or waiting.look):
            continue  # its event is on its way and takes these too
        if not connected(token):
            forget(token)
            continue
        waiting.since = now
        try:
            await app.event_processor.enqueue(token, Event(name=handler, payload={}))
        except Exception:  # one tab's trouble must not stop the others'
            waiting.since = 0.0
            log.exception("could not push to a tab")


# Conversation → the happenings its last read found: each is decided once (for the tabs it
# concerned then), not again at the conversation's next change.
_processed: dict[int, frozenset[int]] = {}


def _unprocessed(news: notices.News) -> notices.News:
    done = _processed.get(news.conversation_id, frozenset())
    if len(_processed) > 100_000:  # conversations come and go: never let it grow without end
        _processed.clear()
    _processed[news.conversation_id] = frozenset(h.key for h in news.happenings)
    fresh = tuple(h for h in news.happenings if h.key not in done)
    return dataclasses.replace(news, happenings=fresh)


def _read_news(conversation_ids: list[int], queued: list[int]) -> dict[int, notices.News]:
    with db.session() as s:
        return notices.news(s, conversation_ids, queued)


async def nudge(app, kind: str, handler: str, connected: Callable[[str], bool]) -> None:
    """Every tab of this worker watching a topic of ``kind`` runs ``handler`` (which loads
    what its member may see), unless its previous one has not begun yet."""
    tokens = {
        token
        for topic, watching in list(_viewers.items())
        if topic[0] == kind
        for token in watching
    }
    now = time.monotonic()
    for token in tokens:
        if not connected(token):
            forget(token)  # the tab closed or moved to another worker
            continue
        since = _queued.setdefault(token, {}).get(kind)
        if since is not None and now - since < QUEUED_STALE_SECONDS:
            continue  # the refresh already waiting will show this change too
        _queued[token][kind] = now  # before enqueueing: it may begin before enqueue returns
        try:
            await app.event_processor.enqueue(token, Event(name=handler, payload={}))
        except Exception:  # one tab's trouble must not stop the others' updates
            begun(token, kind)
            log.exception("could not push to a tab")
