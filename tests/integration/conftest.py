"""A connected WhatsApp number, the Meta simulator standing in for the Graph API, and a way
to run the pipeline's jobs to completion."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import email.policy
import socket
from collections.abc import Iterator

import httpx
import pytest
import redis as redis_lib
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import select

from pytake import channels as adapters
from pytake import db, redisio
from pytake.auth.sessions import Identity
from pytake.channels.whatsapp.adapter import WhatsAppAdapter
from pytake.channels.whatsapp.graph import GraphClient
from pytake.jobs import limits, runner
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    Membership,
    Message,
    MessageTemplate,
    Organization,
    Role,
    User,
    utcnow,
)
from pytake.realtime import presence
from pytake.sandbox import payloads as p
from pytake.sandbox.graph import GraphSimulator
from pytake.services import accounts, channels
from pytake.services.channels import directory
from pytake.settings import get_settings
from pytake.web import routes

GRAPH_URL = "http://graph.simulator"
PNID, WABA, DISPLAY = "110022334455667", "880011223344556", "15550001111"
TOKEN, SECRET, VERIFY = "EAAtoken", "app-secret-1", "verify-token-1"
ANA = "447700900123"


@dataclasses.dataclass
class WhatsApp:
    sim: GraphSimulator
    http: httpx.AsyncClient  # talks to PyTake's routes
    organization_id: int
    channel_id: int

    async def post(self, payload: dict | bytes, *, secret: str = SECRET, **kw) -> httpx.Response:
        async with asyncio.timeout(30):  # in-process transports ignore httpx's timeouts
            return await self.sim.post_webhook(
                "http://pytake.test/webhooks/whatsapp", payload, secret, client=self.http, **kw
            )

    async def send(self, *messages: dict, contacts: list | None = None) -> httpx.Response:
        contacts = [p.profile(ANA, "Ana Silva")] if contacts is None else contacts
        value = p.messages_value(PNID, DISPLAY, list(messages), contacts)
        return await self.post(p.envelope(p.entry(WABA, p.change(value))))

    async def statuses(self, *statuses: dict) -> httpx.Response:
        value = p.statuses_value(PNID, DISPLAY, list(statuses))
        return await self.post(p.envelope(p.entry(WABA, p.change(value))))

    async def drain(self, rounds: int = 20) -> None:
        """Run every due job (webhooks, then the media they schedule) until none is left."""
        for _ in range(rounds):
            did = 0
            for job in runner.JOBS.values():
                now = utcnow()
                with db.session() as s:
                    ids = job.queue.due(s, 500, now, now)
                for start in range(0, len(ids), job.batch):  # in batches, as the runners do
                    await runner.handle_many(job, ids[start : start + job.batch])
                did += len(ids)
            if not did:
                return
        raise AssertionError("jobs kept coming")


def _forget_rate_limits() -> None:
    """Ids restart in every test: windows of an earlier test's channel must not count."""
    limits._local = limits.LocalLimiter()
    url = get_settings().redis_url
    if url:
        client = redis_lib.Redis.from_url(url)
        keys = list(client.scan_iter(f"{limits.PREFIX}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
async def nobody_online():
    """Presence outlives a test (a process dictionary, or Redis): start with everyone away."""
    presence._local.clear()
    client = redisio.client()
    if client is not None:
        await client.delete(*[f"{presence.PREFIX}{org}" for org in range(1, 10)])


def rows(model, *where):
    with db.session() as s:
        return list(s.exec(select(model).where(*where).order_by(model.id)))


@pytest.fixture
async def whatsapp(settings_env, tmp_path):
    settings_env(graph_api_url=GRAPH_URL, media_dir=str(tmp_path / "media"))
    sim = GraphSimulator(GRAPH_URL)
    sim.add_number(PNID, WABA, DISPLAY, TOKEN, SECRET)
    graph_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app))
    adapters.register(WhatsAppAdapter(GraphClient(graph_http)))
    with db.session() as s:
        org, _owner = accounts.setup(
            s, organization="Acme", name="Owner", email="o@acme.test", password="correct horse 1"
        )
        channel = channels.add_whatsapp(
            s,
            organization_id=org.id,
            phone_number_id=PNID,
            waba_id=WABA,
            display_number="+1 555 000 1111",
            access_token=TOKEN,
            app_secret=SECRET,
            verify_token=VERIFY,
        )
    directory.invalidate()
    _forget_rate_limits()
    transport = httpx.ASGITransport(app=routes.build())
    async with httpx.AsyncClient(transport=transport, base_url="http://pytake.test") as http:
        yield WhatsApp(sim, http, org.id, channel.id)
    await graph_http.aclose()
    adapters.register(WhatsAppAdapter())
    directory.invalidate()


