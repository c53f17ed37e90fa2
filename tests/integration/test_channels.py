"""Connecting WhatsApp numbers: validation, credentials encrypted at rest, the CLI, replaying
events that arrived before their number was connected, and the settings page's services
(overview, add, edit, disable, verify token, connection test against the Meta simulator)."""

import asyncio
import dataclasses
import io
import json

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import channels as adapters
from pytake import cli, crypto, db
from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.channels.whatsapp.adapter import WhatsAppAdapter
from pytake.channels.whatsapp.graph import GraphClient
from pytake.i18n import LANGUAGES, catalog
from pytake.jobs import outbox
from pytake.models import (
    AuditLog,
    Channel,
    Conversation,
    Message,
    Organization,
    Role,
    User,
    WebhookEvent,
    utcnow,
)
from pytake.sandbox import payloads as p
from pytake.services import accounts, channels, explain, outbound
from pytake.services.channels import directory
from tests.integration.conftest import (
    ANA,
    DISPLAY,
    PNID,
    SECRET,
    TOKEN,
    VERIFY,
    WABA,
    rows,
    who,
)

GOOD = {
    "phone_number_id": "120000000000001",
    "waba_id": "990000000000001",
    "display_number": "+55 11 91234-5678",
    "access_token": "EAAsecret-token",
    "app_secret": "the-app-secret",
    "verify_token": "verify-me-please",
}


@pytest.fixture
def org_id():
    with db.session() as s:
        org, _ = accounts.setup(
            s, organization="Beta", name="B", email="b@beta.test", password="correct horse 1"
        )
    return org.id


def test_credentials_are_encrypted_and_readable_only_with_the_key(org_id, settings_env):
    with db.session() as s:
        channel = channels.add_whatsapp(s, organization_id=org_id, **GOOD)
    (stored,) = rows(Channel)
    assert GOOD["access_token"] not in stored.secrets_encrypted
    assert GOOD["app_secret"] not in stored.secrets_encrypted
    assert channels.credentials(stored)["app_secret"] == GOOD["app_secret"]
    assert "the-app-secret" not in repr(channels.credentials(stored))
    settings_env(secret_key="another-secret-key-" + "y" * 32)
    with pytest.raises(crypto.DecryptionError, match="PYTAKE_SECRET_KEY"):
        channels.credentials(stored)
    directory.invalidate()
    with db.session() as s:  # an unreadable channel authenticates nothing
        assert directory.all(s, "whatsapp") == []
    assert channel.id == stored.id


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("phone_number_id", "12ab", "channel.bad_meta_id"),
        ("waba_id", "", "channel.bad_meta_id"),
        ("display_number", "call me", "channel.bad_display_number"),
        ("access_token", "has space", "channel.bad_secret"),
        ("app_secret", "x" * 2000, "channel.bad_secret"),
        ("verify_token", "short", "channel.bad_secret"),
    ],
)
def test_bad_channel_fields_are_refused_with_a_reason(org_id, field, value, code):
    with pytest.raises(AccessError) as refused, db.session() as s:
        channels.add_whatsapp(s, organization_id=org_id, **{**GOOD, field: value})
    assert refused.value.code == code
    assert refused.value.message("pt-BR") != refused.value.message("en")
    assert rows(Channel) == []


def test_a_number_connects_once_across_organizations(org_id):
    with db.session() as s:
        channels.add_whatsapp(s, organization_id=org_id, **GOOD)
        other = Organization(name="Gamma", slug="gamma")
        s.add(other)
    with pytest.raises(AccessError) as refused, db.session() as s:
        channels.add_whatsapp(s, organization_id=other.id, **{**GOOD, "verify_token": "x" * 9})
    assert refused.value.code == "channel.number_taken"
    # Another organization cannot claim the same business account either (its template
    # events are applied to the account's organization).
    with pytest.raises(AccessError) as refused, db.session() as s:
        channels.add_whatsapp(
            s, organization_id=other.id, **{**GOOD, "phone_number_id": "120000000000002"}
        )
    assert refused.value.code == "channel.account_taken"


