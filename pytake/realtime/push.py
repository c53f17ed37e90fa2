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
- Dashboards and notices still re-read through the guard, paced, as their own queries
  decide what each member sees.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from collections.abc import Callable

import redis
from reflex_base.event import Event

from pytake.aio import pause, stop_if_cancelled
from pytake.realtime import changes, presence, signals
from pytake.services.scope import Scope
from pytake.settings import get_settings

log = logging.getLogger("pytake.realtime")
RESUBSCRIBE_SECONDS = 1.0

CONVERSATION, INBOX, DASHBOARD, SANDBOX = "conversation", "inbox", "dashboard", "sandbox"
NOTICE = "notice"  # every signed-in tab, whatever it shows: what needs its member's attention
# (CONVERSATION, conversation id), or (INBOX, DASHBOARD or SANDBOX, organization id)
Topic = tuple[str, int]

_viewers: dict[Topic, set[str]] = collections.defaultdict(set)
_watching: dict[str, Topic] = {}
_people: dict[str, tuple[int, int]] = {}  # tab → (organization id, user id), for presence
_listeners: dict[str, int] = {}  # tab → organization id, for notices
QUEUED_STALE_SECONDS = 10.0


@dataclasses.dataclass
class _Waiting:
    since: float  # when it was enqueued (monotonic)
    conversations: set[int]  # the changes it covers


# A refresh enqueued for a tab and not yet begun covers every change until it begins: more
# would only queue behind it (50 inbox tabs and 100 messages a second asked for 5,000
# reloads a second). Tab → topic kind → that refresh; one never begun (its tab went away
# mid-queue) stops holding the next back after QUEUED_STALE_SECONDS.
_queued: dict[str, dict[str, _Waiting]] = {}
# Tab → topic kind → when its last refresh began. The next waits until the pace has passed:
# while changes keep coming, every tab would otherwise reload as fast as the web worker
# can run it, and the workers applying those changes (at a lower priority) would starve.
_began: dict[str, dict[str, float]] = {}
_later: set[asyncio.Task] = set()  # refreshes waiting for their tab's pace


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


def listen(token: str, organization_id: int) -> None:
    """The tab hears of its organization's changes on any page (see NOTICE)."""
    _listeners[token] = organization_id


def begun(token: str, kind: str) -> set[int]:
    """The tab's refresh of ``kind`` started: it reads what was committed until now, so a
    later change needs another. Returns the conversations whose changes it covers."""
    waiting = _queued.get(token, {}).pop(kind, None)
    if token in _queued and not _queued[token]:
        del _queued[token]
    _began.setdefault(token, {})[kind] = time.monotonic()
    return waiting.conversations if waiting is not None else set()


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
    """The tab left its page. A notice check it has waiting is about the member, not the
    page, and still covers what it noted."""
    _people.pop(token, None)
    _scopes.pop(token, None)
    _pending.pop(token, None)
    _numbered.pop(token, None)
    notice = _queued.pop(token, {}).get(NOTICE)
    if notice is not None:
        _queued[token] = {NOTICE: notice}
    previous = _watching.pop(token, None)
    if previous is not None:
        _viewers[previous].discard(token)
        if not _viewers[previous]:
            del _viewers[previous]


def _forget(token: str) -> None:
    unwatch(token)
    _listeners.pop(token, None)
    _queued.pop(token, None)
    _began.pop(token, None)


def viewers(topic: Topic) -> set[str]:
    return set(_viewers.get(topic, ()))


async def relay(app, handlers: dict[str, str], connected: Callable[[str], bool]) -> None:
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
                _forget(token)
        for org, users in by_org.items():
            await presence.seen(org, users)
        await pause(presence.REFRESH)


