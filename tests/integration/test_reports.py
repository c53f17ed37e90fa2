"""Reports against a brute-force computation in Python over generated conversations, on
whichever database the suite runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from zoneinfo import ZoneInfo

import pytest

from pytake import db
from pytake.auth.errors import AccessError
from pytake.models import Contact, Conversation, Message, Organization, Role
from pytake.services import reports
from tests.integration.conftest import who

ZONE = ZoneInfo("America/Sao_Paulo")
PERIOD = reports.Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
BEGIN = dt.datetime(2026, 10, 28, tzinfo=dt.UTC)  # some data before, some after the period


@dataclasses.dataclass
class Generated:
    conversations: list[dict]
    messages: list[dict]


@pytest.fixture
def generated(world) -> Generated:
    """60 conversations over five weeks, with customers' messages, agents' and automatic
    replies, templates (some failed), and resolutions."""
    rng = random.Random(7)
    people = [world["ana"], world["bia"]]
    conversations, messages = [], []
    with db.session(write=True) as s:
        s.get(Organization, world["acme"]).settings = {"timezone": "America/Sao_Paulo"}
        channel_id = s.get(Conversation, 1).channel_id
        for n in range(60):
            contact = Contact(organization_id=world["acme"], wa_id=f"5521900{n:04d}", name=f"c{n}")
            s.add(contact)
            s.flush()
            opened = BEGIN + dt.timedelta(minutes=rng.randrange(0, 36 * 24 * 60))
            resolved = opened + dt.timedelta(minutes=rng.randrange(5, 3000)) if n % 3 else None
            conversation = Conversation(
                organization_id=world["acme"],
                channel_id=channel_id,
                contact_id=contact.id,
                assignee_id=rng.choice(people),
                status="resolved" if resolved else "open",
                created_at=opened,
                resolved_at=resolved,
                last_activity_at=opened,
            )
            s.add(conversation)
            s.flush()
            conversations.append(
                {"created": opened, "resolved": resolved, "assignee": conversation.assignee_id}
            )
            at = opened
            for m in range(rng.randrange(1, 6)):
                at += dt.timedelta(minutes=rng.randrange(1, 200))
                direction = "in" if m == 0 or rng.random() < 0.5 else "out"
                sender = rng.choice([*people, None]) if direction == "out" else None
                template = direction == "out" and rng.random() < 0.3
                failed = template and rng.random() < 0.4
                row = Message(
                    organization_id=world["acme"],
                    conversation_id=conversation.id,
                    channel_id=channel_id,
                    direction=direction,
                    type="template" if template else "text",
                    content={"name": rng.choice(["pedido", "boleto"])} if template else {},
                    sender_user_id=sender,
                    status="failed" if failed else "sent",
                    error={"errors": [{"code": rng.choice([131047, 131026])}]} if failed else None,
                    created_at=at,
                )
                s.add(row)
                messages.append(
                    {
                        "conversation": len(conversations) - 1,
                        "direction": direction,
                        "sender": sender,
                        "at": at,
                        "template": row.content.get("name") if template else None,
                        "failed": failed,
                        "code": row.error["errors"][0]["code"] if failed else None,
                    }
                )
    return Generated(conversations, messages)


def _within(at: dt.datetime | None) -> bool:
    start, end = PERIOD.bounds(ZONE)
    return at is not None and start <= at < end


def _nearest_rank(values: list[float]) -> dict:
    ordered = sorted(values)

    def pick(p: float) -> float | None:
        return ordered[max(math.ceil(p * len(ordered)), 1) - 1] if ordered else None

    return {"median": pick(0.5), "p90": pick(0.9), "count": len(ordered)}


def _close(found: dict, expected: dict) -> bool:
    if found["count"] != expected["count"]:
        return False
    return all(
        (found[k] is None and expected[k] is None) or abs(found[k] - expected[k]) < 1.0
        for k in ("median", "p90")
    )


def test_summary_matches_a_brute_force_count(world, generated):
    with db.session() as s:
        found = reports.summary(s, who(world, "ana", Role.SUPERVISOR), PERIOD)
    conversations, messages = generated.conversations, generated.messages
    assert found["opened"] == sum(_within(c["created"]) for c in conversations)
    assert found["resolved"] == sum(_within(c["resolved"]) for c in conversations)
    assert found["messages_in"] == sum(
        _within(m["at"]) and m["direction"] == "in" for m in messages
    )
    assert found["messages_out"] == sum(
        _within(m["at"]) and m["direction"] == "out" for m in messages
    )
    waits = []
    for index, conversation in enumerate(conversations):
        if not _within(conversation["created"]):
            continue
        mine = [m for m in messages if m["conversation"] == index]
        asked = min(m["at"] for m in mine if m["direction"] == "in")
        replies = [
            m["at"] for m in mine if m["direction"] == "out" and m["sender"] and m["at"] >= asked
        ]
        if replies:
            waits.append((min(replies) - asked).total_seconds())
    assert _close(found["first_response"], _nearest_rank(waits))
    durations = [
        (c["resolved"] - c["created"]).total_seconds()
        for c in conversations
        if _within(c["resolved"])
    ]
    assert _close(found["resolution"], _nearest_rank(durations))
    assert found["first_response"]["count"] > 10  # the data exercises the computation


def test_agents_hours_and_templates_match_a_brute_force_count(world, generated):
    supervisor = who(world, "ana", Role.SUPERVISOR)
    with db.session() as s:
        table = {row["name"]: row for row in reports.agents(s, supervisor, PERIOD)}
        grid = reports.busiest_hours(s, supervisor, PERIOD)
        sends = reports.template_sends(s, supervisor, PERIOD)
    for name in ("Ana", "Bia"):
        user_id = world[name.lower()]
        assert table[name]["resolved"] == sum(
            _within(c["resolved"]) and c["assignee"] == user_id for c in generated.conversations
        )
        assert table[name]["messages"] == sum(
            _within(m["at"]) and m["sender"] == user_id for m in generated.messages
        )
    expected = [[0] * 24 for _ in range(7)]
    for m in generated.messages:
        if m["direction"] == "in" and _within(m["at"]):
            local = m["at"].astimezone(ZONE)
            expected[local.weekday()][local.hour] += 1
    assert grid == expected
    wanted: dict[str, dict] = {}
    for m in generated.messages:
        if m["template"] and _within(m["at"]):
            entry = wanted.setdefault(m["template"], {"sent": 0, "failed": 0, "errors": {}})
            entry["sent"] += 1
            if m["failed"]:
                entry["failed"] += 1
                entry["errors"][str(m["code"])] = entry["errors"].get(str(m["code"]), 0) + 1
    assert {
        row["template"]: {k: row[k] for k in ("sent", "failed", "errors")} for row in sends
    } == wanted


def test_filters_narrow_and_agents_or_bad_periods_are_refused(world, generated):
    supervisor = who(world, "ana", Role.SUPERVISOR)
    with db.session() as s:
        everyone = reports.summary(s, supervisor, PERIOD)["resolved"]
        anas = reports.summary(s, supervisor, PERIOD, reports.Filters(assignee_id=world["ana"]))
        bias = reports.summary(s, supervisor, PERIOD, reports.Filters(assignee_id=world["bia"]))
        assert anas["resolved"] + bias["resolved"] == everyone
        with pytest.raises(AccessError):
            reports.summary(s, who(world, "ana", Role.AGENT), PERIOD)
        backwards = reports.Period(PERIOD.last, PERIOD.first)
        with pytest.raises(AccessError):
            reports.summary(s, supervisor, backwards)
        too_long = reports.Period(dt.date(2025, 1, 1), dt.date(2026, 11, 30))
        with pytest.raises(AccessError):
            reports.summary(s, supervisor, too_long)


def test_one_answered_conversation_is_its_own_median_and_p90(world):
    with db.session(write=True) as s:
        conversation = s.get(Conversation, 1)
        opened = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
        conversation.created_at = opened
        for direction, sender, minutes in (("in", None, 0), ("out", world["ana"], 7)):
            s.add(
                Message(
                    organization_id=conversation.organization_id,
                    conversation_id=conversation.id,
                    channel_id=conversation.channel_id,
                    direction=direction,
                    type="text",
                    content={},
                    sender_user_id=sender,
                    created_at=opened + dt.timedelta(minutes=1 + minutes),
                )
            )
    with db.session() as s:
        found = reports.summary(s, who(world, "ana", Role.SUPERVISOR), PERIOD)
    assert found["first_response"] == {"median": 420.0, "p90": 420.0, "count": 1}
