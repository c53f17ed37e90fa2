"""Setup, sign-in, sessions, throttling and user administration against the real database."""

import collections
import concurrent.futures
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import db
from pytake.auth import sessions, throttle
from pytake.auth.errors import AccessError, NotAllowed
from pytake.models import (
    AuditLog,
    Membership,
    Organization,
    Role,
    SignInThrottle,
    User,
    UserSession,
    utcnow,
)
from pytake.services import accounts, directory

PASSWORD = "correct horse 1"


def make_org(email="owner@acme.test"):
    with db.session() as s:
        org, owner = accounts.setup(
            s, organization="Acme Ltda", name="Olivia", email=email, password=PASSWORD
        )
    return org, owner


def add(org, email, role, password=PASSWORD):
    with db.session() as s:
        return accounts.add_user(
            s,
            organization_id=org.id,
            email=email,
            name=email.split("@")[0],
            password=password,
            role=role,
        )


def sign_in(email, password=PASSWORD, ip="203.0.113.5"):
    with db.session() as s:
        return accounts.sign_in(s, email=email, password=password, ip=ip, user_agent="pytest")


def identity_for(email, password=PASSWORD):
    _, ticket = sign_in(email, password)
    with db.session() as s:
        cookie = sessions.redeem_ticket(s, ticket)
    with db.session() as s:
        return sessions.resolve(s, cookie), cookie


def resolve(cookie):
    with db.session() as s:
        return sessions.resolve(s, cookie)


def audit_actions():
    with db.session() as s:
        return [row.action for row in s.exec(select(AuditLog).order_by(AuditLog.id)).all()]


def test_setup_creates_org_and_owner_once():
    org, owner = make_org()
    with db.session() as s:
        membership = s.exec(select(Membership)).one()
        assert membership.role == Role.OWNER and membership.organization_id == org.id
        assert s.get(User, owner.id).password_hash.startswith("$argon2id$")
        assert not accounts.needs_setup(s)
    with pytest.raises(AccessError, match="setup.already_done"), db.session() as s:
        accounts.setup(s, organization="Evil", name="E", email="e@e.co", password=PASSWORD)
    assert org.slug == "acme-ltda"
    assert "org.created" in audit_actions()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("email", "not-an-email", "account.bad_email"),
        ("name", "   ", "account.bad_name"),
        ("organization", "x" * 121, "account.bad_org_name"),
        ("password", "short", "password.too_short"),
    ],
)
def test_setup_validates_input_and_writes_nothing(field, value, code):
    values = {
        "organization": "Acme",
        "name": "Olivia",
        "email": "o@acme.test",
        "password": PASSWORD,
    } | {field: value}
    with pytest.raises(AccessError) as caught, db.session() as s:
        accounts.setup(s, **values)
    assert caught.value.code == code
    with db.session() as s:
        assert accounts.needs_setup(s)


def test_ticket_is_single_use_and_cookie_resolves_to_identity():
    org, owner = make_org()
    session_id, ticket = sign_in("OWNER@acme.test ")  # case and spaces forgiven
    with db.session() as s:
        cookie = sessions.redeem_ticket(s, ticket)
    assert cookie
    with db.session() as s:
        assert sessions.redeem_ticket(s, ticket) is None  # replay
    identity = resolve(cookie)
    assert identity.user_id == owner.id and identity.organization_id == org.id
    assert identity.role == Role.OWNER and identity.session_id == session_id
    assert "auth.signed_in" in audit_actions()


def test_session_not_activated_is_not_usable():
    make_org()
    session_id, _ = sign_in("owner@acme.test")
    from pytake.auth import tokens

    forged_cookie = tokens.sign(
        {"sid": session_id}, audience=sessions.SESSION_AUDIENCE, ttl_seconds=60
    )
    # Even a correctly signed cookie is refused until the ticket was redeemed.
    assert resolve(forged_cookie) is None


@pytest.mark.parametrize("email", ["owner@acme.test", "nobody@acme.test"])
def test_wrong_password_and_unknown_email_get_the_same_refusal(email):
    make_org()
    with pytest.raises(AccessError) as caught:
        sign_in(email, "wrong password!")
    assert caught.value.code == "auth.invalid_credentials"
    assert audit_actions()[-1] == "auth.sign_in_failed"


def test_deactivated_user_cannot_sign_in_and_gets_the_same_refusal():
    org, _ = make_org()
    agent = add(org, "agent@acme.test", Role.AGENT)
    with db.session() as s:
        accounts.set_active(s, organization_id=org.id, user_id=agent.id, active=False)
    with pytest.raises(AccessError, match="auth.invalid_credentials"):
        sign_in("agent@acme.test")


def test_failures_from_one_address_make_it_wait_but_not_the_owner_elsewhere(settings_env):
    settings_env(login_max_failures_per_account="3", login_max_failures_per_ip="100")
    make_org()
    for _ in range(3):
        with pytest.raises(AccessError, match="auth.invalid_credentials"):
            sign_in("owner@acme.test", "wrong password!")
    with pytest.raises(AccessError) as caught:  # even the right password waits
        sign_in("owner@acme.test")
    assert caught.value.code == "auth.throttled" and caught.value.params["minutes"] == 1
    sign_in("owner@acme.test", ip="198.51.100.7")  # the owner, from their own address


