"""The live dashboard's numbers on hand-built data: scope by role, waiting customers and the
longest wait, each member's load, and today's conversations by hour in the organization's
time zone."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pytake import db
from pytake.models import Conversation, Membership, Message, Organization, Role
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


def _overview(identity, online: frozenset[int] = frozenset()) -> dict:
    with db.session() as s:
        return dashboard.overview(s, identity, set(online), NOW)


def test_waiting_customers_and_the_longest_wait(world):
    anas, bias, unassigned = _conversations(world)
    _set(anas.id, last_inbound_at=NOW - dt.timedelta(minutes=12))  # unanswered
    _set(bias.id, last_inbound_at=NOW - dt.timedelta(hours=2))
    _reply(bias, NOW - dt.timedelta(hours=1))  # answered after the customer wrote
    _set(unassigned.id, last_inbound_at=NOW - dt.timedelta(minutes=40))  # unanswered
    owner = _overview(who(world, "ana", Role.OWNER))
    assert (owner["open"], owner["unassigned"], owner["waiting"]) == (3, 1, 2)
    assert owner["longest_wait_seconds"] == 40 * 60
    agent = _overview(who(world, "ana", Role.AGENT))  # her own work, and the queue
    assert (agent["open"], agent["unassigned"], agent["waiting"]) == (1, 1, 1)
    assert agent["longest_wait_seconds"] == 12 * 60
    assert [row["name"] for row in agent["agents"]] == ["Ana"]


def test_each_members_load_with_presence_and_capacity(world):
    with db.session(write=True) as s:
        s.execute(
            sa.update(Membership).where(Membership.user_id == world["bia"]).values(max_concurrent=2)
        )
    rows = _overview(who(world, "ana", Role.SUPERVISOR), frozenset({world["bia"]}))["agents"]
    assert rows == [
        {"id": world["bia"], "name": "Bia", "online": True, "open": 1, "capacity": 2},
        {"id": world["ana"], "name": "Ana", "online": False, "open": 1, "capacity": 0},
    ]


def test_conversations_by_hour_follow_the_organizations_time_zone(world):
    anas, bias, unassigned = _conversations(world)
    with db.session(write=True) as s:
        s.get(Organization, world["acme"]).settings = {"timezone": "America/Sao_Paulo"}
    _set(anas.id, created_at=dt.datetime(2026, 12, 2, 3, 10, tzinfo=dt.UTC))  # 00:10 local
    _set(bias.id, created_at=dt.datetime(2026, 12, 2, 2, 50, tzinfo=dt.UTC))  # yesterday
    _set(unassigned.id, created_at=dt.datetime(2026, 12, 2, 15, 5, tzinfo=dt.UTC))  # 12:05
    hours = _overview(who(world, "ana", Role.OWNER))["hours"]
    assert [row["hour"] for row in hours] == [f"{h:02d}" for h in range(13)]  # until now
    assert {row["hour"]: row["conversations"] for row in hours if row["conversations"]} == {
        "00": 1,
        "12": 1,
    }
