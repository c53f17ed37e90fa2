"""Administration services: organization settings, teams and the numbers they serve, labels,
the audit trail, deactivation and capacity, and data retention."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import cli, db
from pytake.auth.errors import AccessError, NotAllowed
from pytake.models import (
    Attachment,
    AuditLog,
    Channel,
    Contact,
    Conversation,
    ConversationLabel,
    Label,
    Membership,
    Message,
    Organization,
    Role,
    TeamChannel,
    User,
    WebhookEvent,
    utcnow,
)
from pytake.services import accounts, audit, labels, organization, retention, teams
from pytake.settings import get_settings
from tests.integration.conftest import who


def _acme_channel(s, world) -> int:
    return s.exec(select(Channel.id).where(Channel.organization_id == world["acme"])).one()


def test_organization_settings_are_checked_applied_and_audited(world):
    admin = who(world, "ana", Role.ADMIN)
    with db.session(write=True) as s:
        saved = organization.update(
            s,
            world["acme"],
            {
                "name": "  Acme   Brasil ",
                "language": "pt-BR",
                "timezone": "America/Sao_Paulo",
                "visibility": "own",
                "reopen_hours": "1,5",
                "retention_days": "90",
                "opt_out_keywords": " SAIR,PARAR , sair ",
                "flow_hosts": "API.example.com\nhooks.example.org.",
                "unknown": "ignored",
            },
            actor=admin,
        )
    assert saved == {
        "name": "Acme Brasil",
        "language": "pt-BR",
        "timezone": "America/Sao_Paulo",
        "visibility": "own",
        "reopen_hours": 1.5,
        "retention_days": 90,
        "csat": False,
        "csat_template": "",
        "opt_out_keywords": "SAIR, PARAR",
        "opt_in_keywords": "START, VOLTAR",
        "flow_hosts": ["api.example.com", "hooks.example.org"],
    }
    bad = [
        {"timezone": "Mars/Olympus"},
        {"language": "fr"},
        {"visibility": "everyone"},
        {"reopen_hours": "-1"},
        {"reopen_hours": "soon"},
        {"retention_days": "7"},  # below the minimum, and not 0
        {"retention_days": "90.5"},
        {"retention_days": True},
        {"name": "  "},
        {"flow_hosts": "https://api.example.com/path"},
        {"flow_hosts": "\n".join(f"h{n}.example.com" for n in range(21))},
        {"opt_out_keywords": "x" * 301},
    ]
    for changes in bad:
        with db.session(write=True) as s, pytest.raises(AccessError):
            organization.update(s, world["acme"], changes, actor=admin)
    with db.session(write=True) as s, pytest.raises(NotAllowed):
        organization.update(
            s, world["acme"], {"name": "x"}, actor=who(world, "ana", Role.SUPERVISOR)
        )
    with db.session() as s:
        entry = s.exec(select(AuditLog).where(AuditLog.action == "organization.updated")).one()
        assert entry.details["changed"]["timezone"] == ["UTC", "America/Sao_Paulo"]
        assert s.get(Organization, world["other"]).settings == {}  # the other tenant untouched


def test_default_language_applies_to_members_without_one(world):
    from pytake.auth import sessions

    with db.session(write=True) as s:
        organization.update(s, world["acme"], {"language": "pt-BR"})
        user = s.get(User, world["ana"])
        _session_id, ticket = sessions.start(s, user, world["acme"], ip=None, user_agent=None)
        cookie = sessions.redeem_ticket(s, ticket)
    with db.session(write=True) as s:
        assert sessions.resolve(s, cookie).language == "pt-BR"
        user = s.get(User, world["ana"])
        user.locale = "en"
    with db.session(write=True) as s:
        assert sessions.resolve(s, cookie).language == "en"


def test_cli_sets_every_organization_setting(world, capsys):
    args = ["org", "set", "--org", "acme", "--timezone", "Europe/Lisbon", "--retention-days", "0"]
    assert cli.main(args) == 0
    assert "Europe/Lisbon" in capsys.readouterr().out
    assert cli.main(["org", "set", "--org", "acme", "--timezone", "Nowhere"]) == 1


def test_cli_adds_an_organization_for_a_new_or_an_existing_owner(world, monkeypatch, capsys):
    monkeypatch.setenv("PYTAKE_PASSWORD", "brand new secret 1")
    assert cli.main(["org", "add", "--name", "Acme", "--owner-email", "Nova@Beta.co"]) == 0
    assert "'Acme' (slug acme-2) owned by nova@beta.co (new account)" in capsys.readouterr().out
    monkeypatch.delenv("PYTAKE_PASSWORD")  # an existing account is asked for no password
    with db.session() as s:
        ana = s.exec(select(User).where(User.email.startswith("ana"))).first()
    assert cli.main(["org", "add", "--name", "Gamma  Ltda 🚀", "--owner-email", ana.email]) == 0
    assert "(existing account)" in capsys.readouterr().out
    with db.session() as s:
        orgs = {o.slug: o for o in s.exec(select(Organization)).all()}
        owners = s.exec(
            select(Organization.slug, User.email)
            .join(Membership, Membership.organization_id == Organization.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.role == Role.OWNER, Organization.slug.in_(["acme-2", "gamma-ltda"]))
        ).all()
        _, ticket = accounts.sign_in(
            s, email="nova@beta.co", password="brand new secret 1", ip=None, user_agent=None
        )
    assert ticket and set(owners) == {("acme-2", "nova@beta.co"), ("gamma-ltda", ana.email)}
    assert (orgs["acme-2"].name, orgs["gamma-ltda"].name) == ("Acme", "Gamma Ltda 🚀")
    blank = ["org", "add", "--name", " ", "--owner-email", "x@y.co", "--password", "a secret 12345"]
    assert cli.main(blank) == 1


def test_teams_members_and_numbers_only_within_the_organization(world):
    admin = who(world, "ana", Role.ADMIN)
    with db.session(write=True) as s:
        team = teams.create(s, world["acme"], "Vendas", actor=admin)
        teams.set_members(s, admin, team.id, [world["ana"], world["bia"]])
        teams.set_channels(s, admin, team.id, [_acme_channel(s, world)])
        team_id = team.id
    with db.session(write=True) as s:
        teams.set_members(s, admin, team_id, [world["bia"]])
        [row] = teams.overview(s, admin)
    assert [m["name"] for m in row["members"]] == ["Bia"]
    assert [c["name"] for c in row["channels"]] == ["acme main"]
    with db.session() as s:
        foreign = s.exec(select(Channel.id).where(Channel.organization_id == world["other"])).one()
    refusals = [
        lambda s: teams.set_channels(s, admin, team_id, [foreign]),
        lambda s: teams.set_channels(s, admin, team_id, "1,2"),
        lambda s: teams.set_members(s, admin, team_id, [world["bia"], 10**9]),
        lambda s: teams.rename(s, admin, 10**9, "Ghost"),
        lambda s: teams.rename(s, admin, team_id, "   "),
    ]
    for refusal in refusals:
        with db.session(write=True) as s, pytest.raises(AccessError):
            refusal(s)
    with db.session(write=True) as s, pytest.raises(NotAllowed):
        teams.rename(s, who(world, "ana", Role.SUPERVISOR), team_id, "Sales")
    other_admin = dataclasses.replace(admin, organization_id=world["other"])
    with db.session(write=True) as s, pytest.raises(AccessError):
        teams.delete(s, other_admin, team_id)
    with db.session(write=True) as s:
        teams.delete(s, admin, team_id)
    with db.session() as s:
        assert s.exec(select(TeamChannel)).all() == []


def test_a_number_served_by_one_team_gives_it_new_conversations(world):
    from pytake.services import inbound_messages

    admin = who(world, "ana", Role.ADMIN)
    with db.session(write=True) as s:
        channel = s.get(Channel, _acme_channel(s, world))
        sales = teams.create(s, world["acme"], "Sales")
        teams.set_channels(s, admin, sales.id, [channel.id])
        contact = Contact(organization_id=world["acme"], wa_id="5511988887777", name="x")
        s.add(contact)
        s.flush()
        first = inbound_messages.conversation_for(s, channel, contact)
        assert first.team_id == sales.id
        support = teams.create(s, world["acme"], "Support")
        teams.set_channels(s, admin, support.id, [channel.id])
        assert teams.serving_team(s, channel.id) is None  # two teams: the shared queue decides


def test_labels_are_renamed_recoloured_and_deleted_by_supervisors(world):
    supervisor = who(world, "ana", Role.SUPERVISOR)
    with db.session(write=True) as s:
        vip = labels.create(s, supervisor, "vip", "red")
        labels.create(s, supervisor, "billing", "blue")
        conversation = s.exec(
            select(Conversation.id).where(Conversation.organization_id == world["acme"])
        ).first()
        s.add(ConversationLabel(conversation_id=conversation, label_id=vip.id))
        vip_id = vip.id
    with db.session(write=True) as s:
        labels.update(s, supervisor, vip_id, "VIP client", "purple")
    with db.session(write=True) as s:  # emoji are welcome, with tones and joiners
        made = [labels.create(s, supervisor, name, "red") for name in ("🔥 Urgente", "👍🏽 ok")]
        assert [label.name for label in made] == ["🔥 Urgente", "👍🏽 ok"]
        for refused in ("<b>x</b>", "a\u202eb", "x" * 41, " ", "a\x00b"):
            with pytest.raises(AccessError):
                labels.create(s, supervisor, refused, "red")
        for label in made:
            labels.delete(s, supervisor, label.id)
    for args, error in [
        ((vip_id, "billing", "red"), AccessError),  # name taken
        ((vip_id, "ok", "#ff0000"), AccessError),  # not one of the colours
        ((10**9, "ok", "red"), AccessError),
    ]:
        with db.session(write=True) as s, pytest.raises(error):
            labels.update(s, supervisor, *args)
    with db.session(write=True) as s, pytest.raises(NotAllowed):
        labels.delete(s, who(world, "ana", Role.AGENT), vip_id)
    with db.session() as s:
        assert {row["name"]: row["color"] for row in labels.listing(s, world["acme"])} == {
            "VIP client": "purple",
            "billing": "blue",
        }
    with db.session(write=True) as s:
        labels.delete(s, supervisor, vip_id)
    with db.session() as s:
        assert s.exec(select(ConversationLabel)).all() == []
        assert s.get(Label, vip_id) is None


def test_audit_log_filters_pages_and_stays_in_the_organization(world):
    admin = who(world, "ana", Role.ADMIN)
    base = utcnow() - dt.timedelta(days=3)
    with db.session(write=True) as s:
        for n in range(120):
            s.add(
                AuditLog(
                    organization_id=world["acme"],
                    actor_user_id=world["ana"] if n % 2 else world["bia"],
                    action="team.created" if n % 3 else "label.updated",
                    subject=f"team:{n}",
                    created_at=base + dt.timedelta(hours=n),
                )
            )
        s.add(AuditLog(organization_id=world["other"], action="team.created", subject="secret"))
    with db.session() as s:
        first = audit.listing(s, admin, {})
        assert len(first["rows"]) == audit.PAGE and first["more"]
        second = audit.listing(s, admin, {}, before_id=first["rows"][-1]["id"])
        third = audit.listing(s, admin, {}, before_id=second["rows"][-1]["id"])
        everything = first["rows"] + second["rows"] + third["rows"]
        assert len(everything) == 120 and not third["more"]
        assert "secret" not in {row["subject"] for row in everything}
        by_bia = audit.listing(s, admin, {"actor": str(world["bia"]), "action": "label."})
        expected = [n for n in range(120) if n % 2 == 0 and n % 3 == 0]
        assert [r["subject"] for r in by_bia["rows"]] == [f"team:{n}" for n in reversed(expected)]
        day = (base + dt.timedelta(hours=30)).date().isoformat()
        one_day = audit.listing(s, admin, {"since": day, "until": day})["rows"]
        assert one_day and all(r["at"].startswith(day) for r in one_day)
        assert audit.action_names(s, admin) == ["label.updated", "team.created"]
        with pytest.raises(AccessError):
            audit.listing(s, admin, {"since": "yesterday"})
        with pytest.raises(NotAllowed):
            audit.listing(s, who(world, "ana", Role.SUPERVISOR), {})


def test_deactivating_returns_open_conversations_to_the_queue(world):
    with db.session(write=True) as s:
        s.add(Membership(user_id=world["bia"], organization_id=world["other"], role="agent"))
        s.exec(select(Membership).where(Membership.user_id == world["ana"])).one().role = "admin"
    admin = who(world, "ana", Role.ADMIN)
    with db.session(write=True) as s:
        released = accounts.set_active(
            s, organization_id=world["acme"], user_id=world["bia"], active=False, actor=admin
        )
    with db.session() as s:
        [(org, conversation_id)] = released
        conversation = s.get(Conversation, conversation_id)
        assert org == world["acme"] and conversation.assignee_id is None
        note = s.exec(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.type == "activity"
            )
        ).one()
        assert note.content == {"kind": "released", "actor": "ana", "target": "Bia"}


def test_capacity_is_a_whole_number_or_no_limit(world):
    with db.session(write=True) as s:
        s.exec(select(Membership).where(Membership.user_id == world["ana"])).one().role = "admin"
    admin = who(world, "ana", Role.ADMIN)
    with db.session(write=True) as s:
        accounts.set_capacity(s, admin, world["bia"], 3)
    for limit in (0, -1, 501, "3", True, 2.5):
        with db.session(write=True) as s, pytest.raises(AccessError):
            accounts.set_capacity(s, admin, world["bia"], limit)
    with db.session(write=True) as s, pytest.raises(NotAllowed):
        accounts.set_capacity(s, who(world, "bia", Role.AGENT), world["bia"], 9)
    with db.session(write=True) as s:
        accounts.set_capacity(s, admin, world["bia"], None)
    with db.session() as s:
        membership = s.exec(select(Membership).where(Membership.user_id == world["bia"])).one()
        assert membership.max_concurrent is None
        changes = s.exec(select(AuditLog).where(AuditLog.action == "user.capacity_changed")).all()
        assert [(e.details["before"], e.details["after"]) for e in changes] == [
            (None, 3),
            (3, None),
        ]


def test_retention_deletes_old_resolved_conversations_and_their_files(
    world, tmp_path, settings_env
):
    settings_env(media_dir=str(tmp_path / "media"))
    root = get_settings().media_root
    root.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    with db.session(write=True) as s:
        organization.update(s, world["acme"], {"retention_days": "30"})
        rows = s.exec(
            select(Conversation)
            .where(Conversation.organization_id == world["acme"])
            .order_by(Conversation.id)
        ).all()
        old, recent_resolved, old_open = rows
        for conversation, age, status in (
            (old, 40, "resolved"),
            (recent_resolved, 5, "resolved"),
            (old_open, 40, "open"),
        ):
            conversation.status, conversation.last_activity_at = (
                status,
                now - dt.timedelta(days=age),
            )
        message = s.exec(select(Message).where(Message.conversation_id == old.id)).first()
        s.add(
            Attachment(
                organization_id=world["acme"],
                message_id=message.id,
                state="done",
                storage_path="a/photo.jpg",
            )
        )
        s.add(
            WebhookEvent(
                source="whatsapp",
                body=b"{}",
                body_sha256="x" * 64,
                state="done",
                processed_at=now - dt.timedelta(days=31),
            )
        )
        s.add(
            WebhookEvent(
                source="whatsapp",
                body=b"{1}",
                body_sha256="y" * 64,
                state="done",
                processed_at=now - dt.timedelta(days=1),
            )
        )
        old_id = old.id
        other_old = s.exec(
            select(Conversation).where(Conversation.organization_id == world["other"])
        ).first()
        other_old.status, other_old.last_activity_at = "resolved", now - dt.timedelta(days=400)
    (root / "a").mkdir()
    (root / "a" / "photo.jpg").write_bytes(b"jpeg")
    with db.session(write=True) as s:
        purged = retention.purge_batch(s)
    assert purged.conversations == 1 and purged.webhooks == 1
    assert retention.delete_files([*purged.files, "../../etc/passwd"]) == 1
    assert not (root / "a" / "photo.jpg").exists()
    with db.session() as s:
        assert s.get(Conversation, old_id) is None
        assert (
            s.exec(
                select(sa.func.count())
                .select_from(Message)
                .where(Message.conversation_id == old_id)
            ).one()
            == 0
        )
        assert (
            s.exec(select(sa.func.count()).select_from(Conversation)).one() == 5
        )  # other org keeps forever
        assert s.exec(select(sa.func.count()).select_from(WebhookEvent)).one() == 1
    with db.session(write=True) as s:
        assert retention.purge_batch(s).conversations == 0
