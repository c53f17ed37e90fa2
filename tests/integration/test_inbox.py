"""The inbox list: views, the visibility rule with teams, filters, keyset pages, one query."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    ConversationLabel,
    Label,
    Role,
    Team,
    TeamMember,
    utcnow,
)
from pytake.services import actions, inbox, labels, teams
from tests.integration.conftest import who


@pytest.fixture
def acme(world):
    """Teams on top of the shared world: Sales (Ana) owns Bia's conversation; Support (Bia)
    owns a fourth, unassigned one; customer 0 carries the labels vip and billing."""
    with db.session(write=True) as s:
        sales = teams.create(s, world["acme"], "Sales")
        support = teams.create(s, world["acme"], "Support")
        s.add_all(
            [
                TeamMember(team_id=sales.id, user_id=world["ana"]),
                TeamMember(team_id=support.id, user_id=world["bia"]),
            ]
        )
        by_name = {
            contact.name: conversation
            for conversation, contact in s.exec(
                select(Conversation, Contact).join(Contact, Contact.id == Conversation.contact_id)
            )
        }
        by_name["acme customer 1"].team_id = sales.id
        channel = s.exec(select(Channel).where(Channel.organization_id == world["acme"])).one()
        contact = Contact(organization_id=world["acme"], wa_id="5511900000003", name="queued")
        s.add(contact)
        s.flush()
        s.add(
            Conversation(
                organization_id=world["acme"],
                channel_id=channel.id,
                contact_id=contact.id,
                team_id=support.id,
                last_activity_at=utcnow() - dt.timedelta(minutes=10),
            )
        )
        vip = Label(organization_id=world["acme"], name="vip", color="amber")
        billing = Label(organization_id=world["acme"], name="billing", color="blue")
        s.add_all([vip, billing])
        s.flush()
        for label in (vip, billing):
            s.add(
                ConversationLabel(conversation_id=by_name["acme customer 0"].id, label_id=label.id)
            )
        world |= {
            "sales": sales.id,
            "support": support.id,
            "vip": vip.id,
            "channel": channel.id,
            "c0": by_name["acme customer 0"].id,
        }
    return world


def names(identity, view="all", status="open", **filters) -> list[str]:
    with db.session() as s:
        rows, _ = inbox.page(s, identity, inbox.Query.of(view, status, filters))
    return [row["contact"] for row in rows]


def test_agents_see_their_own_their_teams_and_the_queue(acme):
    ana = who(acme, "ana", Role.AGENT)
    assert names(ana) == ["acme customer 0", "acme customer 1", "acme customer 2", "queued"]
    strict = who(acme, "ana", Role.AGENT, visibility="team")
    assert names(strict) == ["acme customer 0", "acme customer 1", "acme customer 2"]
    bia = who(acme, "bia", Role.AGENT, visibility="team")
    assert names(bia) == ["acme customer 1", "acme customer 2", "queued"]
    with db.session() as s, pytest.raises(AccessError):  # what the list hides, get refuses
        actions.assign(s, strict, _id_of("queued"), strict.user_id)
    everything = who(acme, "ana", Role.AGENT, visibility="all")
    assert len(names(everything)) == 4
    own = who(acme, "ana", Role.AGENT, visibility="own")  # not Bia's, though in Ana's team
    assert names(own) == ["acme customer 0", "acme customer 2"]
    assert names(who(acme, "bia", Role.AGENT, visibility="own")) == [
        "acme customer 1",
        "acme customer 2",
        "queued",
    ]


def _id_of(contact_name: str) -> int:
    with db.session() as s:
        return s.exec(
            select(Conversation.id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.name == contact_name)
        ).one()


def test_views_and_their_counts(acme):
    ana = who(acme, "ana", Role.AGENT)
    assert names(ana, "mine") == ["acme customer 0"]
    assert names(ana, "unassigned") == ["acme customer 2", "queued"]
    assert names(ana, "team") == ["acme customer 1"]
    with db.session() as s:
        assert inbox.counts(s, ana, "open") == {
            "mine": 1,
            "unassigned": 2,
            "team": 1,
            "all": 4,
            "unread": 0,
        }
        assert inbox.counts(s, ana, "resolved")["all"] == 0


def test_filters_narrow_and_foreign_or_hostile_ones_find_nothing(acme):
    owner = who(acme, "ana", Role.OWNER)
    assert names(owner, label=acme["vip"]) == ["acme customer 0"]
    assert names(owner, team=acme["support"]) == ["queued"]
    assert names(owner, assignee=acme["bia"]) == ["acme customer 1"]
    assert len(names(owner, channel=acme["channel"])) == 4
    assert names(owner, channel=acme["channel"] + 1) == []  # the other organization's number
    hostile = {"label": "1 OR 1=1", "team": True, "channel": -1, "sql": 1, "assignee": 2**70}
    assert len(names(owner, **hostile)) == 4  # ignored, never interpolated
    assert names(owner, view="everything", status="' OR 1=1 --") == names(owner)


def test_rows_carry_labels_assignee_and_team_in_one_query(acme):
    owner = who(acme, "ana", Role.OWNER)
    statements = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = db.get_engine()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            rows, following = inbox.page(s, owner, inbox.Query())
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 1
    first, second = rows[0], rows[1]
    assert first["labels"] == [
        {"name": "billing", "color": "blue"},
        {"name": "vip", "color": "amber"},
    ]
    assert first["assignee"] == "Ana" and second["team"] == "Sales" and following is None


def test_pages_follow_each_other_without_gaps_or_repeats(acme):
    """Equal activity times (a burst of imports) must not lose or repeat rows."""
    same = utcnow()
    with db.session(write=True) as s:
        for n in range(inbox.PAGE_SIZE * 2 + 5):
            contact = Contact(organization_id=acme["acme"], wa_id=f"4477{n:06d}", name=f"bulk {n}")
            s.add(contact)
            s.flush()
            s.add(
                Conversation(
                    organization_id=acme["acme"],
                    channel_id=acme["channel"],
                    contact_id=contact.id,
                    last_activity_at=same,
                )
            )
    owner = who(acme, "ana", Role.OWNER)
    seen, cursor, pages = [], None, 0
    while True:
        with db.session() as s:
            rows, cursor = inbox.page(s, owner, inbox.Query(), after=cursor)
        seen += [row["id"] for row in rows]
        pages += 1
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == inbox.PAGE_SIZE * 2 + 5 + 4


def test_team_transfer_lets_go_of_an_assignee_outside_the_team(acme):
    owner = who(acme, "ana", Role.OWNER)
    conversation = acme["c0"]  # Ana's, no team
    with db.session(write=True) as s:
        actions.assign_team(s, owner, conversation, acme["sales"])  # Ana is in Sales: stays
    with db.session(write=True) as s:
        assert s.get(Conversation, conversation).assignee_id == acme["ana"]
        actions.assign_team(s, owner, conversation, acme["support"])
    with db.session() as s:
        moved = s.get(Conversation, conversation)
        assert (moved.team_id, moved.assignee_id) == (acme["support"], None)
    for bad in (acme["support"] + 100, "2", True, -1):
        with db.session(write=True) as s, pytest.raises(AccessError):
            actions.assign_team(s, owner, conversation, bad)


def test_labels_are_the_organizations_and_only_supervisors_create_them(acme):
    owner, agent = who(acme, "ana", Role.OWNER), who(acme, "ana", Role.AGENT)
    with db.session(write=True) as s:
        urgent = labels.create(s, owner, "  urgent  ", "red")
        assert labels.create(s, owner, "urgent", "blue").id == urgent.id  # idempotent
        for bad in ("", "x" * 41, "<script>", None, "a\x00b"):
            with pytest.raises(AccessError):
                labels.create(s, owner, bad)
        with pytest.raises(AccessError):
            labels.create(s, agent, "mine")
        other = Label(organization_id=acme["other"], name="theirs")
        s.add(other)
        s.flush()
        other_id = urgent.id, other.id
    with db.session(write=True) as s:
        actions.set_labels(s, agent, acme["c0"], [other_id[0]])
    with db.session(write=True) as s:
        for bad in ([other_id[1]], "1", [True], list(range(1, 30))):
            with pytest.raises(AccessError):
                actions.set_labels(s, agent, acme["c0"], bad)
    assert names(owner, label=other_id[0]) == ["acme customer 0"]
    assert names(owner, label=acme["vip"]) == []


def test_team_names_and_membership(acme):
    with db.session(write=True) as s:
        with pytest.raises(AccessError):
            teams.create(s, acme["acme"], "Sales")
        team = teams.find(s, acme["acme"], "Support")
        teams.set_member(s, acme["acme"], team, "ana@a.co", member=True)
        teams.set_member(s, acme["acme"], team, "ana@a.co", member=True)  # idempotent
        teams.set_member(s, acme["acme"], team, "bia@a.co", member=False)
        assert s.exec(select(Team).where(Team.organization_id == acme["other"])).all() == []
        listing = {
            t["name"]: [m["name"] for m in t["members"]] for t in teams.listing(s, acme["acme"])
        }
    assert listing == {"Sales": ["Ana"], "Support": ["Ana"]}


def test_cli_manages_teams_and_the_visibility_rule(world, capsys):
    from pytake import cli
    from pytake.models import Organization

    assert cli.main(["team", "add", "--org", "acme", "--name", "Billing"]) == 0
    assert cli.main(["team", "add", "--org", "acme", "--name", "Billing"]) == 1  # taken
    member = ["team", "member", "--org", "acme", "--team", "Billing", "--email"]
    assert cli.main([*member, "ana@a.co"]) == 0
    assert cli.main([*member, "nobody@a.co"]) == 1
    assert (
        cli.main(["team", "member", "--org", "acme", "--team", "Nope", "--email", "ana@a.co"]) == 1
    )
    capsys.readouterr()
    assert cli.main(["team", "list", "--org", "acme"]) == 0
    assert "Billing  Ana" in capsys.readouterr().out
    assert cli.main(["org", "set", "--org", "acme"]) == 1  # nothing to change
    assert cli.main(["org", "set", "--org", "acme", "--visibility", "team"]) == 0
    with pytest.raises(SystemExit) as refused:
        cli.main(["org", "set", "--org", "acme", "--visibility", "everyone"])
    assert refused.value.code == 2
    with db.session() as s:
        assert s.get(Organization, world["acme"]).settings["visibility"] == "team"
