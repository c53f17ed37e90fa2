"""Pushing 'this conversation changed' into the browsers of this worker that show it.

Each web worker keeps its own map of what its connected tabs show (a topic: one
conversation, or an organization's inbox list) and listens to the change signals (Redis
pub/sub reaches every worker). For each change it enqueues the tab's own refresh event, which
reloads through the guard and the visibility rule like any event that tab sends: nothing is
pushed that the agent could not load.
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
from pytake.realtime import presence, signals
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


async def watch(token: str, topic: Topic, organization_id: int, user_id: int) -> None:
    """A tab shows one page, so it watches one topic at a time; its member is online."""
    unwatch(token)
    _viewers[topic].add(token)
    _watching[token] = topic
    _people[token] = (organization_id, user_id)
    await presence.seen(organization_id, [user_id])


def unwatch(token: str) -> None:
    """The tab left its page. A notice check it has waiting is about the member, not the
    page, and still covers what it noted."""
    _people.pop(token, None)
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
    """Forever: each change becomes ``handlers[topic kind](conversation_id)`` in the tabs
    watching the conversation or its organization's inbox.

    If Redis drops the subscription, it is made again; changes published meanwhile show on
    the tabs' next change or load.
    """
    while True:
        stop_if_cancelled()
        try:
            await _relay(app, handlers, connected)
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


async def _relay(app, handlers: dict[str, str], connected: Callable[[str], bool]) -> None:
    async for change in signals.subscribe():
        payload = {"conversation_id": change.conversation_id}
        topics = [(CONVERSATION, change.conversation_id)]
        topics += [(kind, change.organization_id) for kind in (INBOX, DASHBOARD)]
        for topic in topics:
            if topic[0] in handlers:
                event = Event(name=handlers[topic[0]], payload=payload)
                await _push(app, viewers(topic), event, connected, topic[0])
        if NOTICE in handlers:
            org = change.organization_id
            listening = {token for token, of in list(_listeners.items()) if of == org}
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
