"""Connecting WhatsApp numbers: validation, credentials encrypted at rest, the CLI, and
replaying events that arrived before their number was connected."""

import io

import pytest

from pytake import cli, crypto, db
from pytake.auth.errors import AccessError
from pytake.models import Channel, Message, Organization, WebhookEvent
from pytake.sandbox import payloads as p
from pytake.services import accounts, channels
from pytake.services.channels import directory
from tests.integration.conftest import ANA, DISPLAY, SECRET, WABA, rows

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
