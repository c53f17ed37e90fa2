"""The live dashboard's numbers on hand-built data: scope by role, waiting customers and the
longest wait, each member's load, and today's conversations by hour in the organization's
time zone; and each board worked out once per web worker for all the tabs showing it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time

import pytest
import sqlalchemy as sa

from pytake import db
from pytake.models import Conversation, Membership, Message, Organization, Role
from pytake.realtime import dashboards
from pytake.services import dashboard
from tests.integration.conftest import who

NOW = dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)  # 12:30 in São Paulo


def _conversations(world) -> list[Conversation]:
    with db.session() as s:
        return list(
            s.scalars(
                sa.select(Conversation)
                .where(Conversation.organization_id == world["acme"])
                .order_by(Conversation.id)
            )
        )


def _set(conversation_id: int, **values) -> None:
    with db.session(write=True) as s:
        s.execute(
            sa.update(Conversation).where(Conversation.id == conversation_id).values(**values)
        )


def _reply(conversation: Conversation, at: dt.datetime) -> None:
    with db.session(write=True) as s:
        s.add(
            Message(
                organization_id=conversation.organization_id,
                conversation_id=conversation.id,
                channel_id=conversation.channel_id,
                direction="out",
                type="text",
                content={"body": "on it"},
                created_at=at,
            )
        )


def _overview(identity, online: frozenset[int] = frozenset()) -> dashboard.Overview:
    with db.session() as s:
        return dashboard.overview(s, dashboard.Board.of(identity), set(online), NOW)


def test_waiting_customers_and_the_longest_wait(world):
    anas, bias, unassigned = _conversations(world)
    _set(anas.id, last_inbound_at=NOW - dt.timedelta(minutes=12))  # unanswered
    _set(bias.id, last_inbound_at=NOW - dt.timedelta(hours=2))
    _reply(bias, NOW - dt.timedelta(hours=1))  # answered after the customer wrote
    _set(unassigned.id, last_inbound_at=NOW - dt.timedelta(minutes=40))  # unanswered
    owner = _overview(who(world, "ana", Role.OWNER))
    assert (owner.open, owner.unassigned, owner.waiting) == (3, 1, 2)
    assert owner.longest_wait_seconds == 40 * 60
    agent = _overview(who(world, "ana", Role.AGENT))  # her own work, and the queue
    assert (agent.open, agent.unassigned, agent.waiting) == (1, 1, 1)
    assert agent.longest_wait_seconds == 12 * 60
    assert [row.name for row in agent.agents] == ["Ana"]


def test_each_members_load_with_presence_and_capacity(world):
    with db.session(write=True) as s:
        s.execute(
            sa.update(Membership).where(Membership.user_id == world["bia"]).values(max_concurrent=2)
        )
    rows = _overview(who(world, "ana", Role.SUPERVISOR), frozenset({world["bia"]})).agents
    assert rows == (
        dashboard.Load(world["bia"], "Bia", online=True, open=1, capacity=2),
        dashboard.Load(world["ana"], "Ana", online=False, open=1, capacity=0),
    )


def test_conversations_by_hour_follow_the_organizations_time_zone(world):
    anas, bias, unassigned = _conversations(world)
    with db.session(write=True) as s:
        s.get(Organization, world["acme"]).settings = {"timezone": "America/Sao_Paulo"}
    _set(anas.id, created_at=dt.datetime(2026, 12, 2, 3, 10, tzinfo=dt.UTC))  # 00:10 local
    _set(bias.id, created_at=dt.datetime(2026, 12, 2, 2, 50, tzinfo=dt.UTC))  # yesterday
    _set(unassigned.id, created_at=dt.datetime(2026, 12, 2, 15, 5, tzinfo=dt.UTC))  # 12:05
    hours = _overview(who(world, "ana", Role.OWNER)).hours
    assert [row.hour for row in hours] == [f"{h:02d}" for h in range(13)]  # until now
    assert {row.hour: row.conversations for row in hours if row.conversations} == {
        "00": 1,
        "12": 1,
    }


class _App:
    """What ``dashboards.serve`` needs of Reflex's app: the events it enqueues, per tab."""

    def __init__(self, refusing: frozenset[str] = frozenset()) -> None:
        self.event_processor, self.woken, self.refusing = self, [], refusing

    async def enqueue(self, token: str, event) -> None:
        if token in self.refusing:
            raise RuntimeError("tab went away")
        self.woken.append(token)


@contextlib.asynccontextmanager
async def _serving(app: _App, connected=lambda token: True):
    task = asyncio.create_task(dashboards.serve(app, "state.on_changed", connected))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for token in list(dashboards._tabs):
            dashboards.leave(token)


