"""Business hours' greeting and away messages on real inbound webhooks, and
auto-assignment with presence, capacity, stickiness and arrival order."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.jobs import assignment as assignment_jobs
from pytake.models import (
    Contact,
    Conversation,
    Membership,
    Message,
    Role,
    Team,
    TeamMember,
    User,
    utcnow,
)
from pytake.realtime import presence
from pytake.sandbox import payloads as p
from pytake.services import assignment, automation, hours, teams, thread

from .conftest import ANA, rows

pytestmark = pytest.mark.usefixtures("nobody_online")  # presence outlives a test

ALWAYS = {str(d): [["00:00", "24:00"]] for d in range(7)}


def _owner(whatsapp) -> Identity:
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "o@acme.test")).one()
    return Identity(user.id, whatsapp.organization_id, Role.OWNER, "sid", "Owner", user.email, None)


def _set_hours(identity, kind, owner_id, **form) -> None:
    with db.session(write=True) as s:
        hours.save(s, identity, kind, owner_id, form)


def _sent_bodies(whatsapp) -> list[str]:
    return [m.get("text", {}).get("body") for m in whatsapp.sim.sent if m.get("type") == "text"]


async def test_away_message_once_per_closed_period(whatsapp):
    owner = _owner(whatsapp)
    _set_hours(owner, "channel", whatsapp.channel_id, weekly={}, away_message="We are closed.")
    for n in range(3):
        await whatsapp.send(p.text(f"hello {n}", sender=ANA, wamid=f"wamid.A{n}"))
        await whatsapp.drain()
    assert _sent_bodies(whatsapp) == ["We are closed."]
    [conversation] = rows(Conversation)
    assert conversation.automation == {"away": "closed"}
    # The next closed period (a schedule with opening hours) sends it once more.
    week = {str(d): [["09:00", "10:00"]] for d in range(7)}
    _set_hours(owner, "channel", whatsapp.channel_id, weekly=week, away_message="We are closed.")
    later = utcnow().replace(hour=23, minute=0) + dt.timedelta(days=1)
    with db.session(write=True) as s:
        current = s.get(Conversation, conversation.id)
        assert automation.after_inbound(s, current, later) is not None
        assert automation.after_inbound(s, current, later) is None
    with db.session() as s:
        away = s.exec(
            select(Message).where(Message.direction == "out", Message.sender_user_id.is_(None))
        ).all()
    assert len(away) == 2 and {m.content["body"] for m in away} == {"We are closed."}


async def test_greeting_for_a_new_conversation_in_hours_only_once(whatsapp):
    owner = _owner(whatsapp)
    _set_hours(owner, "channel", whatsapp.channel_id, weekly=ALWAYS, greeting_message="Olá! 👋")
    await whatsapp.send(p.text("oi", sender=ANA, wamid="wamid.G1"))
    await whatsapp.drain()
    await whatsapp.send(p.text("tudo bem?", sender=ANA, wamid="wamid.G2"))
    await whatsapp.drain()
    await whatsapp.send(p.text("oi", sender=ANA, wamid="wamid.G1"))  # Meta retries one
    await whatsapp.drain()
    assert _sent_bodies(whatsapp) == ["Olá! 👋"]
    with db.session() as s:  # agents see who sent it
        bubbles, _ = thread.page(s, owner, rows(Conversation)[0].id, "pt-BR")
    greeting = next(b for b in bubbles if b["out"])
    assert greeting["sender"] == "Enviada automaticamente" and greeting["text"] == "Olá! 👋"
    with db.session(write=True) as s:  # without hours nothing is sent
        hours.clear(s, owner, "channel", whatsapp.channel_id)
    await whatsapp.send(p.text("de novo", sender=ANA, wamid="wamid.G3"))
    await whatsapp.drain()
    assert _sent_bodies(whatsapp) == ["Olá! 👋"]


async def test_a_teams_hours_win_over_its_numbers(whatsapp):
    owner = _owner(whatsapp)
    with db.session(write=True) as s:
        team = teams.create(s, whatsapp.organization_id, "Plantão")
        teams.set_channels(s, owner, team.id, [whatsapp.channel_id])
        team_id = team.id
    _set_hours(owner, "channel", whatsapp.channel_id, weekly={}, away_message="closed")
    _set_hours(owner, "team", team_id, weekly=ALWAYS, greeting_message="on duty")
    await whatsapp.send(p.text("socorro", sender=ANA, wamid="wamid.T1"))
    await whatsapp.drain()
    assert _sent_bodies(whatsapp) == ["on duty"]
    assert rows(Conversation)[0].team_id == team_id


def test_hours_are_administered_by_admins_of_the_organization(world):
    admin = Identity(world["ana"], world["acme"], Role.ADMIN, "sid", "Ana", "ana@a.co", None)
    with db.session(write=True) as s:
        theirs = teams.create(s, world["other"], "Theirs").id
        ours = teams.create(s, world["acme"], "Ours").id
    for kind, owner_id in (("team", theirs), ("nope", ours), ("team", str(ours)), ("team", 0)):
        with db.session(write=True) as s, pytest.raises(AccessError):
            hours.save(s, admin, kind, owner_id, {"weekly": {}})
    supervisor = dataclasses.replace(admin, role=Role.SUPERVISOR)
    with db.session(write=True) as s, pytest.raises(NotAllowed):
        hours.save(s, supervisor, "team", ours, {"weekly": {}})
    for form in ({"timezone": "Moon/Base"}, {"away_message": "x" * 5000}, {"holidays": "soon"}):
        with db.session(write=True) as s, pytest.raises(AccessError):
            hours.save(s, admin, "team", ours, {"weekly": {}, **form})
    with db.session(write=True) as s:
        hours.save(s, admin, "team", ours, {"weekly": ALWAYS, "holidays": "2026-12-25"})
        [row] = [r for r in hours.overview(s, admin) if r["kind"] == "team" and r["set"]]
    assert row["holidays"] == "2026-12-25" and row["weekly"]["6"] == [["00:00", "24:00"]]


# Auto-assignment -----------------------------------------------------------------------------


@pytest.fixture
def queue(world):
    """Team Sales (Ana, Bia, Caio) assigning round robin, and six customers waiting in it."""
    with db.session(write=True) as s:
        caio = User(email="caio@a.co", name="Caio")
        s.add(caio)
        s.flush()
        s.add(Membership(user_id=caio.id, organization_id=world["acme"], role="agent"))
        team = Team(
            organization_id=world["acme"],
            name="Sales",
            settings={"assignment": {"policy": "round_robin", "sticky": True}},
        )
        s.add(team)
        s.flush()
        for user in (world["ana"], world["bia"], caio.id):
            s.add(TeamMember(team_id=team.id, user_id=user))
        for conversation in s.exec(select(Conversation)):  # the world's: out of the way
            conversation.status = "resolved"
        channel_id = s.exec(
            select(Conversation.channel_id).where(Conversation.organization_id == world["acme"])
        ).first()
        waiting = []
        base = utcnow() - dt.timedelta(minutes=30)
        for n in range(6):
            contact = Contact(organization_id=world["acme"], wa_id=f"55219000000{n}", name=f"w{n}")
            s.add(contact)
            s.flush()
            conversation = Conversation(
                organization_id=world["acme"],
                channel_id=channel_id,
                contact_id=contact.id,
                team_id=team.id,
                created_at=base + dt.timedelta(minutes=n),
            )
            s.add(conversation)
            s.flush()
            waiting.append(conversation.id)
    for user, capacity in ((world["ana"], 1), (world["bia"], 2), (caio.id, None)):
        with db.session(write=True) as s:
            s.exec(
                select(Membership).where(Membership.user_id == user)
            ).one().max_concurrent = capacity
    return world | {"caio": caio.id, "team": team.id, "waiting": waiting}


def _assignees(ids: list[int]) -> list[int | None]:
    with db.session() as s:
        return [s.get(Conversation, i).assignee_id for i in ids]


async def test_round_robin_among_online_agents_with_room_in_arrival_order(queue):
    ana, bia, caio, waiting = queue["ana"], queue["bia"], queue["caio"], queue["waiting"]
    await presence.seen(queue["acme"], [ana, bia])  # Caio is offline
    assert await assignment_jobs.assign_waiting() == 3
    assert _assignees(waiting) == [ana, bia, bia, None, None, None]  # Ana full at 1
    assert await assignment_jobs.assign_waiting() == 0  # nobody has room: they wait
    await presence.seen(queue["acme"], [caio])  # Caio comes online, no limit
    assert await assignment_jobs.assign_waiting() == 3
    assert _assignees(waiting)[3:] == [caio, caio, caio]
    note = rows(Message, Message.conversation_id == waiting[0])[-1]
    assert note.content == {"kind": "auto_assigned", "actor": "PyTake", "target": "Ana"}


async def test_freed_capacity_goes_to_the_oldest_waiting_then_stickiness(queue):
    ana, bia, caio, waiting = queue["ana"], queue["bia"], queue["caio"], queue["waiting"]
    await presence.seen(queue["acme"], [ana, bia])
    await assignment_jobs.assign_waiting()
    assert _assignees(waiting)[:4] == [ana, bia, bia, None]
    with db.session(write=True) as s:  # Ana resolves hers; her customer writes again
        first = s.get(Conversation, waiting[0])
        first.status = "resolved"
        again = Conversation(
            organization_id=first.organization_id,
            channel_id=first.channel_id,
            contact_id=first.contact_id,
            team_id=first.team_id,
        )
        s.add(again)
        s.flush()
        again_id = again.id
    await assignment_jobs.assign_waiting()  # one place free: the longest waiting gets it
    assert _assignees([waiting[3], again_id]) == [ana, None]
    with db.session(write=True) as s:
        s.exec(select(Membership).where(Membership.user_id == ana)).one().max_concurrent = 3
    await presence.seen(queue["acme"], [caio])  # round robin would now pick Caio…
    await assignment_jobs.assign_waiting()
    assert _assignees([again_id]) == [ana]  # …but the returning customer goes back to Ana


async def test_least_busy_and_policy_off(queue):
    ana, bia, caio, waiting = queue["ana"], queue["bia"], queue["caio"], queue["waiting"]
    owner = Identity(ana, queue["acme"], Role.ADMIN, "sid", "Ana", "ana@a.co", None)
    with db.session(write=True) as s:
        assignment.configure(s, owner, queue["team"], "off", True)
    await presence.seen(queue["acme"], [ana, bia, caio])
    assert await assignment_jobs.assign_waiting() == 0
    with db.session(write=True) as s:
        assignment.configure(s, owner, queue["team"], "least_busy", False)
        with pytest.raises(AccessError):
            assignment.configure(s, owner, queue["team"], "random", False)
    assert await assignment_jobs.assign_waiting() == 6
    loads = _assignees(waiting)
    assert loads.count(ana) == 1 and loads.count(bia) == 2 and loads.count(caio) == 3
    with db.session() as s:
        team = s.get(Team, queue["team"])
        assert teams.policy_of(team) == {"policy": "least_busy", "sticky": False}
