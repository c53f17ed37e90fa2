"""Members' notification preferences, the push services a subscription may name, and the
device names members see: pure rules, every refusal with its reason."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from pytake.auth.errors import AccessError
from pytake.models import Organization, User
from pytake.services import devices, preferences
from pytake.settings import Settings, SettingsError, get_settings

ALL = {kind: ["app", "push", "email"] for kind in preferences.KINDS}
VALID = {
    "events": ALL,
    "mail_delay": 5,
    "quiet": True,
    "quiet_from": "22:00",
    "quiet_to": "07:00",
    "timezone": "America/Sao_Paulo",
}


def test_clean_keeps_a_valid_choice():
    chosen = preferences.clean({**VALID, "mail_delay": "30", "events": {"message": ["email"]}})
    assert chosen.mail_delay == 30
    assert chosen.wants("message", "email") and not chosen.wants("message", "push")
    assert chosen.events["mention"] == ()  # a kind left out notifies through nothing


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"events": "all"}, "preferences.bad_events"),
        ({"events": {"message": ["sms"]}}, "preferences.bad_events"),
        ({"events": {"message": "push"}}, "preferences.bad_events"),
        ({"mail_delay": 7}, "preferences.bad_delay"),
        ({"mail_delay": True}, "preferences.bad_delay"),
        ({"mail_delay": "ten"}, "preferences.bad_delay"),
        ({"quiet_from": "25:00"}, "preferences.bad_time"),
        ({"quiet_to": "7h"}, "preferences.bad_time"),
        ({"quiet_to": None}, "preferences.bad_time"),
        ({"quiet_from": "07:00"}, "preferences.empty_quiet"),
        ({"timezone": "Mars/Olympus"}, "organization.bad_timezone"),
        ({"timezone": None}, "organization.bad_timezone"),
    ],
)
def test_clean_refuses_what_is_wrong(change, code):
    with pytest.raises(AccessError) as refused:
        preferences.clean({**VALID, **change})
    assert refused.value.code == code


def test_stored_preferences_fall_back_to_the_defaults():
    org = Organization(name="Acme", slug="acme", settings={"timezone": "Europe/Lisbon"})
    fresh = preferences.of(User(email="a@a.co", name="A", notify={}), org)
    assert fresh.events == preferences.DEFAULT_EVENTS
    assert fresh.timezone == "Europe/Lisbon" and fresh.mail_delay == preferences.DEFAULT_DELAY
    # A kind stored with channels replaces the default; unknown kinds and channels are ignored.
    stored = {"events": {"message": ["email", "fax"], "party": ["push"]}, "mail_delay": 1}
    mine = preferences.of(User(email="a@a.co", name="A", notify=stored), org)
    assert mine.events["message"] == ("email",) and "party" not in mine.events
    assert mine.events["assigned"] == preferences.DEFAULT_EVENTS["assigned"]
    # Damaged values never stop a notification: the defaults apply.
    broken = preferences.of(User(email="a@a.co", name="A", notify={"mail_delay": 3}), org)
    assert broken.events == preferences.DEFAULT_EVENTS and broken.mail_delay == 10


def _at(local: str, zone: str = "America/Sao_Paulo") -> dt.datetime:
    return dt.datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(zone))


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-12-02 21:59", None),
        ("2026-12-02 22:00", "2026-12-03 07:00"),
        ("2026-12-02 23:30", "2026-12-03 07:00"),
        ("2026-12-03 03:00", "2026-12-03 07:00"),  # after midnight: last evening's window
        ("2026-12-03 07:00", None),
        ("2026-12-03 12:00", None),
    ],
)
def test_quiet_hours_across_midnight(now, until):
    chosen = preferences.clean(VALID)
    expected = _at(until).astimezone(dt.UTC) if until else None
    assert chosen.quiet_until(_at(now).astimezone(dt.UTC)) == expected


def test_quiet_hours_within_a_day_and_off():
    lunch = preferences.clean({**VALID, "quiet_from": "12:00", "quiet_to": "13:30"})
    assert lunch.quiet_until(_at("2026-12-02 12:15")) == _at("2026-12-02 13:30")
    assert lunch.quiet_until(_at("2026-12-02 11:59")) is None
    assert lunch.quiet_until(_at("2026-12-02 13:30")) is None
    off = preferences.clean({**VALID, "quiet": False})
    assert off.quiet_until(_at("2026-12-02 23:00")) is None
    assert preferences.clean({**VALID, "quiet": "yes"}).quiet is False  # only a real true


def _settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", True),
        ("https://updates.push.services.mozilla.com/wpush/v2/x", True),
        ("https://wns2-par02p.notify.windows.com/w/?token=x", True),
        ("https://web.push.apple.com/QGx", True),
        ("http://fcm.googleapis.com/fcm/send/abc", False),  # never in clear text
        ("https://fcm.googleapis.com.evil.test/x", False),
        ("https://evilnotify.windows.com/x", False),
        ("https://user:pw@fcm.googleapis.com/x", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:6379/", False),
        ("not a url", False),
        ("https://fcm.googleapis.com:443/fcm/send/abc", True),  # the default port, spelled out
        ("https://fcm.googleapis.com:6379/x", False),  # a listed name on another port
        ("https://wns2-par02p.notify.windows.com:8080/w/", False),
        ("https://fcm.googleapis.com:99999/x", False),
        ("https://fcm.googleapis.com:abc/x", False),
    ],
)
def test_push_endpoints_must_be_a_known_push_service(endpoint, allowed):
    assert _settings().push_service_allowed(endpoint) is allowed


def test_a_self_hosted_push_service_is_allowed_by_its_origin():
    settings = _settings(push_services="push.example.org, http://10.0.0.5:8080/")
    assert settings.push_service_allowed("http://10.0.0.5:8080/push/1")
    assert not settings.push_service_allowed("http://10.0.0.5:8081/push/1")
    assert settings.push_service_allowed("https://push.example.org/x")
    assert not settings.push_service_allowed("https://fcm.googleapis.com/x")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"push_services": "ftp://push.example.org"}, "PYTAKE_PUSH_SERVICES"),
        ({"push_services": "push example"}, "PYTAKE_PUSH_SERVICES"),
        ({"vapid_subject": "admin@example.com"}, "PYTAKE_VAPID_SUBJECT"),
    ],
)
def test_bad_push_settings_are_named(values, message, settings_env):
    settings_env(**values)
    with pytest.raises(SettingsError, match=message):
        get_settings()


def test_the_vapid_contact_defaults_to_the_sender_or_the_public_url():
    assert _settings(vapid_subject="https://acme.test").vapid_contact == "https://acme.test"
    sender = _settings(smtp_host="mail", smtp_from="PyTake <inbox@acme.test>")
    assert sender.vapid_contact == "mailto:inbox@acme.test"
    assert _settings(public_url="https://chat.acme.test").vapid_contact == "https://chat.acme.test"


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
            "Chrome · Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0",
            "Edge · Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox · macOS",
        ),
        ("", ""),
        (None, ""),
    ],
)
def test_devices_are_named_from_their_user_agent(agent, label):
    assert devices.label(agent) == label
