"""The two-window demo: an admin adds a sandbox number, plays a customer on the phone page,
and an agent answers from the inbox; ticks, taps and an injected Meta error show on both
sides. Everything goes through the real pipeline: signed webhooks, outbox, Graph client."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import OWNER, png, screenshot, send_buttons, sign_in, wait_path

pytestmark = pytest.mark.e2e


def _phone_sends(phone, text: str) -> None:
    phone.get_by_test_id("phone-input").fill(text)
    phone.get_by_test_id("phone-send").click()
    expect(phone.get_by_test_id("phone-sent").last).to_contain_text(text)


def _agent_sends(page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("bubble-out").last).to_contain_text(text)


def test_customer_phone_and_agent_inbox_talk_through_a_sandbox_number(
    server, organization, new_page
):
    admin = new_page(width=1360, height=900)
    sign_in(admin, organization["email"], organization["password"])
    admin.goto("/settings/channels")
    expect(admin.get_by_test_id("webhook-url")).to_be_visible()
    engine = sa.create_engine(server.env["PYTAKE_DATABASE_URL"])
    with engine.connect() as db:
        channels = db.execute(  # this organization's: other tests add organizations too
            sa.text(
                "SELECT count(*) FROM channel c JOIN organization o ON o.id = c.organization_id"
                " WHERE o.name = :name"
            ),
            {"name": organization["org"]},
        ).scalar_one()
    engine.dispose()
    expect(admin.get_by_test_id("channel-card")).to_have_count(channels)  # the list loaded
    sandboxes = admin.get_by_test_id("channel-card").filter(has_text="Sandbox")
    before = sandboxes.count()  # the first-run page may have added one already
    admin.get_by_test_id("sandbox-add").click()
    if server.env.get("PYTAKE_WORKERS", "1") != "1":
        # Several workers would each hold their own simulated WhatsApp: refused, with why.
        expect(admin.get_by_text("single web worker")).to_be_visible()
        return
    expect(sandboxes).to_have_count(before + 1)
    card = sandboxes.last
    expect(card.get_by_test_id("open-phone")).to_be_visible()
    card.get_by_test_id("channel-test").click()  # the simulator answers like Meta
    expect(card.locator(".lucide-circle-x")).to_have_count(0)
    expect(card.get_by_test_id("connection-check").first).to_be_visible()
    card.get_by_test_id("open-phone").click()
    wait_path(admin, "/sandbox/phone")
    phone = admin

    phone.get_by_test_id("new-customer-name").fill("Luiza Prado")
    phone.get_by_test_id("new-customer-phone").fill("+55 11 97777 1234")
    phone.get_by_test_id("new-customer").click()
    _phone_sends(phone, "Oi! Meu pedido não chegou 😟")

    agent = new_page(width=1100, height=900)
    sign_in(agent, OWNER["email"], OWNER["password"])
    agent.get_by_test_id("conversation-row").filter(has_text="Luiza Prado").click()
    expect(agent.get_by_test_id("bubble-in").last).to_contain_text("Meu pedido não chegou")
    _agent_sends(agent, "Olá Luiza! Vou verificar agora.")
    expect(phone.get_by_test_id("phone-received").last).to_contain_text("Vou verificar agora")
    # The phone shows it, so the customer has read it: the agent's ticks turn blue.
    expect(agent.get_by_test_id("bubble-out").last.get_by_test_id("tick-read")).to_be_visible()

    photo = {"name": "pedido.png", "mimeType": "image/png", "buffer": png()}
    phone.locator("#sandbox-phone-upload input[type=file]").set_input_files(files=[photo])
    expect(phone.get_by_test_id("phone-sent").last.get_by_test_id("phone-picture")).to_be_visible()
    expect(agent.get_by_test_id("bubble-in").last.locator("img")).to_be_visible()

    # Meta answers the next send with 131047: the agent's bubble explains it.
    phone.get_by_test_id("fail-next").click()
    _agent_sends(agent, "Conseguiu ver o rastreio?")
    failed = agent.get_by_test_id("bubble-out").last
    expect(failed.get_by_test_id("tick-failed")).to_be_visible()
    expect(failed.get_by_test_id("send-error")).to_contain_text("24 hours")
    expect(phone.get_by_test_id("phone-received").last).to_contain_text("Not delivered")

    _phone_sends(phone, "Voltei!")
    expect(agent.get_by_test_id("bubble-in").last).to_contain_text("Voltei!")
    _agent_sends(agent, "Que bom! Seu pedido sai hoje.")
    expect(phone.get_by_test_id("phone-received").last).to_contain_text("Seu pedido sai hoje")
    # Reply buttons: the customer taps one, the agent sees the answer.
    send_buttons(agent, "Deu tudo certo com a entrega?", "Sim", "Não")
    offered = phone.get_by_test_id("phone-received").last
    expect(offered).to_contain_text("Deu tudo certo com a entrega?")
    offered.get_by_test_id("phone-tap").filter(has_text="Sim").click()
    expect(agent.get_by_test_id("bubble-in").last).to_contain_text("Sim")

    # A place, a contact card and a voice note, each seen by the agent as it arrives.
    phone.fill("input[name=latitude]", "-23.5614")
    phone.fill("input[name=longitude]", "-46.6559")
    phone.fill("input[name=place]", "Loja Paulista")
    phone.locator("input[name=place]").press("Enter")
    expect(agent.get_by_test_id("bubble-in").last).to_contain_text("Loja Paulista")
    phone.fill("input[name=contact_name]", "Bia Souza")
    phone.fill("input[name=contact_phone]", "+55 21 99876 5432")
    phone.locator("input[name=contact_phone]").press("Enter")
    expect(agent.get_by_test_id("bubble-in").last).to_contain_text("Bia Souza")
    voice = {"name": "nota.ogg", "mimeType": "audio/ogg", "buffer": b"OggS\x00voice"}
    phone.locator("#sandbox-voice-upload input[type=file]").set_input_files(files=[voice])
    expect(phone.get_by_test_id("phone-sent").last).to_contain_text("Voice note")
    expect(agent.get_by_test_id("bubble-in").last.locator("audio")).to_have_count(1)

    label = {"name": "etiqueta.png", "mimeType": "image/png", "buffer": png(48, 48, b"%c\xeb")}
    agent.locator("#composer-upload input[type=file]").set_input_files(files=[label])
    received = phone.get_by_test_id("phone-received").last
    expect(received.get_by_test_id("phone-picture")).to_be_visible()
    screenshot(phone, "sandbox-phone-en")
    screenshot(agent, "sandbox-agent-en")

    # The same phone in Portuguese, for an admin who chose no language.
    server.add_user("rui@acme.test", "rui secret 123", role="admin")
    portuguese = new_page("pt-BR", width=1360, height=900)
    sign_in(portuguese, "rui@acme.test", "rui secret 123")
    portuguese.goto("/sandbox/phone")
    expect(portuguese.get_by_text("O que a Meta faz de errado em seguida")).to_be_visible()
    portuguese.get_by_test_id("phone").get_by_text("Voltei!").wait_for()
    screenshot(portuguese, "sandbox-phone-pt-BR")