def test_cli_adds_with_secrets_from_the_environment_and_lists(org_id, monkeypatch, capsys):
    monkeypatch.setenv("PYTAKE_ACCESS_TOKEN", GOOD["access_token"])
    monkeypatch.setenv("PYTAKE_APP_SECRET", GOOD["app_secret"])
    monkeypatch.setenv("PYTAKE_VERIFY_TOKEN", GOOD["verify_token"])
    argv = [
        "channel",
        "add-whatsapp",
        "--org",
        "beta",
        "--phone-number-id",
        GOOD["phone_number_id"],
        "--waba-id",
        GOOD["waba_id"],
        "--display-number",
        GOOD["display_number"],
    ]
    assert cli.main(argv) == 0
    channel_id = capsys.readouterr().out.strip()
    (stored,) = rows(Channel)
    assert channel_id == str(stored.id)
    assert channels.credentials(stored)["verify_token"] == GOOD["verify_token"]
    assert cli.main(argv) == 1
    assert "already connected" in capsys.readouterr().err
    assert cli.main(["channel", "list"]) == 0
    out = capsys.readouterr().out
    assert GOOD["phone_number_id"] in out and "never" in out
    assert GOOD["access_token"] not in out


def test_cli_reads_secrets_from_standard_input(org_id, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("tok\nsecret\nverify-token\n"))
    argv = [
        "channel",
        "add-whatsapp",
        "--org",
        "Beta",
        "--phone-number-id",
        "1234567",
        "--waba-id",
        "7654321",
        "--display-number",
        "+1 555 0100",
        "--access-token",
        "-",
        "--app-secret",
        "-",
        "--verify-token",
        "-",
    ]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert channels.credentials(rows(Channel)[0])["app_secret"] == "secret"


def test_limits_and_token_are_configured_per_channel(org_id, monkeypatch, capsys):
    with db.session() as s:
        channel = channels.add_whatsapp(s, organization_id=org_id, **GOOD)
        channel.token_invalid_at = channel.created_at  # Meta said 190
    monkeypatch.setattr("sys.stdin", io.StringIO("EAAfresh-token\n"))
    argv = ["channel", "set", "--org", "Beta", "--id", str(channel.id), "--rate-limit", "1000"]
    argv += ["--pair-limit", "5", "--pair-window", "30", "--access-token", "-"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert "1000 messages/s" in capsys.readouterr().out
    (stored,) = rows(Channel)
    assert stored.rate_limit_per_second == 1000 and stored.token_invalid_at is None
    assert stored.config == {"pair_limit": 5, "pair_window_seconds": 30.0}
    assert channels.credentials(stored)["access_token"] == "EAAfresh-token"
    assert channels.credentials(stored)["app_secret"] == GOOD["app_secret"]
    assert cli.main(["channel", "list"]) == 0
    assert " 1000 " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"rate_limit": 0}, "channel.bad_limit"),
        ({"rate_limit": 1001}, "channel.bad_limit"),
        ({"pair_limit": 0}, "channel.bad_limit"),
        ({"pair_window_seconds": 0.5}, "channel.bad_limit"),
        ({"access_token": "has space"}, "channel.bad_secret"),
    ],
)
def test_bad_limits_are_refused(org_id, values, code):
    with db.session() as s:
        channel = channels.add_whatsapp(s, organization_id=org_id, **GOOD)
    with db.session() as s, pytest.raises(AccessError) as refused:
        channels.configure(s, organization_id=org_id, channel_id=channel.id, **values)
    assert refused.value.code == code
    assert rows(Channel)[0].rate_limit_per_second == 80


def test_another_organizations_channel_cannot_be_configured(org_id):
    with db.session() as s:
        channel = channels.add_whatsapp(s, organization_id=org_id, **GOOD)
    with db.session() as s, pytest.raises(AccessError) as refused:
        channels.configure(s, organization_id=org_id + 1, channel_id=channel.id, rate_limit=5)
    assert refused.value.code == "channel.not_found"


def test_worker_needs_redis(settings_env, capsys):
    settings_env(redis_url=None)
    assert cli.main(["worker"]) == 1
    assert "PYTAKE_REDIS_URL" in capsys.readouterr().err


async def test_events_for_a_number_not_yet_connected_are_replayed(whatsapp, capsys):
    other = "130000000000009"
    value = p.messages_value(other, DISPLAY, [p.text("early", sender=ANA)], None)
    assert (await whatsapp.post(p.envelope(p.entry(WABA, p.change(value))))).status_code == 200
    (event,) = rows(WebhookEvent)
    assert event.state == "quarantined"
    assert cli.main(["events", "list", "--state", "quarantined"]) == 0
    assert "names no configured channel" in capsys.readouterr().out
    with db.session() as s:
        channels.add_whatsapp(
            s,
            organization_id=whatsapp.organization_id,
            **{**GOOD, "phone_number_id": other, "waba_id": WABA, "app_secret": SECRET},
        )
    assert cli.main(["events", "retry"]) == 0
    assert "1 event(s) queued again" in capsys.readouterr().out
    await whatsapp.drain()
    assert rows(WebhookEvent)[0].state == "done"
    assert [m.content["body"] for m in rows(Message)] == ["early"]