def test_the_wait_doubles_with_each_failure_and_a_success_clears_it(settings_env, monkeypatch):
    settings_env(login_max_failures_per_account="2", login_max_failures_per_ip="100")
    make_org()
    now = [utcnow()]
    monkeypatch.setattr(throttle, "utcnow", lambda: now[0])
    waits = []
    for _ in range(6):
        with pytest.raises(AccessError, match="auth.invalid_credentials"):
            sign_in("owner@acme.test", "wrong password!")
        with db.session() as s:
            row = s.exec(select(SignInThrottle).where(SignInThrottle.next_at.is_not(None))).first()
            waits.append(row.next_at - now[0] if row else None)
            now[0] = row.next_at if row else now[0]
    seconds = [w.total_seconds() if w else 0 for w in waits]
    assert seconds == [0, 30, 60, 120, 240, 480]
    sign_in("owner@acme.test")
    with pytest.raises(AccessError, match="auth.invalid_credentials"):
        sign_in("owner@acme.test", "wrong password!")  # counted afresh: no wait yet
    with db.session() as s:
        assert "owner@acme.test" not in str(s.exec(select(SignInThrottle.key)).all())


def test_counts_are_forgotten_once_their_window_and_wait_are_over(settings_env, monkeypatch):
    settings_env(login_max_failures_per_account="1", login_window_minutes="15")
    make_org()
    with pytest.raises(AccessError, match="auth.invalid_credentials"):
        sign_in("owner@acme.test", "wrong password!")  # waits 30 s from now on
    later = utcnow() + dt.timedelta(minutes=16)
    with db.session() as s:
        assert throttle.forget_expired(s) == 0  # the window is still open
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    with db.session() as s:
        assert throttle.forget_expired(s) == 2  # the pair's and the address's counts
        assert s.exec(select(SignInThrottle)).all() == []


def test_parallel_guesses_are_each_counted_before_the_password_is_checked(settings_env):
    """Forty wrong passwords at once against one account: only the allowed number is ever
    checked; the rest are refused without a check."""
    settings_env(login_max_failures_per_account="5", login_max_failures_per_ip="1000")
    make_org()

    def guess(_: int) -> str:
        try:
            with db.session(write=True) as s:
                accounts.sign_in(
                    s, email="owner@acme.test", password="wrong!", ip="192.0.2.9", user_agent="x"
                )
        except AccessError as refusal:
            return refusal.code
        return "signed in"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = collections.Counter(pool.map(guess, range(40)))
    assert outcomes == {"auth.invalid_credentials": 5, "auth.throttled": 35}


def test_failed_sign_ins_show_in_each_organization_of_the_account(settings_env):
    org, _ = make_org()
    with pytest.raises(AccessError, match="auth.invalid_credentials"):
        sign_in("owner@acme.test", "wrong password!")
    with pytest.raises(AccessError, match="auth.invalid_credentials"):
        sign_in("nobody@acme.test", "wrong password!")
    with db.session() as s:
        rows = s.exec(select(AuditLog).where(AuditLog.action == "auth.sign_in_failed")).all()
    assert sorted((r.subject, r.organization_id) for r in rows) == [
        ("nobody@acme.test", None),
        ("owner@acme.test", org.id),
    ]


def test_ip_throttle_covers_many_accounts(settings_env):
    settings_env(login_max_failures_per_account="100", login_max_failures_per_ip="4")
    org, _ = make_org()
    add(org, "agent@acme.test", Role.AGENT)
    for n in range(4):
        with pytest.raises(AccessError, match="auth.invalid_credentials"):
            sign_in(f"guess{n}@acme.test", "wrong password!", ip="192.0.2.1")
    with pytest.raises(AccessError, match="auth.throttled"):
        sign_in("agent@acme.test", ip="192.0.2.1")
    sign_in("agent@acme.test", ip="192.0.2.2")


def test_logout_revokes_the_session_at_once():
    make_org()
    identity, cookie = identity_for("owner@acme.test")
    with db.session() as s:
        accounts.sign_out(s, identity)
    assert resolve(cookie) is None
    assert "auth.signed_out" in audit_actions()


def test_password_change_keeps_this_session_and_ends_the_others():
    make_org()
    current, current_cookie = identity_for("owner@acme.test")
    _, other_cookie = identity_for("owner@acme.test")
    with pytest.raises(AccessError, match="profile.wrong_current_password"), db.session() as s:
        accounts.change_password(s, current, current="nope", new="another long one")
    with db.session() as s:
        revoked = accounts.change_password(s, current, current=PASSWORD, new="another long one")
    assert revoked == 1
    assert resolve(current_cookie) is not None
    assert resolve(other_cookie) is None
    sign_in("owner@acme.test", "another long one")