async def _until(condition, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
def worked(monkeypatch) -> list[dashboard.Board]:
    """Every board worked out, in order (the real working-out runs)."""
    boards: list[dashboard.Board] = []
    real = dashboards._work_out

    def counted(board, online):
        boards.append(board)
        return real(board, online)

    monkeypatch.setattr(dashboards, "_work_out", counted)
    return boards


async def test_a_board_is_worked_out_once_for_every_tab_showing_it(world, worked):
    owner, supervisor = who(world, "ana", Role.OWNER), who(world, "bia", Role.SUPERVISOR)
    agent = who(world, "ana", Role.AGENT)
    app = _App()
    async with _serving(app):
        for token, identity in (("t1", owner), ("t2", supervisor), ("t3", agent)):
            assert dashboards.show(token, dashboard.Board.of(identity)) is None
        await _until(lambda: sorted(app.woken) == ["t1", "t2", "t3"])
        whole = dashboard.Board(world["acme"], None)
        assert sorted(worked, key=str) == [dashboard.Board(world["acme"], world["ana"]), whole]
        shared = dashboards.take("t1", whole)
        assert shared is dashboards.take("t2", whole) and shared.open == 3
        assert dashboards.take("t3", dashboard.Board.of(agent)).open == 1  # her own work


async def test_a_change_moves_its_organizations_boards_and_no_other(world, worked):
    owner = who(world, "ana", Role.OWNER)
    board = dashboard.Board.of(owner)
    app = _App()
    async with _serving(app):
        dashboards.show("t1", board)
        await _until(lambda: app.woken == ["t1"])
        assert dashboards.take("t1", board).pending == 0
        dashboards.changed([world["other"]])
        await asyncio.sleep(0.2)
        assert len(worked) == 1  # another organization's change costs nothing
        first = _conversations(world)[0]
        _set(first.id, status="pending")
        dashboards.changed([world["acme"]])
        await _until(lambda: app.woken == ["t1", "t1"])
        assert dashboards._boards[board].latest.pending == 1
        # Changes while the tab's event is on its way: that event takes the latest.
        _set(first.id, status="open")
        dashboards.changed([world["acme"]])
        await _until(lambda: len(worked) == 3)
        await asyncio.sleep(0.1)
        assert app.woken == ["t1", "t1"]
        assert dashboards.take("t1", board).pending == 0


async def test_a_tab_whose_role_changed_moves_to_its_new_board(world, worked):
    supervisor, demoted = who(world, "ana", Role.SUPERVISOR), who(world, "ana", Role.AGENT)
    app = _App()
    async with _serving(app):
        dashboards.show("t1", dashboard.Board.of(supervisor))
        await _until(lambda: app.woken == ["t1"])
        # Her next event finds her an agent: nothing of the organization's board is handed.
        assert dashboards.take("t1", dashboard.Board.of(demoted)) is None
        await _until(lambda: app.woken == ["t1", "t1"])
        assert dashboards.take("t1", dashboard.Board.of(demoted)).open == 1
        assert list(dashboards._boards) == [dashboard.Board.of(demoted)]  # nobody else's


async def test_a_busy_organization_gets_its_board_no_sooner_than_it_takes(world, monkeypatch):
    real, runs = dashboards._work_out, []

    def slow(board, online):
        runs.append(time.monotonic())
        time.sleep(0.2)
        return real(board, online)

    monkeypatch.setattr(dashboards, "_work_out", slow)
    app = _App()
    async with _serving(app):
        dashboards.show("t1", dashboard.Board.of(who(world, "ana", Role.OWNER)))
        started = time.monotonic()
        while time.monotonic() - started < 1.5:  # a change every 20 ms
            dashboards.changed([world["acme"]])
            await asyncio.sleep(0.02)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert len(runs) >= 3 and min(gaps) >= 0.39  # 0.2 s working out, then 0.2 s apart


async def test_a_tab_that_went_away_leaves_and_the_others_are_still_told(world, worked):
    board = dashboard.Board.of(who(world, "ana", Role.OWNER))
    app = _App(refusing=frozenset({"broken"}))
    async with _serving(app, connected=lambda token: token != "closed"):
        for token in ("closed", "broken", "fine"):
            dashboards.show(token, board)
        await _until(lambda: app.woken == ["fine"])
        assert dashboards._boards[board].tabs == {"broken", "fine"}
        dashboards.changed([world["acme"]])  # the refused tab is tried again
        await _until(lambda: len(worked) == 2)
        await asyncio.sleep(0.1)
        assert app.woken == ["fine"]  # "fine" has not taken its event yet
        dashboards.leave("broken")
        dashboards.leave("fine")
        # The event still on its way when "fine" opened another page: nothing, and no board.
        assert dashboards.take("fine", board) is None
    assert dashboards._boards == {}