# The settings page ------------------------------------------------------------------------


def act(action, identity, *args, **kwargs):
    with db.session(write=True) as s:
        return action(s, identity, *args, **kwargs)


def audited(action: str) -> list[AuditLog]:
    return rows(AuditLog, AuditLog.action == action)


@pytest.fixture
def admin(whatsapp) -> Identity:
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "o@acme.test")).one()
    return Identity(user.id, whatsapp.organization_id, Role.ADMIN, "sid", "Owner", user.email, None)


def test_overview_has_health_and_never_a_secret(whatsapp, admin):
    (row,) = act(channels.overview, admin)
    assert row["phone_number_id"] == PNID and row["waba_id"] == WABA
    assert (row["health"], row["last_webhook_at"], row["webhook_path"]) == (
        "waiting",
        "",
        "/webhooks/whatsapp",
    )
    assert (row["rate_limit"], row["pair_limit"], row["is_active"]) == (80, 0, True)
    now = utcnow()
    for values, health in [
        ({"last_webhook_at": now}, "ok"),
        ({"last_error": "131042: Business eligibility payment issue"}, "error"),
        ({"token_invalid_at": now}, "token_invalid"),
        ({"is_active": False}, "disabled"),
    ]:
        with db.session() as s:
            channel = s.get(Channel, whatsapp.channel_id)
            for key, value in values.items():
                setattr(channel, key, value)
        (row,) = act(channels.overview, admin)
        assert row["health"] == health
    assert row["last_webhook_at"] == now.isoformat() and row["last_error"].startswith("131042")
    dump = json.dumps(row)
    for secret in (TOKEN, SECRET, VERIFY):
        assert secret not in dump


def test_agents_and_supervisors_cannot_touch_channels(world):
    for role in (Role.AGENT, Role.SUPERVISOR):
        identity = who(world, "ana", role)
        channel_id = rows(Channel, Channel.organization_id == world["acme"])[0].id
        calls = [
            (channels.overview,),
            (channels.add, {}),
            (channels.update, channel_id, {"name": "x"}),
            (channels.set_active, channel_id, False),
            (channels.reveal_verify_token, channel_id),
        ]
        for action, *args in calls:
            with pytest.raises(NotAllowed) as refused:
                act(action, identity, *args)
            assert refused.value.code == "access.denied"
    assert rows(Channel, Channel.is_active.is_(False)) == []


async def test_agents_cannot_test_a_connection(world):
    channel_id = rows(Channel, Channel.organization_id == world["acme"])[0].id
    with pytest.raises(NotAllowed):
        await channels.test_connection(who(world, "ana", Role.AGENT), channel_id)


@pytest.mark.parametrize("whose", ["other", "missing", "text", "bool"])
async def test_another_organizations_channel_is_not_found(world, whose):
    other = rows(Channel, Channel.organization_id == world["other"])[0].id
    channel_id = {"other": other, "missing": 10**9, "text": str(other), "bool": True}[whose]
    admin = who(world, "ana", Role.ADMIN)
    calls = [
        (channels.update, channel_id, {"name": "mine now"}),
        (channels.set_active, channel_id, False),
        (channels.reveal_verify_token, channel_id),
    ]
    for action, *args in calls:
        with pytest.raises(AccessError) as refused:
            act(action, admin, *args)
        assert refused.value.code == "channel.not_found"
    with pytest.raises(AccessError) as refused:
        await channels.test_connection(admin, channel_id)
    assert refused.value.code == "channel.not_found"
    assert [row["name"] for row in act(channels.overview, admin)] == ["acme main"]
    assert rows(Channel, Channel.id == other)[0].name == "other main"


