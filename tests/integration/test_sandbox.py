"""Sandbox numbers end to end in one process: the simulator mounted in PyTake's routes, the
customer's side posting signed webhooks, agents' sends going through the outbox and the Graph
client to it, and its statuses and template reviews coming back as webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import subprocess
import sys

import httpx
import pytest
from sqlmodel import select

from pytake import channels as adapters
from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels.whatsapp.adapter import WhatsAppAdapter
from pytake.channels.whatsapp.graph import GraphClient
from pytake.jobs import outbox
from pytake.jobs import templates as template_jobs
from pytake.models import Attachment, Channel, Conversation, Message, MessageTemplate, Role, User
from pytake.sandbox import live, screen, seed
from pytake.sandbox import payloads as p
from pytake.services import explain, outbound, templates
from pytake.services import sandbox as sandbox_numbers
from pytake.web import routes
from tests.integration.conftest import rows

CUSTOMER = "5511987654321"


@dataclasses.dataclass
class Phone:
    sandbox: live.Sandbox
    number: live.Number
    owner: Identity
    whatsapp: object

    def says(self, build, *args, **kwargs) -> dict:
        message = build(*args, sender=CUSTOMER, **kwargs)
        self.sandbox.customer_sends(self.number, CUSTOMER, "Ana Souza", message)
        return message

    async def settle(self) -> None:
        """Until the simulator has nothing to post and PyTake nothing to process."""
        for _ in range(30):
            while self.sandbox._tasks:
                await asyncio.gather(*list(self.sandbox._tasks))
            await self.whatsapp.drain()
            if not self.sandbox._tasks:
                return
        raise AssertionError("the sandbox kept talking")

    def conversation_id(self) -> int:
        (conversation,) = rows(Conversation, Conversation.channel_id == self.channel_id())
        return conversation.id

    def channel_id(self) -> int:
        (channel,) = rows(Channel, Channel.external_id == self.number.phone_number_id)
        return channel.id

    def agent_sends(self, kind: str = "text", content: dict | None = None) -> int:
        with db.session(write=True) as s:
            accepted = outbound.send(
                s,
                self.owner,
                self.conversation_id(),
                kind,
                content or {"body": "Oi Ana, como posso ajudar?"},
                client_key=secrets.token_hex(8),
            )
        return accepted.message_id

    def screen(self) -> list[dict]:
        def template(name: str, language: str) -> dict | None:
            return self.sandbox.sim.find_template(self.number.waba_id, name, language)

        return screen.lines(self.sandbox.conversation(self.number, CUSTOMER), template)


def _owner(organization_id: int) -> Identity:
    (user,) = rows(User, User.email == "o@acme.test")
    return Identity(user.id, organization_id, Role.OWNER, "sid", user.name, user.email, None)


@pytest.fixture
async def phone(whatsapp, monkeypatch):
    monkeypatch.setattr(live, "STATUS_GAP_SECONDS", 0)
    monkeypatch.setattr(live, "REVIEW_SECONDS", 0)
    sandbox = live.Sandbox("http://pytake.test", http=whatsapp.http)
    monkeypatch.setattr(live, "_current", sandbox)
    # PyTake reaches the sandbox's Graph API through its own routes, as over the network.
    adapters.register(WhatsAppAdapter(GraphClient(whatsapp.http)))
    owner = _owner(whatsapp.organization_id)
    with db.session(write=True) as s:
        channel = sandbox_numbers.add(s, owner, sandbox.api_url)
        number_id = channel.external_id
    await sandbox_numbers.ready(refresh=True)
    return Phone(sandbox, sandbox.numbers[number_id], owner, whatsapp)


def _message(message_id: int) -> Message:
    with db.session() as s:
        return s.get(Message, message_id)


async def test_a_sandbox_number_is_an_ordinary_channel_with_its_own_api_address(phone):
    with db.session() as s:
        channel = s.exec(select(Channel).where(Channel.id == phone.channel_id())).one()
    assert channel.config["api_url"] == "http://pytake.test/sandbox/graph"
    assert channel.display_number.startswith("+1 555 01")
    assert "SANDBOX" not in (channel.secrets_encrypted or "")  # encrypted like any other
    report = await phone.whatsapp.http.get(
        f"/sandbox/graph/v26.0/{phone.number.phone_number_id}",
        headers={"Authorization": f"Bearer {phone.number.access_token}"},
    )
    assert report.json()["display_phone_number"] == phone.number.display_number
    refused = await phone.whatsapp.http.get(
        f"/sandbox/graph/v26.0/{phone.number.phone_number_id}",
        headers={"Authorization": "Bearer stolen"},
    )
    assert refused.status_code == 401


async def test_customer_and_agent_talk_and_the_ticks_go_to_read(phone):
    phone.says(p.text, "Olá, meu pedido não chegou")
    await phone.settle()
    (inbound,) = rows(Message, Message.direction == "in")
    assert inbound.content["body"] == "Olá, meu pedido não chegou"
    reply_id = phone.agent_sends()
    await phone.settle()
    assert _message(reply_id).status == "delivered"
    shown = phone.screen()
    assert [(line["mine"], line["text"]) for line in shown] == [
        (True, "Olá, meu pedido não chegou"),
        (False, "Oi Ana, como posso ajudar?"),
    ]
    # The customer's own message: taken by PyTake (two grey ticks), not yet read.
    assert shown[1]["status"] == "delivered" and shown[0]["status"] == "delivered"
    phone.says(p.text, "Alguém aí?")
    await phone.settle()
    with db.session(write=True) as s:  # an agent opens the conversation
        receipt = outbound.read_receipt(s, phone.owner, phone.conversation_id())
    assert await outbox.mark_read(*receipt)
    await phone.settle()
    # Marking the latest read covers the earlier ones: both show the blue ticks.
    assert [line["status"] for line in phone.screen() if line["mine"]] == ["read", "read"]
    assert phone.sandbox.read(phone.number, CUSTOMER) == 1
    await phone.settle()
    assert _message(reply_id).status == "read"
    assert phone.sandbox.read(phone.number, CUSTOMER) == 0  # read once


async def test_every_kind_the_phone_sends_reaches_the_inbox(phone):
    first = phone.says(p.text, "Oi")
    photo = phone.sandbox.add_media(b"\xff\xd8\xff\xe0photo", "image/jpeg")
    phone.says(p.image, photo, caption="a foto")
    voice = phone.sandbox.add_media(b"OggS voice", "audio/ogg")
    phone.says(p.audio, voice, voice=True, mime_type="audio/ogg")
    phone.says(p.location, -23.55, -46.63, name="Loja Paulista")
    card = {"name": {"formatted_name": "Bia", "first_name": "Bia"}, "phones": [{"phone": "+5521"}]}
    phone.says(p.contacts, [card])
    phone.says(p.text, "Respondendo", context=p.reply_context(first["id"], "15550100"))
    phone.says(p.reaction, first["id"], "👍")
    await phone.settle()
    kinds = [m.type for m in rows(Message, Message.direction == "in")]
    assert kinds == ["text", "image", "audio", "location", "contacts", "text", "reaction"]
    files = rows(Attachment)
    assert sorted(a.mime_type for a in files) == ["audio/ogg", "image/jpeg"]
    assert all(a.sha256 for a in files)  # downloaded from the sandbox through the Graph API
    answer = rows(Message, Message.direction == "in")[-2]
    assert answer.reply_to_external_id == first["id"]
    (greeting,) = rows(Message, Message.external_id == first["id"])
    assert greeting.reactions["contact"]["emoji"] == "👍"  # on the message it reacts to


async def test_buttons_and_list_rows_are_tapped_as_whatsapp_replies(phone):
    phone.says(p.text, "menu")
    await phone.settle()
    buttons = {
        "kind": "button",
        "body": "Resolvido?",
        "buttons": [{"id": "yes", "title": "Sim"}, {"id": "no", "title": "Não"}],
    }
    phone.agent_sends("interactive", buttons)
    await phone.settle()
    offered = phone.screen()[-1]
    assert [(b["tap"], b["id"], b["title"]) for b in offered["buttons"]] == [
        ("reply", "yes", "Sim"),
        ("reply", "no", "Não"),
    ]
    phone.says(p.button_reply, "yes", "Sim", context=p.reply_context(offered["wamid"], "1"))
    await phone.settle()
    tapped = rows(Message, Message.direction == "in")[-1]
    assert (tapped.type, tapped.content["id"]) == ("button_reply", "yes")


async def test_an_injected_131047_fails_the_send_with_its_explanation(phone):
    phone.says(p.text, "oi")
    await phone.settle()
    phone.sandbox.fail_next(phone.number, 131047)
    failed = phone.agent_sends()
    await phone.settle()
    message = _message(failed)
    assert message.status == "failed"
    assert message.error["errors"][0]["code"] == 131047
    assert "24 hours" in explain.explain(message.status, message.error, "en")["reason"]
    assert phone.screen()[-1]["status"] == "failed"
    with pytest.raises(AccessError, match="window_closed"):
        phone.agent_sends()  # PyTake believes Meta: the window is closed until the customer writes
    phone.says(p.text, "voltei")
    await phone.settle()
    later = phone.agent_sends()  # only one failure was armed
    await phone.settle()
    assert _message(later).status == "delivered"


async def test_an_expired_token_is_refused_on_the_call(phone):
    phone.says(p.text, "oi")
    await phone.settle()
    phone.sandbox.fail_next(phone.number, 190)
    failed = phone.agent_sends()
    await phone.settle()
    assert _message(failed).status == "failed"
    assert [line["mine"] for line in phone.screen()] == [True]  # nothing reached the phone


async def test_duplicated_and_reordered_webhooks_change_nothing(phone):
    phone.sandbox.scenario(phone.number).duplicate_webhooks = True
    phone.sandbox.scenario(phone.number).statuses_out_of_order = True
    phone.says(p.text, "twice")
    await phone.settle()
    assert len(rows(Message, Message.direction == "in")) == 1
    reply_id = phone.agent_sends()
    await phone.settle()
    assert _message(reply_id).status == "delivered"  # "sent" after "delivered" is ignored


async def test_a_template_is_approved_by_webhook_sent_shown_and_its_quick_reply_tapped(phone):
    draft = {
        "name": "pedido_enviado",
        "category": "utility",
        "language": "pt_BR",
        "body": "Olá {{1}}, seu pedido saiu para entrega.",
        "examples": {"1": "Ana"},
        "buttons": [{"type": "quick_reply", "text": "Obrigada!"}],
    }
    template_id = await template_jobs.submit(phone.owner, phone.channel_id(), draft)
    await phone.settle()  # Meta's review, then its status webhook
    with db.session() as s:
        assert s.get(MessageTemplate, template_id).status == "APPROVED"
    phone.says(p.text, "oi")
    await phone.settle()
    with db.session() as s:
        content = templates.content_for(
            s, phone.owner, phone.conversation_id(), template_id, {"body:1": "Ana"}
        )
    phone.agent_sends("template", content)
    await phone.settle()
    shown = phone.screen()[-1]
    assert (shown["kind"], shown["text"]) == ("template", "Olá Ana, seu pedido saiu para entrega.")
    (button,) = shown["buttons"]
    assert (button["tap"], button["title"]) == ("template", "Obrigada!")
    phone.says(p.template_button, button["id"], button["title"])
    await phone.settle()
    tapped = rows(Message, Message.direction == "in")[-1]
    assert (tapped.type, tapped.content["text"]) == ("template_button", "Obrigada!")


async def test_another_organization_cannot_reach_the_number(phone):
    stranger = dataclasses.replace(phone.owner, organization_id=phone.owner.organization_id + 1)
    with pytest.raises(AccessError):
        sandbox_numbers.number_of(stranger, phone.sandbox, phone.number.phone_number_id)
    agent = dataclasses.replace(phone.owner, role=Role.AGENT)
    with pytest.raises(AccessError):
        sandbox_numbers.number_of(agent, phone.sandbox, phone.number.phone_number_id)


async def test_the_sandbox_is_refused_when_disabled_or_with_several_workers(whatsapp, settings_env):
    owner = _owner(whatsapp.organization_id)
    settings_env(sandbox="false")
    transport = httpx.ASGITransport(app=routes.build())
    async with httpx.AsyncClient(transport=transport, base_url="http://pytake.test") as http:
        assert (await http.get("/sandbox/graph/v26.0/1")).status_code == 404
    with db.session(write=True) as s, pytest.raises(AccessError, match="sandbox.disabled"):
        sandbox_numbers.add(s, owner, "http://pytake.test/sandbox/graph")
    settings_env(sandbox="true", workers="2", redis_url="redis://127.0.0.1:6379/15")
    with db.session(write=True) as s, pytest.raises(AccessError, match="sandbox.one_worker"):
        sandbox_numbers.add(s, owner, "http://pytake.test/sandbox/graph")


async def test_seed_fills_the_inbox_through_the_pipeline(phone):
    seeded = seed.seed(phone.owner.organization_id, "seeded agents 1")
    assert len(seeded.agents) == 3 and seeded.password == "seeded agents 1"
    await sandbox_numbers.ready(refresh=True)  # the server learns the number, as it would
    await phone.settle()
    (channel,) = rows(Channel, Channel.display_number == seeded.number)
    conversations = rows(Conversation, Conversation.channel_id == channel.id)
    assert len(conversations) == seeded.conversations == 5
    assert sum(c.assignee_id is not None for c in conversations) == 3
    replies = rows(Message, Message.channel_id == channel.id, Message.direction == "out")
    assert len(replies) == 3 and {m.status for m in replies} == {"delivered"}
    number = phone.sandbox.numbers[channel.external_id]
    chat = phone.sandbox.conversation(number, "5511987654321")
    assert [e.message["text"]["body"] for e in chat] == [
        "Olá Ana! Vou verificar com a transportadora agora mesmo."
    ]


@pytest.mark.parametrize(("enabled", "pages"), [("false", []), ("true", ["sandbox/phone"])])
def test_the_phone_page_exists_only_with_the_sandbox_on(enabled, pages):
    """Pages are registered when the app is built: a fresh interpreter with the setting."""
    code = (
        "import pytake.pytake as m; print([k for k in m.app._unevaluated_pages if 'sandbox' in k])"
    )
    env = {**os.environ, "PYTAKE_SANDBOX": enabled}
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().splitlines()[-1] == repr(pages)