@pytest.fixture
def world():
    """Two organizations; in the first, conversations of two agents and one unassigned."""
    now = utcnow()
    with db.session() as s:
        acme, other = Organization(name="Acme", slug="acme"), Organization(name="Other", slug="o")
        ana, bia = User(email="ana@a.co", name="Ana"), User(email="bia@a.co", name="Bia")
        s.add_all([acme, other, ana, bia])
        s.flush()
        ids = {"acme": acme.id, "other": other.id, "ana": ana.id, "bia": bia.id}
        s.add_all(
            Membership(user_id=u, organization_id=acme.id, role="agent") for u in (ana.id, bia.id)
        )
        for org_id, label in ((acme.id, "acme"), (other.id, "other")):
            channel = Channel(
                organization_id=org_id,
                kind="whatsapp",
                name=f"{label} main",
                external_id=f"pn-{label}",
            )
            s.add(channel)
            s.flush()
            for n, assignee in enumerate((ana.id, bia.id, None)):
                contact = Contact(
                    organization_id=org_id,
                    wa_id=f"55119{org_id}{n:04d}",
                    name=f"{label} customer {n}",
                )
                s.add(contact)
                s.flush()
                conversation = Conversation(
                    organization_id=org_id,
                    channel_id=channel.id,
                    contact_id=contact.id,
                    assignee_id=assignee if org_id == acme.id else None,
                    last_activity_at=now - dt.timedelta(minutes=n),
                    window_expires_at=now + dt.timedelta(hours=1 - n),
                )
                s.add(conversation)
                s.flush()
                s.add(
                    Message(
                        organization_id=org_id,
                        conversation_id=conversation.id,
                        channel_id=channel.id,
                        direction="in",
                        type="text",
                        content={"body": "oi"},
                        external_id=f"wamid.{label}{n}",
                    )
                )
        s.add(
            MessageTemplate(
                organization_id=other.id,
                account_id="waba",
                name="hidden",
                language="en_US",
                category="UTILITY",
                status="APPROVED",
            )
        )
    return ids


def who(ids, user: str, role: Role, visibility: str = "organization") -> Identity:
    return Identity(ids[user], ids["acme"], role, "sid", user, f"{user}@a.co", None, visibility)


@pytest.fixture
def owner_of(whatsapp) -> Identity:
    """The owner of the ``whatsapp`` fixture's organization."""
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "o@acme.test")).one()
    return Identity(user.id, whatsapp.organization_id, Role.OWNER, "sid", "Owner", user.email, None)


SMTP_USER, SMTP_PASSWORD = "pytake", "smtp-password-never-shown"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535 itself


@pytest.fixture
def smtp(settings_env) -> Iterator[Mailbox]:
    """A local SMTP server with login, and PyTake's settings pointing at it."""
    mailbox, port = Mailbox(), free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    settings_env(
        smtp_host="127.0.0.1",
        smtp_port=str(port),
        smtp_from="PyTake <inbox@acme.test>",
        smtp_security="none",
        smtp_username=SMTP_USER,
        smtp_password=SMTP_PASSWORD,
        smtp_timeout="5",
        public_url="https://inbox.example.com",
    )
    yield mailbox
    controller.stop()