def test_adding_from_the_form_generates_a_verify_token_to_reveal(org_id):
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "b@beta.test")).one()
    owner = Identity(user.id, org_id, Role.OWNER, "sid", "B", user.email, None)
    form = {**GOOD, "verify_token": "", "name": "  Sales   line ", "catalog_id": "1928374655"}
    channel_id = act(channels.add, owner, form)
    (stored,) = rows(Channel)
    assert (stored.id, stored.name, stored.organization_id) == (channel_id, "Sales line", org_id)
    assert stored.config == {"catalog_id": "1928374655"}  # templates show its products
    token = act(channels.reveal_verify_token, owner, channel_id)
    assert len(token) >= 32 and channels.credentials(stored)["verify_token"] == token
    (revealed,) = audited("channel.verify_token_revealed")
    assert revealed.actor_user_id == user.id and token not in json.dumps(revealed.details)
    for wrong in ({**GOOD, "access_token": 123}, {**GOOD, "waba_id": ["1"]}, ["not", "a form"]):
        with pytest.raises(AccessError) as refused:
            act(channels.add, owner, wrong)
        assert refused.value.code == "access.bad_request"
    assert len(rows(Channel)) == 1


def test_update_replaces_only_what_was_given_and_audits_field_names(whatsapp, admin):
    empty = dict.fromkeys(["name", "display_number", "waba_id", "access_token", "app_secret"], "")
    act(channels.update, admin, whatsapp.channel_id, {**empty, "rate_limit": " 250 "})
    act(channels.update, admin, whatsapp.channel_id, {"phone_number_id": PNID, "name": "Sales"})
    act(channels.update, admin, whatsapp.channel_id, {"access_token": "EAAnew-token"})
    (stored,) = rows(Channel)
    assert (stored.name, stored.rate_limit_per_second) == ("Sales", 250)
    keys = channels.credentials(stored)
    assert (keys["access_token"], keys["app_secret"], keys["verify_token"]) == (
        "EAAnew-token",
        SECRET,
        VERIFY,
    )
    changes = [entry.details["changed"] for entry in audited("channel.configured")]
    assert changes == [["rate_limit"], ["name"], ["access_token"]]
    assert "EAAnew-token" not in json.dumps([e.details for e in rows(AuditLog)])
    for form, code in [
        ({"phone_number_id": "120000000000777"}, "channel.number_fixed"),
        ({"rate_limit": "fast"}, "channel.bad_limit"),
        ({"rate_limit": "2.5"}, "channel.bad_limit"),
        ({"pair_window_seconds": "0,5"}, "channel.bad_limit"),
        ({"verify_token": "short"}, "channel.bad_secret"),
        ({"rate_limit": 250}, "access.bad_request"),
    ]:
        with pytest.raises(AccessError) as refused:
            act(channels.update, admin, whatsapp.channel_id, form)
        assert refused.value.code == code
    act(channels.update, admin, whatsapp.channel_id, {"pair_window_seconds": "1,5"})
    assert rows(Channel)[0].config == {"pair_window_seconds": 1.5}


async def test_the_next_graph_call_uses_the_replaced_token(whatsapp, admin):
    whatsapp.sim.add_number(PNID, WABA, DISPLAY, "EAArotated", SECRET)  # Meta's new token
    act(channels.update, admin, whatsapp.channel_id, {"access_token": "EAArotated"})
    assert (await channels.test_connection(admin, whatsapp.channel_id))["ok"] is True


def test_unreadable_secrets_are_entered_again_all_together(whatsapp, admin, settings_env):
    settings_env(secret_key="another-secret-key-" + "y" * 32)
    with pytest.raises(AccessError) as refused:
        act(channels.update, admin, whatsapp.channel_id, {"access_token": "EAAnew"})
    assert refused.value.code == "channel.secrets_unreadable"
    with pytest.raises(AccessError) as refused:
        act(channels.reveal_verify_token, admin, whatsapp.channel_id)
    assert refused.value.code == "channel.secrets_unreadable"
    form = {"access_token": "EAAnew", "app_secret": "new-secret", "verify_token": "verify-again"}
    act(channels.update, admin, whatsapp.channel_id, form)
    assert act(channels.reveal_verify_token, admin, whatsapp.channel_id) == "verify-again"


