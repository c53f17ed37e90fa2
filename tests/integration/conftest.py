"""A connected WhatsApp number, the Meta simulator standing in for the Graph API, and a way
to run the pipeline's jobs to completion."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
import redis as redis_lib
from sqlmodel import select

from pytake import channels as adapters
from pytake import db
from pytake.channels.whatsapp.adapter import WhatsAppAdapter
from pytake.channels.whatsapp.graph import GraphClient
from pytake.jobs import limits, runner
from pytake.models import utcnow
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
                for row_id in ids:
                    await runner.handle(job, row_id)
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
