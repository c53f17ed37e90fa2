"""Pushing 'this conversation changed' into the browsers of this worker that show it.

Each web worker keeps its own map of the conversations its connected tabs have open, and
listens to the change signals (Redis pub/sub reaches every worker). For each change it
enqueues the tab's own refresh event, which reloads through the guard and the visibility
rule like any event that tab sends: nothing is pushed that the agent could not load.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

import redis
from reflex_base.event import Event

from pytake.aio import stop_if_cancelled
from pytake.realtime import signals

log = logging.getLogger("pytake.realtime")
RESUBSCRIBE_SECONDS = 1.0

_viewers: dict[int, set[str]] = collections.defaultdict(set)
_watching: dict[str, int] = {}


def watch(token: str, conversation_id: int) -> None:
    unwatch(token)
    _viewers[conversation_id].add(token)
    _watching[token] = conversation_id


def unwatch(token: str) -> None:
    previous = _watching.pop(token, None)
    if previous is not None:
        _viewers[previous].discard(token)
        if not _viewers[previous]:
            del _viewers[previous]


def viewers(conversation_id: int) -> set[str]:
    return set(_viewers.get(conversation_id, ()))


async def relay(app, handler_name: str, connected: Callable[[str], bool]) -> None:
    """Forever: each change becomes ``handler_name(conversation_id)`` for the tabs showing it.

    If Redis drops the subscription, it is made again; changes published meanwhile show on
    the tabs' next change or load.
    """
    while True:
        stop_if_cancelled()
        try:
            await _relay(app, handler_name, connected)
        except (redis.RedisError, OSError) as exc:
            log.warning("live updates interrupted (%s); subscribing again", exc)
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


async def _relay(app, handler_name: str, connected: Callable[[str], bool]) -> None:
    async for change in signals.subscribe():
        for token in viewers(change.conversation_id):
            if not connected(token):
                unwatch(token)  # the tab closed or moved to another worker
                continue
            event = Event(name=handler_name, payload={"conversation_id": change.conversation_id})
            try:
                await app.event_processor.enqueue(token, event)
            except Exception:  # one tab's trouble must not stop the others' updates
                log.exception("could not push to a tab")