async def test_a_disabled_number_sends_nothing_and_its_webhooks_wait_until_enabled(whatsapp, admin):
    await whatsapp.send(p.text("before", sender=ANA, wamid="wamid.BEFORE"))
    await whatsapp.drain()
    (conversation,) = rows(Conversation)
    queued = act(outbound.send, admin, conversation.id, "text", {"body": "hi"}, client_key="k" * 8)
    assert act(channels.set_active, admin, whatsapp.channel_id, False) == 0
    await whatsapp.drain()
    failed = rows(Message, Message.id == queued.message_id)[0]
    assert failed.status == "failed" and whatsapp.sim.sent == []
    reason = explain.explain("failed", failed.error, "en")["reason"]
    assert reason == catalog("en")["explain.channel_disabled"]
    with pytest.raises(AccessError) as refused:
        act(outbound.send, admin, conversation.id, "text", {"body": "again"}, client_key="m" * 8)
    assert refused.value.code == "send.channel_inactive"
    with pytest.raises(AccessError) as refused:
        act(outbound.resend, admin, queued.message_id)
    assert refused.value.code == "send.channel_inactive"
    assert await outbox.mark_read(whatsapp.channel_id, "wamid.BEFORE") is False
    assert whatsapp.sim.read_marks == []

    # Meta still delivers to the number: kept (200), not routed, not lost.
    answer = await whatsapp.send(p.text("while disabled", sender=ANA, wamid="wamid.DURING"))
    assert (answer.status_code, answer.text) == (200, "quarantined")
    with db.session() as s:
        assert directory.routes(s, "whatsapp", frozenset({PNID}), frozenset()) == []
    await whatsapp.drain()
    assert rows(Message, Message.external_id == "wamid.DURING") == []
    (row,) = act(channels.overview, admin)
    assert (row["health"], row["is_active"]) == ("disabled", False)

    assert act(channels.set_active, admin, whatsapp.channel_id, True) == 1
    await whatsapp.drain()
    assert rows(Message, Message.external_id == "wamid.DURING")[0].content["body"] == (
        "while disabled"
    )
    assert len(audited("channel.disabled")) == 1
    assert audited("channel.enabled")[0].details == {"requeued": 1}
    with pytest.raises(AccessError) as refused:
        act(channels.set_active, admin, whatsapp.channel_id, "no")
    assert refused.value.code == "access.bad_request"


# Testing the connection against the simulator --------------------------------------------------


def outcome(result: dict) -> list[tuple[str, bool]]:
    return [
        (check["key"].removeprefix("channel.check."), check["ok"]) for check in result["checks"]
    ]


def detail(result: dict, name: str) -> str:
    return next(c["detail"] for c in result["checks"] if c["key"] == f"channel.check.{name}")


async def test_connection_all_good_clears_the_last_error(whatsapp, admin):
    with db.session() as s:
        s.get(Channel, whatsapp.channel_id).last_error = "131031: Business account locked"
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert result["ok"] is True
    assert outcome(result) == [
        ("graph", True),
        ("token", True),
        ("number", True),
        ("account", True),
        ("webhooks", True),
        ("display_number", True),
    ]
    assert (result["number"], result["verified_name"], result["quality"]) == (
        DISPLAY,
        "PyTake Sandbox",
        "GREEN",
    )
    assert result["throughput"] == "STANDARD" and result["facts"]["name_status"] == "APPROVED"
    assert "PyTake Sandbox" in detail(result, "number")
    assert rows(Channel)[0].last_error is None
    (tested,) = audited("channel.tested")
    assert tested.details["failed"] == [] and "channel.check.webhooks" in tested.details["ok"]
    portuguese = dataclasses.replace(admin, language="pt-BR")
    other = await channels.test_connection(portuguese, whatsapp.channel_id)
    assert detail(other, "token") != detail(result, "token")


async def test_connection_with_a_rejected_token_marks_it_until_replaced(whatsapp, admin):
    whatsapp.sim.add_number(PNID, WABA, DISPLAY, "EAArotated", SECRET)  # ours was revoked
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert outcome(result) == [("graph", True), ("token", False)]
    assert "rejected the access token" in detail(result, "token")
    assert rows(Channel)[0].token_invalid_at is not None
    assert act(channels.overview, admin)[0]["health"] == "token_invalid"
    act(channels.update, admin, whatsapp.channel_id, {"access_token": "EAArotated"})
    assert (await channels.test_connection(admin, whatsapp.channel_id))["ok"] is True
    assert act(channels.overview, admin)[0]["health"] == "waiting"


async def test_connection_with_an_unknown_phone_number_id(whatsapp, admin):
    whatsapp.sim.add_number("130000000000009", WABA, "15550009999", TOKEN, SECRET)
    del whatsapp.sim.numbers[PNID]  # the id we have is not one Meta knows
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert outcome(result) == [
        ("graph", True),
        ("token", True),
        ("number", False),
        ("webhooks", True),
    ]
    assert PNID in detail(result, "number") and "API Setup" in detail(result, "number")
    assert rows(Channel)[0].token_invalid_at is None


