"""Open dashboards, each worked out once per web worker however many tabs show it.

A dashboard's numbers are aggregates over the organization (or over one agent's own work):
every tab showing the same ``Board`` shows the same numbers. A change of the organization
makes its boards stale, and so does time (presence and waiting times move by themselves,
``REFRESH_SECONDS``). One task per web worker works stale boards out, one after another,
and hands each result to the board's tabs, whose event only copies it (after checking that
its member's identity still gives that board). Changes arriving while a board is worked out
make it stale again, so under constant change a board is worked out back to back, but never
sooner after the last than the last took: a busy organization's dashboard keeps at most
half of one database connection busy, whatever the traffic, and no tab reads the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable

from reflex_base.event import Event
from starlette.concurrency import run_in_threadpool

from pytake import db
from pytake.aio import stop_if_cancelled
from pytake.models import utcnow
from pytake.realtime import presence
from pytake.services import dashboard
from pytake.services.dashboard import Board, Overview

log = logging.getLogger("pytake.realtime")
REFRESH_SECONDS = 15.0  # a board nobody changed is worked out again this often
RETRY_SECONDS = 5.0  # after a failed working-out (the database is down)
WOKEN_STALE_SECONDS = 10.0  # an event enqueued and never begun stops holding the next back


@dataclasses.dataclass
class _Shown:
    tabs: set[str] = dataclasses.field(default_factory=set)
    latest: Overview | None = None
    stale: bool = True
    worked_at: float = 0.0  # when ``latest`` was worked out (monotonic)
    due: float = 0.0  # not worked out again before this (monotonic)


_boards: dict[Board, _Shown] = {}
_tabs: dict[str, Board] = {}
_woken: dict[str, float] = {}  # tab → when its event was enqueued (it takes the latest)
_stirred: asyncio.Event | None = None  # set when a board became stale (the serving loop's)


def show(token: str, board: Board, overview: Overview | None = None) -> Overview | None:
    """The tab shows ``board`` from now on. ``overview``: just worked out by the tab's own
    page load (kept unless a newer one is here). Returns what the tab shows now; None: it is
    being worked out and the tab's event comes."""
    if _tabs.get(token) != board:
        leave(token)
    shown = _boards.setdefault(board, _Shown())
    shown.tabs.add(token)
    _tabs[token] = board
    if shown.latest is None and overview is not None:  # fresh: not worked out again now
        shown.latest, shown.worked_at, shown.stale = overview, time.monotonic(), False
    if shown.latest is None:
        _stir()
    return shown.latest


def take(token: str, board: Board) -> Overview | None:
    """What a tab whose member now sees ``board`` shows; a tab whose board changed (a new
    role) moves to its new board and waits for it. A tab that left its dashboard (an event
    still on its way when it opened another page) gets nothing and is not shown it again."""
    _woken.pop(token, None)
    shown = _tabs.get(token)
    if shown is None:
        return None
    if shown != board:
        return show(token, board)
    return _boards[board].latest


def leave(token: str) -> None:
    _woken.pop(token, None)
    board = _tabs.pop(token, None)
    shown = _boards.get(board) if board is not None else None
    if shown is not None:
        shown.tabs.discard(token)
        if not shown.tabs:
            del _boards[board]


def changed(organization_ids: Iterable[int]) -> None:
    """Conversations of these organizations changed: their boards are stale."""
    organizations = set(organization_ids)
    stirred = False
    for board, shown in _boards.items():
        if board.organization_id in organizations:
            shown.stale = stirred = True
    if stirred:
        _stir()


def _stir() -> None:
    if _stirred is not None:
        _stirred.set()


def _work_out(board: Board, online: set[int]) -> Overview:
    with db.session() as s:
        return dashboard.overview(s, board, online, utcnow())


async def serve(app, handler: str, connected: Callable[[str], bool]) -> None:
    """Forever: work out the boards that are stale (or older than ``REFRESH_SECONDS``) and
    hand each to its tabs: ``handler`` is the event they run."""
    global _stirred
    _stirred = stirred = asyncio.Event()
    while True:
        stop_if_cancelled()
        stirred.clear()  # a board made stale from here on wakes the wait below
        now = time.monotonic()
        waiting = [
            (board, shown)
            for board, shown in list(_boards.items())
            if shown.stale or now - shown.worked_at >= REFRESH_SECONDS
        ]
        due = [(board, shown) for board, shown in waiting if shown.due <= now]
        if not due:
            later = [shown.due for _, shown in waiting]
            later += [shown.worked_at + REFRESH_SECONDS for shown in _boards.values()]
            wait = max(min(later, default=now + REFRESH_SECONDS) - now, 0.01)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await stirred.wait()
            continue
        for board, shown in due:
            await _work(app, board, shown, handler, connected)


async def _work(
    app, board: Board, shown: _Shown, handler: str, connected: Callable[[str], bool]
) -> None:
    shown.stale = False
    started = time.monotonic()
    try:
        online = await presence.online(board.organization_id)
        overview = await run_in_threadpool(_work_out, board, online)
    except Exception:  # the tabs keep what they show; the board is tried again
        log.exception("could not work a dashboard out")
        shown.stale, shown.due = True, time.monotonic() + RETRY_SECONDS
        return
    finished = time.monotonic()
    shown.latest, shown.worked_at = overview, finished
    shown.due = finished + (finished - started)
    for token in list(shown.tabs):
        if not connected(token):
            leave(token)  # the tab closed or moved to another worker
            continue
        if finished - _woken.get(token, -WOKEN_STALE_SECONDS) < WOKEN_STALE_SECONDS:
            continue  # its event is on its way and takes this one
        _woken[token] = finished
        try:
            await app.event_processor.enqueue(token, Event(name=handler, payload={}))
        except Exception:  # one tab's trouble must not stop the others'
            _woken.pop(token, None)
            log.exception("could not push to a tab")
