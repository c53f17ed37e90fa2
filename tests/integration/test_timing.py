"""Response and resolution times kept on conversations, in business hours: written when an
agent first answers and when a conversation is resolved, backfilled by the migration, and
aggregated by the reports."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from alembic import command
from pytake import db, migrations
from pytake.models import (
    BusinessHours,
    Channel,
    Contact,
    Conversation,
    Message,
    Organization,
    Role,
    User,
)
from pytake.services import actions, outbound, reports, timing
from tests.integration.conftest import who

ZONE = ZoneInfo("America/Sao_Paulo")
WEEKDAYS_9_TO_18 = {str(day): [["09:00", "18:00"]] for day in range(5)}


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZONE)


def _hours(s: Session, organization_id: int, channel_id: int) -> None:
    s.get(Organization, organization_id).settings = {"timezone": "America/Sao_Paulo"}
    s.add(
        BusinessHours(
            organization_id=organization_id, channel_id=channel_id, weekly=WEEKDAYS_9_TO_18
        )
    )


def _asked(s: Session, conversation: Conversation, at: dt.datetime) -> None:
    """The conversation's only customer message, at ``at``."""
    message = s.exec(select(Message).where(Message.conversation_id == conversation.id)).one()
    message.created_at = at
    conversation.created_at = at


def test_a_friday_evening_question_answered_monday_morning(world):
    with db.session(write=True) as s:
        conversation = s.get(Conversation, 1)
        _hours(s, world["acme"], conversation.channel_id)
        _asked(s, conversation, local("2026-11-06 17:30"))  # a Friday
    with db.session(write=True) as s:
        conversation = s.get(Conversation, 1)
        timing.replied(s, conversation, local("2026-11-09 09:15"))  # Monday
        timing.replied(s, conversation, local("2026-11-09 10:00"))  # not the first answer
        conversation.resolved_at = local("2026-11-10 10:00")
        timing.resolved(s, conversation)
    with db.session() as s:
        conversation = s.get(Conversation, 1)
        # 30 minutes on Friday and 15 on Monday; the weekend and the nights do not count.
        assert conversation.business_first_response == 45 * 60
        assert conversation.first_response_at == local("2026-11-09 09:15")
        # Friday 30 min + Monday 9 h + Tuesday 1 h.
        assert conversation.business_resolution == (30 + 9 * 60 + 60) * 60
        supervisor = who(world, "ana", Role.SUPERVISOR)
        period = reports.Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
        found = reports.summary(s, supervisor, period, business=True)
        assert found["first_response"] == {"median": 2700.0, "p90": 2700.0, "count": 1}
        assert found["resolution"]["median"] == float((30 + 9 * 60 + 60) * 60)


def test_the_business_writing_first_is_no_response(world):
    with db.session(write=True) as s:
        conversation = s.get(Conversation, 1)
        _asked(s, conversation, local("2026-11-06 10:00"))
        timing.replied(s, conversation, local("2026-11-06 09:00"))  # a template, before
    with db.session() as s:
        conversation = s.get(Conversation, 1)
        assert conversation.first_response_at is None
        assert conversation.business_first_response is None


def test_an_agents_reply_and_a_resolve_keep_their_times(world):
    ana = who(world, "ana", Role.AGENT)
    with db.session(write=True) as s:
        outbound.send(s, ana, 1, "text", {"body": "Olá!"}, client_key="timing-0001")
    with db.session(write=True) as s:
        conversation = s.get(Conversation, 1)
        assert conversation.first_response_at is not None  # no hours: every second counts
        assert conversation.business_first_response is not None
        assert conversation.business_first_response >= 0
        actions.set_status(s, ana, 1, "resolved")
    with db.session() as s:
        assert s.get(Conversation, 1).business_resolution is not None


def test_the_migration_fills_the_times_of_earlier_conversations(tmp_path):
    url = f"sqlite:///{tmp_path / 'backfill.db'}"
    migrations.upgrade(url)
    engine = db.engine_for(url)
    with Session(engine) as s:
        org = Organization(name="Acme", slug="acme", settings={"timezone": "America/Sao_Paulo"})
        s.add(org)
        s.flush()
        channel = Channel(organization_id=org.id, kind="whatsapp", name="n", external_id="pn")
        contact = Contact(organization_id=org.id, wa_id="5511900000000")
        agent = User(email="ana@acme.test", name="Ana")
        s.add_all([channel, contact, agent])
        s.flush()
        s.add(BusinessHours(organization_id=org.id, channel_id=channel.id, weekly=WEEKDAYS_9_TO_18))
        asked, answered = local("2026-11-06 17:30"), local("2026-11-09 09:15")
        conversation = Conversation(
            organization_id=org.id,
            channel_id=channel.id,
            contact_id=contact.id,
            status="resolved",
            created_at=asked,
            resolved_at=local("2026-11-10 10:00"),
        )
        s.add(conversation)
        s.flush()
        for direction, sender, at in (
            ("in", None, asked),
            ("out", None, asked),
            ("out", 1, answered),
        ):
            s.add(
                Message(
                    organization_id=org.id,
                    conversation_id=conversation.id,
                    channel_id=channel.id,
                    direction=direction,
                    type="text",
                    content={},
                    sender_user_id=sender,
                    created_at=at + dt.timedelta(seconds=1 if direction == "out" else 0),
                )
            )
        s.commit()
    config = migrations.alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")  # as a database from before the columns
        command.upgrade(config, "0010")
        connection.commit()
    with Session(engine) as s:
        conversation = s.exec(select(Conversation)).one()
        assert conversation.first_response_at == answered + dt.timedelta(seconds=1)
        assert conversation.business_first_response == 45 * 60 + 1
        assert conversation.business_resolution == (30 + 9 * 60 + 60) * 60
    db.dispose_engine(url)