async def test_connection_without_permission_on_the_number(whatsapp, admin):
    whatsapp.sim.fail_next(200, path="phone_number")
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert ("number", False) in outcome(result)
    assert "whatsapp_business_messaging" in detail(result, "number")


async def test_connection_when_no_app_is_subscribed_to_the_account(whatsapp, admin):
    whatsapp.sim.unsubscribe(WABA)
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert result["ok"] is False and outcome(result)[-2:] == [
        ("webhooks", False),
        ("display_number", True),
    ]
    assert f"POST /{WABA}/subscribed_apps" in detail(result, "webhooks")
    assert audited("channel.tested")[0].details["failed"] == ["channel.check.webhooks"]


async def test_connection_with_the_waba_of_another_number(whatsapp, admin):
    other_waba = "990022334455667"
    whatsapp.sim.add_number("220033445566778", other_waba, "15550002222", TOKEN, SECRET)
    act(channels.update, admin, whatsapp.channel_id, {"waba_id": other_waba})
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert ("account", False) in outcome(result) and ("webhooks", True) in outcome(result)
    assert other_waba in detail(result, "account") and PNID in detail(result, "account")


async def test_connection_with_a_wrong_waba_id(whatsapp, admin):
    act(channels.update, admin, whatsapp.channel_id, {"waba_id": "990000000000042"})
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert outcome(result)[-2:] == [("account", False), ("display_number", True)]
    assert "990000000000042" in detail(result, "account")


async def test_connection_notices_a_display_number_meta_does_not_show(whatsapp, admin):
    act(channels.update, admin, whatsapp.channel_id, {"display_number": "+1 555 000 9999"})
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert outcome(result)[-1] == ("display_number", False)
    assert "+1 555 000 9999" in detail(result, "display_number")
    assert DISPLAY in detail(result, "display_number")


class _Unreachable(httpx.AsyncBaseTransport):
    def __init__(self, error: type[httpx.TransportError]) -> None:
        self.error = error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error("no route to graph.facebook.com", request=request)


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
async def test_connection_when_meta_cannot_be_reached(whatsapp, admin, error):
    async with httpx.AsyncClient(transport=_Unreachable(error)) as http:
        adapters.register(WhatsAppAdapter(GraphClient(http)))
        result = await channels.test_connection(admin, whatsapp.channel_id)
    assert outcome(result) == [("graph", False)]
    assert "graph.facebook.com" in detail(result, "graph")
    assert rows(Channel)[0].token_invalid_at is None


async def test_connection_when_meta_has_a_server_error(whatsapp, admin):
    whatsapp.sim.fail_next(131016, path="phone_numbers")
    result = await channels.test_connection(admin, whatsapp.channel_id)
    assert outcome(result) == [
        ("graph", False),
        ("token", True),
        ("number", True),
        ("display_number", True),
    ]
    assert "temporary" in detail(result, "graph")


def test_every_check_and_outcome_is_explained_in_every_language():
    for language in LANGUAGES:
        words = catalog(language)
        assert "channel.test.refused" in words
        for name, outcomes in channels.EXPLAINED.items():
            assert channels.check_key(name) in words, (language, name)
            for word in outcomes:
                assert f"channel.test.{name}.{word}" in words, (language, name, word)


def _lookup(s) -> list:
    return directory.routes(s, "whatsapp", frozenset({PNID}), frozenset())


def _reloads(call) -> tuple[int, object]:
    """How many times the directory read the channels during ``call(session)``; its answer."""
    reads = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if " FROM channel " in " ".join(statement.split()) + " ":
            reads.append(statement)

    sa.event.listen(db.get_engine(), "before_cursor_execute", seen)
    try:
        with db.session() as s:
            answer = call(s)
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", seen)
    return len(reads), answer


async def test_an_old_directory_is_reloaded_by_one_thread_while_the_others_use_it(whatsapp):
    (route,) = _reloads(_lookup)[1]
    directory._loaded_at -= directory.TTL + 1  # old: due for a reload
    with directory._lock:  # while another thread reloads it, this one answers from the copy
        assert _reloads(_lookup) == (0, [route])
    assert _reloads(_lookup) == (1, [route])  # the next one reloads
    assert _reloads(_lookup) == (0, [route])

    directory.invalidate()  # changed in this process: nobody answers from the old copy
    directory._lock.acquire()
    try:
        waiting = asyncio.create_task(asyncio.to_thread(_reloads, _lookup))
        await asyncio.sleep(0.2)
        assert not waiting.done()
    finally:
        directory._lock.release()
    assert await waiting == (1, [route])