def test_deactivation_revokes_sessions_and_audits():
    org, _ = make_org()
    admin_identity, _ = identity_for("owner@acme.test")
    agent = add(org, "agent@acme.test", Role.AGENT)
    _, agent_cookie = identity_for("agent@acme.test")
    with db.session() as s:
        accounts.set_active(
            s, organization_id=org.id, user_id=agent.id, active=False, actor=admin_identity
        )
    assert resolve(agent_cookie) is None
    with db.session() as s:
        row = s.exec(select(UserSession).where(UserSession.user_id == agent.id)).one()
        assert row.revoke_reason == "deactivated"
    assert "user.deactivated" in audit_actions()
    with pytest.raises(AccessError, match="auth.invalid_credentials"):
        sign_in("agent@acme.test")  # active in no organization


def test_deactivation_in_one_organization_leaves_the_others_alone():
    org, _ = make_org()
    admin_identity, _ = identity_for("owner@acme.test")
    agent = add(org, "agent@acme.test", Role.AGENT)
    with db.session() as s:
        beta, _ = accounts.add_organization(
            s, organization="Beta", owner_email="agent@acme.test", owner_name="A", password=""
        )
    with db.session() as s:
        _, ticket = accounts.open_session(
            s, s.get(User, agent.id), beta.id, password=PASSWORD, ip=None, user_agent=None
        )
    with db.session() as s:
        beta_cookie = sessions.redeem_ticket(s, ticket)
    _, acme_cookie = identity_for("agent@acme.test")
    assert resolve(acme_cookie).organization_id == org.id
    with db.session() as s:
        accounts.set_active(
            s, organization_id=org.id, user_id=agent.id, active=False, actor=admin_identity
        )
    assert resolve(acme_cookie) is None
    assert resolve(beta_cookie).organization_id == beta.id  # Acme's admin cannot end it
    identity, _ = identity_for("agent@acme.test")  # signing in now lands in Beta
    assert identity.organization_id == beta.id
    with db.session() as s:
        acme = {m["email"]: m["active"] for m in directory.members(s, org.id)}
        assert acme["agent@acme.test"] is False
        assert directory.members(s, beta.id)[0]["active"] is True
    with db.session() as s:
        accounts.set_active(
            s, organization_id=org.id, user_id=agent.id, active=True, actor=admin_identity
        )
    assert identity_for("agent@acme.test")[0].organization_id == org.id


def test_role_rules():
    org, owner = make_org()
    admin = add(org, "admin@acme.test", Role.ADMIN)
    agent = add(org, "agent@acme.test", Role.AGENT)
    admin_identity, _ = identity_for("admin@acme.test")
    agent_identity, _ = identity_for("agent@acme.test")
    with pytest.raises(NotAllowed), db.session() as s:
        accounts.set_role(
            s, organization_id=org.id, user_id=admin.id, role=Role.AGENT, actor=agent_identity
        )
    with pytest.raises(NotAllowed, match="only_owner"), db.session() as s:
        accounts.set_role(
            s, organization_id=org.id, user_id=agent.id, role=Role.OWNER, actor=admin_identity
        )
    with pytest.raises(NotAllowed, match="only_owner"), db.session() as s:
        accounts.set_role(
            s, organization_id=org.id, user_id=owner.id, role=Role.AGENT, actor=admin_identity
        )
    with pytest.raises(AccessError, match="last_owner"), db.session() as s:
        accounts.set_role(s, organization_id=org.id, user_id=owner.id, role=Role.ADMIN)
    with db.session() as s:
        accounts.set_role(
            s, organization_id=org.id, user_id=agent.id, role=Role.SUPERVISOR, actor=admin_identity
        )
    with db.session() as s:
        rows = s.exec(select(AuditLog).where(AuditLog.action == "user.role_changed")).all()
    assert [(r.details["before"], r.details["after"]) for r in rows] == [("agent", "supervisor")]


def test_users_of_another_organization_are_out_of_reach():
    org, _ = make_org()
    with db.session() as s:
        other = Organization(name="Other", slug="other")
        s.add(other)
        s.flush()
        other_id = other.id
    outsider = add(org, "out@acme.test", Role.AGENT)
    with db.session() as s:
        s.execute(
            sa.update(Membership)
            .where(Membership.user_id == outsider.id)
            .values(organization_id=other_id)
        )
    admin_identity, _ = identity_for("owner@acme.test")
    with pytest.raises(AccessError, match="user_not_found"), db.session() as s:
        accounts.set_active(
            s,
            organization_id=admin_identity.organization_id,
            user_id=outsider.id,
            active=False,
            actor=admin_identity,
        )


def test_duplicate_email_is_refused():
    org, _ = make_org()
    add(org, "agent@acme.test", Role.AGENT)
    with pytest.raises(AccessError, match="email_taken"):
        add(org, "Agent@Acme.test", Role.AGENT)


def test_forged_and_expired_cookies_resolve_to_nobody():
    make_org()
    _, cookie = identity_for("owner@acme.test")
    assert resolve(cookie[:-4] + "AAAA") is None
    assert resolve("garbage") is None
    assert resolve(None) is None
    with db.session() as s:
        s.execute(sa.update(UserSession).values(expires_at=utcnow()))
    assert resolve(cookie) is None
