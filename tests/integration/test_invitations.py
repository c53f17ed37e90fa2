"""Invitations against the real database: a link works once, until it expires or is
withdrawn, for the role an admin (or, for owners, an owner) chose."""

import dataclasses
import datetime as dt
import hashlib
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import cli, db
from pytake.auth import passwords, sessions
from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.models import AuditLog, Invitation, Membership, Role, User, utcnow
from pytake.services import accounts, invitations
from tests.integration.conftest import who

PASSWORD = "a long secret 9"


def invite(ids, email="new@b.co", role=Role.SUPERVISOR, actor="ana", actor_role=Role.ADMIN):
    with db.session() as s:
        invitation, token = invitations.invite(
            s, who(ids, actor, actor_role), email=email, role=role
        )
    return invitation, token


def accept(token, name="Nina Nova", password=PASSWORD):
    with db.session(write=True) as s:
        return invitations.accept(
            s, token, name=name, password=password, ip="203.0.113.9", user_agent="pytest"
        )


def lookup(token):
    with db.session() as s:
        return invitations.lookup(s, token)


def signed_in(ticket):
    """The identity a browser gets for the ticket."""
    with db.session() as s:
        cookie = sessions.redeem_ticket(s, ticket)
    with db.session() as s:
        return sessions.resolve(s, cookie)


