"""Alerts to members away from the app: who is told of what, Web Push to a local push
service stand-in (the payload really encrypted for the browser's keys, the request really
signed with the deployment's VAPID key), devices pruned when their service says they are
gone, nothing pushed to someone online, in quiet hours or about a conversation taken
meanwhile, and e-mails after each member's delay to a local SMTP server."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlmodel import select

from pytake import db, redisio, webpush
from pytake.auth.errors import AccessError
from pytake.jobs import alerts as alert_job
from pytake.jobs import runner
from pytake.models import Alert, Conversation, Message, PushDevice, Role, Team, TeamMember, User
from pytake.realtime import presence
from pytake.sandbox import payloads as p
from pytake.services import actions, alerts, devices, preferences
from tests.integration.conftest import ANA, rows, who

pytestmark = pytest.mark.usefixtures("nobody_online")
ANDROID = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Browser:
    """A browser's push keys (RFC 8291): what it gives the server, and what it decrypts with."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.secret = os.urandom(16)
        self.endpoint = endpoint

    def subscription(self) -> dict:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": _b64(point), "auth": _b64(self.secret)},
        }

    def read(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.secret, version="aes128gcm"
        )
        return json.loads(plain)


class PushService:
    """A local push service: keeps each POST, answers 201, or what a path asks for."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = int(self.path.rsplit("/", 1)[-1]) if self.path[-3:].isdigit() else 201
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(settings_env):
    service = PushService()
    settings_env(push_services=f"fcm.googleapis.com,{service.origin}", public_url=None)
    yield service
    service.close()


def _alerts(*where) -> list[Alert]:
    return rows(Alert, *where)


def _subscribe(world, user: str, browser: Browser) -> int:
    with db.session(write=True) as s:
        return devices.subscribe(
            s, who(world, user, Role.AGENT), browser.subscription(), ANDROID
        ).id


def _customer_writes(conversation_id: int, text: str = "Ainda aguardo o boleto") -> int:
    with db.session(write=True) as s:
        conversation = s.get(Conversation, conversation_id)
        message = Message(
            organization_id=conversation.organization_id,
            conversation_id=conversation.id,
            channel_id=conversation.channel_id,
            direction="in",
            type="text",
            content={"body": text},
        )
        s.add(message)
        conversation.unread_count += 1
        s.flush()
        first = alerts.first_from_customer(s, conversation.id, message.id)
        alerts.on_inbound(s, conversation, message.id, first=first)
        return message.id


def _prefer(user_id: int, **changes) -> None:
    with db.session(write=True) as s:
        user = s.get(User, user_id)
        current = preferences.of(user).as_dict()
        user.notify = preferences.clean({**current, **changes}).as_dict()


async def _away(world) -> None:
    """Nobody vouches for anyone any more."""
    presence._local.clear()
    client = redisio.client()
    if client is not None:
        await client.delete(f"{presence.PREFIX}{world['acme']}")


async def _deliver_all() -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as s:
        ids = alert_job.QUEUE.due(s, 100, now, now)
    for alert_id in ids:
        await runner.handle(runner.JOBS["alert"], alert_id)


# Who is told of what ------------------------------------------------------------------------


def test_events_raise_one_alert_per_member_who_wants_it(world, push_service):
    ana, bia = who(world, "ana", Role.AGENT), who(world, "bia", Role.SUPERVISOR)
    _customer_writes(1, "ninguém tem como ser avisado")
    assert _alerts() == []  # no device, no SMTP: nobody to reach away from the app
    _subscribe(world, "ana", Browser(f"{push_service.origin}/push/ana"))
    _subscribe(world, "bia", Browser(f"{push_service.origin}/push/bia"))
    first = _customer_writes(1)  # Ana's customer
    with db.session(write=True) as s:  # processed twice: still one alert
        alerts.on_inbound(s, s.get(Conversation, 1), first, first=False)
    _customer_writes(3)  # unassigned, of no team: both agents' queue, but not a first message
    with db.session(write=True) as s:
        actions.assign(s, bia, 3, world["ana"])  # given to Ana by Bia
        actions.assign(s, bia, 2, world["bia"])  # Bia takes her own: no news to her
        actions.add_note(s, ana, 3, "@Bia pode revisar? @Ana")  # Ana mentions herself too
    told = {(a.user_id, a.kind, a.conversation_id) for a in _alerts()}
    assert told == {
        (world["ana"], "message", 1),
        (world["ana"], "assigned", 3),
        (world["bia"], "mention", 3),
    }
    assert all(a.state == "pending" and a.next_attempt_at is not None for a in _alerts())


def test_a_first_message_reaches_the_queue_members_who_want_it(world, push_service):
    for user in ("ana", "bia"):
        _subscribe(world, user, Browser(f"{push_service.origin}/push/{user}"))
    with db.session(write=True) as s:
        team = Team(organization_id=world["acme"], name="Vendas")
        s.add(team)
        s.flush()
        s.add(TeamMember(team_id=team.id, user_id=world["bia"]))
        conversation = s.get(Conversation, 3)
        conversation.team_id = team.id
        s.execute(sa.delete(Message).where(Message.conversation_id == 3))
    _customer_writes(3, "Olá")
    assert [(a.user_id, a.kind) for a in _alerts()] == [(world["bia"], "new_conversation")]
    # Bia wants nothing away from the app for new conversations: no alert at all.
    _prefer(world["bia"], events={**preferences.DEFAULT_EVENTS, "new_conversation": ["app"]})
    with db.session(write=True) as s:
        s.execute(sa.delete(Alert))
        s.execute(sa.delete(Message).where(Message.conversation_id == 3))
    _customer_writes(3, "Alguém?")
    assert _alerts() == []


async def test_a_webhook_delivered_twice_alerts_once(whatsapp, smtp):
    with db.session() as s:
        owner = s.exec(select(User)).one()
    events = {**preferences.DEFAULT_EVENTS, "new_conversation": ["app", "email"]}
    _prefer(owner.id, events=events, mail_delay=1)
    for _ in range(2):
        await whatsapp.send(p.text("Oi, preciso de ajuda", sender=ANA, wamid="wamid.alert1"))
        await whatsapp.drain()
    (alert,) = _alerts()
    assert alert.kind == "new_conversation" and alert.user_id == owner.id
    # Not pushed (not wanted), e-mailed once the minute is over.
    assert alert.state == "pending" and alert.outcome == "push off"
    _age(2)
    await _deliver_all()
    (letter,) = smtp.messages
    assert letter["Subject"] == "PyTake: New conversation: Ana Silva"


# Web Push -----------------------------------------------------------------------------------


async def test_a_push_arrives_encrypted_and_signed(world, push_service):
    browser = Browser(f"{push_service.origin}/push/ana-phone")
    device_id = _subscribe(world, "ana", browser)
    _customer_writes(1)
    await _deliver_all()
    (request,) = push_service.received
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm" and headers["urgency"] == "high"
    assert int(headers["ttl"]) == webpush.TTL_SECONDS and headers["topic"] == "conversation-1"
    # Signed with the deployment's key, for this push service, by a contact it can reach.
    assert Vapid02.verify(headers["authorization"])
    with db.session(write=True) as s:
        key = webpush.application_key(s)
    assert f"k={key}" in headers["authorization"]
    token = headers["authorization"].split("t=")[1].split(",")[0]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == push_service.origin and claims["sub"].startswith("mailto:")
    assert browser.read(request["body"]) == {
        "title": "acme customer 0 wrote",
        "body": "Ainda aguardo o boleto",
        "url": "/inbox/1",
        "tag": "conversation-1",
    }
    (alert,) = _alerts()
    assert alert.state == "done" and alert.outcome == "pushed to 1; no e-mail"
    (device,) = rows(PushDevice)
    assert device.id == device_id and device.last_used_at is not None
    assert device.label == "Chrome · Android"


async def test_gone_devices_are_forgotten_and_failing_ones_say_why(world, push_service):
    kept = _subscribe(world, "ana", Browser(f"{push_service.origin}/push/ok"))
    _subscribe(world, "ana", Browser(f"{push_service.origin}/push/410"))
    failing = _subscribe(world, "ana", Browser(f"{push_service.origin}/push/503"))
    _subscribe(world, "bia", Browser(f"{push_service.origin}/push/bia"))  # not hers to get
    _customer_writes(1)
    await _deliver_all()
    assert sorted(r["path"] for r in push_service.received) == [
        "/push/410",
        "/push/503",
        "/push/ok",
    ]
    left = {d.id: d for d in rows(PushDevice, PushDevice.user_id == world["ana"])}
    assert set(left) == {kept, failing}
    assert left[failing].last_error == "HTTP 503 " and left[kept].last_error is None


async def test_nothing_is_pushed_online_in_quiet_hours_or_when_no_longer_news(world, push_service):
    _subscribe(world, "ana", Browser(f"{push_service.origin}/push/ana"))
    await presence.seen(world["acme"], [world["ana"]])
    _customer_writes(1, "primeira")
    await _deliver_all()
    assert _alerts()[-1].outcome.startswith("push: online")
    await _away(world)

    now = dt.datetime.now(dt.UTC)
    start, end = (now - dt.timedelta(hours=1)), (now + dt.timedelta(hours=1))
    quiet = {"quiet_from": f"{start:%H:%M}", "quiet_to": f"{end:%H:%M}", "timezone": "UTC"}
    _prefer(world["ana"], quiet=True, **quiet)
    _customer_writes(1, "segunda")
    await _deliver_all()
    assert _alerts()[-1].outcome.startswith("push: quiet hours")

    _prefer(world["ana"], quiet=False)
    _customer_writes(1, "terceira")
    with db.session(write=True) as s:  # read before the push went out
        s.get(Conversation, 1).unread_count = 0
    await _deliver_all()
    assert _alerts()[-1].outcome == "outdated"
    assert push_service.received == []


def test_subscriptions_are_checked_and_owned(world, push_service):
    ana, bia = who(world, "ana", Role.AGENT), who(world, "bia", Role.AGENT)
    good = Browser(f"{push_service.origin}/push/shared").subscription()
    bad = [
        "not a dict",
        {"endpoint": "http://169.254.169.254/latest", "keys": good["keys"]},
        {"endpoint": good["endpoint"]},
        {"endpoint": good["endpoint"], "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}},
        {"endpoint": good["endpoint"], "keys": {"p256dh": good["keys"]["p256dh"], "auth": "x"}},
        {"endpoint": good["endpoint"] + "x" * 1000, "keys": good["keys"]},
    ]
    codes = []
    for subscription in bad:
        with pytest.raises(AccessError) as refused, db.session(write=True) as s:
            devices.subscribe(s, ana, subscription, None)
        codes.append(refused.value.code)
    assert codes == [
        "devices.bad_subscription",
        "devices.service_not_allowed",
        "devices.bad_subscription",
        "devices.bad_subscription",
        "devices.bad_subscription",
        "devices.service_not_allowed",
    ]
    with db.session(write=True) as s:
        device = devices.subscribe(s, ana, good, ANDROID)
        device_id = device.id
    with pytest.raises(AccessError, match="devices.not_found"), db.session(write=True) as s:
        devices.forget(s, bia, device_id)  # not Bia's
    with db.session(write=True) as s:  # the same browser, now signed in by Bia, is hers
        devices.subscribe(s, bia, good, ANDROID)
    with db.session() as s:
        assert devices.listed(s, ana) == []
        assert [d["id"] for d in devices.listed(s, bia)] == [device_id]
    with db.session(write=True) as s:
        devices.forget(s, bia, device_id)
    assert rows(PushDevice) == []


def test_the_deployment_key_is_made_once(world):
    with db.session(write=True) as s:
        first = webpush.application_key(s)
    with db.session(write=True) as s:
        assert webpush.application_key(s) == first
    assert len(base64.urlsafe_b64decode(first + "=")) == 65


# E-mail ---------------------------------------------------------------------------------------


def _age(minutes: int) -> None:
    with db.session(write=True) as s:
        for alert in s.exec(select(Alert)).all():
            alert.created_at -= dt.timedelta(minutes=minutes)
            if alert.state == "pending":
                alert.next_attempt_at = alert.created_at


async def test_one_email_after_the_delay_tells_everything_waiting(world, smtp):
    bia = who(world, "bia", Role.SUPERVISOR)
    _prefer(world["ana"], mail_delay=5)
    with db.session(write=True) as s:
        actions.assign(s, bia, 3, world["ana"])
        actions.add_note(s, bia, 3, "@Ana o cliente pediu <b>desconto</b>")
    await _deliver_all()
    assert smtp.messages == []  # not yet: Ana may come back
    assert all(a.state == "pending" and a.pushed_at for a in _alerts())
    _age(6)
    await _deliver_all()
    (letter,) = smtp.messages
    assert (
        letter["To"] == "ana@a.co" and letter["Subject"] == "PyTake: 2 things need your attention"
    )
    text = letter.get_body(("plain",)).get_content()
    assert "acme customer 2's conversation is now yours" in text
    assert "https://inbox.example.com/inbox/3" in text
    html = letter.get_body(("html",)).get_content()
    assert "&lt;b&gt;desconto&lt;/b&gt;" in html and "<b>desconto" not in html
    assert all(a.state == "done" and a.mailed_at for a in _alerts())


async def test_no_email_to_someone_online_and_a_refused_one_is_retried(world, smtp):
    bia = who(world, "bia", Role.SUPERVISOR)
    _prefer(world["ana"], mail_delay=1)
    with db.session(write=True) as s:
        actions.assign(s, bia, 3, world["ana"])
    await _deliver_all()
    _age(2)
    await presence.seen(world["acme"], [world["ana"]])
    await _deliver_all()
    (alert,) = _alerts()
    assert smtp.messages == [] and alert.state == "done" and "e-mail: online" in alert.outcome

    await _away(world)
    smtp.refused.add("ana@a.co")
    with db.session(write=True) as s:
        actions.add_note(s, bia, 3, "@Ana veja isto")
    await _deliver_all()
    _age(2)
    await _deliver_all()
    mention = _alerts(Alert.kind == "mention")[0]
    assert mention.state == "pending" and mention.attempts == 1
    assert "refused the recipient ana@a.co" in mention.error
    assert mention.next_attempt_at > dt.datetime.now(dt.UTC)
    smtp.refused.clear()
    with db.session(write=True) as s:
        s.get(Alert, mention.id).next_attempt_at = dt.datetime.now(dt.UTC)
    await _deliver_all()
    (letter,) = smtp.messages
    assert letter["Subject"] == "PyTake: You were mentioned in acme customer 2's conversation"