async def _relay(
    app, handlers: dict[str, str], connected: Callable[[str], bool], seen: list[int]
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
        waking: dict[str, str] = {}
        if missed:
            log.warning("live updates were missed; the pages open here read again")
            changes.forget()
        rescoped = {c.organization_id for c in batch if c.conversation_id == signals.SCOPE}
        for token, topic in list(_watching.items()):
            org = _people.get(token, (0, 0))[0]
            if topic[0] in DELTA_KINDS and topic[0] in handlers and (missed or org in rescoped):
                _add(token, None, handlers[topic[0]], waking)
                if org in rescoped:
                    _scopes.pop(token, None)  # the tab reads its member's scope again
        # From reading the changes to handing them to the tabs, nothing else runs: a tab
        # that counts from the picture then takes what waits for it never counts one twice.
        for update in await changes.build(batch):
            _hand_on(update, handlers, waking)
        for token, handler in waking.items():
            await _wake(app, token, handler, connected)
        for org, conversation in dict.fromkeys(
            (c.organization_id, c.conversation_id) for c in batch
        ):
            if conversation != signals.SCOPE:
                await _refresh(app, org, conversation, handlers, connected)


def _hand_on(update: changes.Update, handlers: dict[str, str], waking: dict[str, str]) -> None:
    """The update goes to the tabs whose member sees the conversation, before or after."""
    change = update.change
    for topic in ((CONVERSATION, update.conversation_id), (INBOX, update.organization_id)):
        if topic[0] not in handlers:
            continue
        for token in viewers(topic):
            seen_by = _scopes.get(token)
            if seen_by is not None and (seen_by.sees(change.before) or seen_by.sees(change.after)):
                _add(token, update, handlers[topic[0]], waking)


def _add(token: str, update: changes.Update | None, handler: str, waking: dict[str, str]) -> None:
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


async def _wake(app, token: str, handler: str, connected: Callable[[str], bool]) -> None:
    if not connected(token):
        _forget(token)  # the tab closed or moved to another worker
        return
    try:
        await app.event_processor.enqueue(token, Event(name=handler, payload={}))
    except Exception:  # one tab's trouble must not stop the others' updates
        pending = _pending.get(token)
        if pending is not None:
            pending.resync, pending.since = True, 0.0
        log.exception("could not push to a tab")


async def _refresh(
    app, organization_id: int, conversation_id: int, handlers, connected: Callable[[str], bool]
) -> None:
    """Dashboards and notices: their own event re-reads what its member may see."""
    payload = {"conversation_id": conversation_id}
    if DASHBOARD in handlers:
        event = Event(name=handlers[DASHBOARD], payload=payload)
        await _push(app, viewers((DASHBOARD, organization_id)), event, connected, DASHBOARD)
    if NOTICE in handlers:
        listening = {t for t, of in list(_listeners.items()) if of == organization_id}
        event = Event(name=handlers[NOTICE], payload=payload)
        await _push(app, listening, event, connected, NOTICE)


async def nudge(app, kind: str, handler: str, connected: Callable[[str], bool]) -> None:
    """Every tab of this worker watching a topic of ``kind`` runs ``handler`` (which loads
    what its member may see)."""
    tokens = {
        token
        for topic, watching in list(_viewers.items())
        if topic[0] == kind
        for token in watching
    }
    await _push(app, tokens, Event(name=handler, payload={}), connected, kind)


async def _push(
    app, tokens: set[str], event: Event, connected: Callable[[str], bool], kind: str
) -> None:
    now = time.monotonic()
    pace = get_settings().live_refresh_seconds
    conversation = event.payload.get("conversation_id")
    for token in tokens:
        if not connected(token):
            _forget(token)  # the tab closed or moved to another worker
            continue
        waiting = _queued.setdefault(token, {}).get(kind)
        fresh = waiting is not None and now - waiting.since < QUEUED_STALE_SECONDS
        if not fresh:
            due = max(now, _began.get(token, {}).get(kind, -pace) + pace)
            # Noted before enqueueing: the refresh may begin before enqueue returns.
            waiting = _queued[token][kind] = _Waiting(due, set())
        if conversation is not None:
            waiting.conversations.add(conversation)
        if fresh:
            continue  # the refresh already waiting will show this change too
        if waiting.since > now:
            task = asyncio.create_task(_enqueue(app, token, event, kind, waiting.since - now))
            _later.add(task)
            task.add_done_callback(_later.discard)
        else:
            await _enqueue(app, token, event, kind)


async def _enqueue(app, token: str, event: Event, kind: str, delay: float = 0.0) -> None:
    if delay:
        await asyncio.sleep(delay)
    try:
        await app.event_processor.enqueue(token, event)
    except Exception:  # one tab's trouble must not stop the others' updates
        begun(token, kind)
        log.exception("could not push to a tab")