def refused(code, fn, *args, **kwargs):
    with pytest.raises(AccessError) as caught:
        fn(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def users_named(email):
    with db.session() as s:
        return s.exec(select(User).where(User.email == email)).all()


def expire(invitation_id):
    with db.session() as s:
        row = s.get(Invitation, invitation_id)
        row.expires_at = utcnow() - dt.timedelta(minutes=1)
        s.add(row)


def test_accepting_creates_the_member_with_the_role_and_signs_in(world):
    invitation, token = invite(world, email=" New@B.co ", role="supervisor")
    assert invitation.email == "new@b.co"
    assert invitations.link(token) == f"/invite/{token}"
    assert lookup(token) == invitations.Invited("Acme", "new@b.co", Role.SUPERVISOR)
    _, ticket = accept(token)
    identity = signed_in(ticket)
    assert (identity.email, identity.name) == ("new@b.co", "Nina Nova")
    assert (identity.organization_id, identity.role) == (world["acme"], Role.SUPERVISOR)
    with db.session() as s:
        row = s.get(Invitation, invitation.id)
        assert row.accepted_at is not None and row.accepted_user_id == identity.user_id
        actions = s.exec(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["user.invited", "user.joined", "auth.signed_in"]


def test_the_token_is_stored_only_as_its_hash(world):
    invitation, token = invite(world)
    with db.session() as s:
        row = s.get(Invitation, invitation.id)
        stored = [str(v) for v in row.model_dump().values()]
        details = [str(r.details) for r in s.exec(select(AuditLog)).all()]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in value for value in stored + details)


def test_a_link_works_once(world):
    _, token = invite(world)
    accept(token)
    refused("invitation.used", lookup, token)
    refused("invitation.used", accept, token, name="Intruder", password="another secret 7")
    assert len(users_named("new@b.co")) == 1


def test_an_expired_link_is_refused_and_creates_no_one(world):
    invitation, token = invite(world)
    expire(invitation.id)
    refused("invitation.expired", lookup, token)
    refused("invitation.expired", accept, token)
    assert users_named("new@b.co") == []


def test_unknown_links_are_invalid(world):
    invite(world)
    for token in ("", "nope", "x" * 5000):
        refused("invitation.invalid", lookup, token)
        refused("invitation.invalid", accept, token)


def test_a_refused_password_does_not_use_up_the_link(world):
    _, token = invite(world)
    refused("password.too_short", accept, token, password="short")
    refused("account.bad_name", accept, token, name="  ")
    accept(token)


def test_revoked_and_renewed_links(world):
    admin = who(world, "ana", Role.ADMIN)
    revoked, revoked_token = invite(world, email="gone@b.co")
    renewed, old_token = invite(world, email="late@b.co")
    expire(renewed.id)
    with db.session() as s:
        invitations.revoke(s, admin, revoked.id)
        new_token = invitations.renew(s, admin, renewed.id)
    refused("invitation.invalid", lookup, revoked_token)
    refused("invitation.invalid", lookup, old_token)  # the old link stops working
    assert lookup(new_token).email == "late@b.co"  # with a fresh expiry
    with db.session() as s:
        refused("invitation.not_found", invitations.revoke, s, admin, revoked.id)
        assert [row["email"] for row in invitations.pending(s, admin)] == ["late@b.co"]
    accept(new_token)
    with db.session() as s:
        refused("invitation.not_found", invitations.renew, s, admin, renewed.id)
        assert invitations.pending(s, admin) == []


def test_inviting_again_replaces_the_pending_link(world):
    first, first_token = invite(world, role=Role.AGENT)
    _, second_token = invite(world, role=Role.ADMIN)
    refused("invitation.invalid", lookup, first_token)
    assert lookup(second_token).role == Role.ADMIN
    with db.session() as s:
        assert s.get(Invitation, first.id).revoked_at is not None


def test_pending_lists_the_organizations_open_invitations_newest_first(world):
    with db.session() as s:
        owner = accounts.add_user(
            s,
            organization_id=world["acme"],
            email="olga@a.co",
            name="Olga",
            password=PASSWORD,
            role=Role.OWNER,
        )
        other = Invitation(
            organization_id=world["other"],
            email="x@other.co",
            role="agent",
            token_hash="0" * 64,
            expires_at=utcnow() + dt.timedelta(hours=1),
        )
        s.add(other)
    older, _ = invite(world, email="old@b.co", role=Role.AGENT)
    expire(older.id)
    with db.session() as s:
        olga = Identity(owner.id, world["acme"], Role.OWNER, "sid", "Olga", owner.email, None)
        invitations.invite(s, olga, email="boss@b.co", role=Role.OWNER)
        rows = invitations.pending(s, who(world, "bia", Role.ADMIN))
    assert [(r["email"], r["role"], r["expired"], r["invited_by"]) for r in rows] == [
        ("boss@b.co", "owner", False, "Olga"),
        ("old@b.co", "agent", True, "Ana"),
    ]
    assert rows[0]["emailed"] is False
    assert dt.datetime.fromisoformat(rows[0]["expires_at"]) > utcnow() + dt.timedelta(hours=71)
    assert dt.datetime.fromisoformat(rows[0]["created_at"]) <= utcnow()


def test_only_admins_invite_and_only_owners_invite_owners(world):
    with pytest.raises(NotAllowed, match="access.denied"):
        invite(world, actor_role=Role.SUPERVISOR)
    with db.session() as s, pytest.raises(NotAllowed, match="access.denied"):
        invitations.pending(s, who(world, "ana", Role.AGENT))
    with pytest.raises(NotAllowed, match="account.only_owner_grants_owner"):
        invite(world, role=Role.OWNER)
    boss, _ = invite(world, role=Role.OWNER, actor_role=Role.OWNER)
    with db.session() as s:  # nor may an admin withdraw or renew an owner's invitation
        admin = who(world, "bia", Role.ADMIN)
        with pytest.raises(NotAllowed, match="account.only_owner_grants_owner"):
            invitations.revoke(s, admin, boss.id)
        with pytest.raises(NotAllowed, match="account.only_owner_grants_owner"):
            invitations.renew(s, admin, boss.id)
    with pytest.raises(NotAllowed, match="account.only_owner_grants_owner"):
        invite(world, role=Role.AGENT, actor="bia")  # which would replace the owner's link
    refused("account.bad_role", invite, world, role="emperor")
    refused("account.bad_email", invite, world, email="not-an-email")


def test_a_member_cannot_be_invited_again(world):
    error = refused("invitation.already_member", invite, world, email="BIA@a.co")
    assert error.params == {"email": "bia@a.co"}


def test_invitations_of_another_organization_cannot_be_touched(world):
    invitation, _ = invite(world)
    stranger = dataclasses.replace(who(world, "ana", Role.OWNER), organization_id=world["other"])
    with db.session() as s:
        refused("invitation.not_found", invitations.revoke, s, stranger, invitation.id)
        refused("invitation.not_found", invitations.renew, s, stranger, invitation.id)
        assert invitations.pending(s, stranger) == []


def test_someone_with_an_account_elsewhere_joins_with_their_password(world):
    with db.session() as s:
        user = accounts.add_user(
            s,
            organization_id=world["other"],
            email="rui@other.co",
            name="Rui",
            password=PASSWORD,
            role=Role.ADMIN,
        )
    _, token = invite(world, email="rui@other.co", role=Role.AGENT)
    assert lookup(token) == invitations.Invited("Acme", "rui@other.co", Role.AGENT)  # as for anyone
    refused("invitation.wrong_password", accept, token, name="Hacker", password="guessing 12345")
    with db.session() as s:  # the failure counts towards sign-in throttling
        failures = s.exec(select(AuditLog).where(AuditLog.action == "auth.sign_in_failed")).all()
    assert [f.subject for f in failures] == ["rui@other.co"]
    _, ticket = accept(token, name="Hacker")
    identity = signed_in(ticket)
    assert (identity.user_id, identity.name) == (user.id, "Rui")  # the name is kept
    assert (identity.organization_id, identity.role) == (world["acme"], Role.AGENT)
    with db.session() as s:
        roles = s.exec(
            select(Membership.organization_id, Membership.role).where(Membership.user_id == user.id)
        ).all()
    assert sorted(roles) == sorted([(world["other"], "admin"), (world["acme"], "agent")])


def test_cli_invite_prints_the_link(world, settings_env, capsys):
    argv = ["user", "invite", "--org", "Acme", "--email", "cli@b.co", "--role", "owner"]
    assert cli.main(argv) == 0
    url = capsys.readouterr().out.strip().splitlines()[-1]
    assert url.startswith("/invite/")
    assert lookup(url.removeprefix("/invite/")).role == Role.OWNER
    settings_env(public_url="https://inbox.example.com/")
    assert cli.main(argv) == 0
    url = capsys.readouterr().out.strip().splitlines()[-1]
    assert url.startswith("https://inbox.example.com/invite/")
    assert lookup(url.rsplit("/", 1)[1]).email == "cli@b.co"
    assert cli.main([*argv[:-1], "emperor"]) == 1
    assert (
        cli.main(["user", "invite", "--org", "Acme", "--email", "bia@a.co", "--role", "agent"]) == 1
    )
    assert "already a member" in capsys.readouterr().err


def test_two_simultaneous_accepts_create_one_member(world, monkeypatch):
    if db.get_engine().dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: there is no race to lose")
    _, token = invite(world)
    # Both requests have read the invitation as open before either claims it.
    both_read = threading.Barrier(2, timeout=10)
    rule = passwords.check_password_rule
    monkeypatch.setattr(passwords, "check_password_rule", lambda *a: (rule(*a), both_read.wait()))
    outcomes: list[object] = []

    def race(name: str) -> None:
        try:
            outcomes.append(accept(token, name=name))
        except AccessError as exc:
            outcomes.append(exc.code)

    racers = [threading.Thread(target=race, args=(name,)) for name in ("One", "Two")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    assert len(outcomes) == 2 and outcomes.count("invitation.used") == 1, outcomes
    assert len(users_named("new@b.co")) == 1
    with db.session() as s:
        joined = s.exec(select(sa.func.count()).where(AuditLog.action == "user.joined")).one()
    assert joined == 1


def test_links_are_under_the_public_url_else_the_browsers_origin(settings_env):
    assert invitations.link("t0k") == "/invite/t0k"
    assert invitations.link("t0k", "http://10.0.0.5:3000/") == "http://10.0.0.5:3000/invite/t0k"
    assert invitations.link("t0k", "://") == "/invite/t0k"  # no Origin header
    settings_env(public_url="https://inbox.example.com")
    assert invitations.link("t0k", "http://evil.test") == "https://inbox.example.com/invite/t0k"
