"""An admin builds a greeting + menu + data collection + hand-off flow in the builder, plays
it in test mode, publishes it, and a customer on the sandbox phone goes through it and
lands in the sales team's queue (Atacado), where the agent sees what the bot collected."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OWNER, screenshot, sign_in, wait_path

pytestmark = pytest.mark.e2e

GREETING = "Olá {{contact.first_name}}! Aqui é a Loja Aurora."
QUESTION = "Qual é o seu e-mail?"
FAREWELL = "Obrigado! Um vendedor já vai falar com você."


def _dialog(page):
    return page.get_by_role("dialog")


def _add_step(page, kind: str, **fields: str) -> None:
    page.get_by_test_id("step-add").click()
    page.get_by_test_id(f"step-add-{kind}").click()
    dialog = _dialog(page)
    expect(dialog).to_be_visible()
    for name, value in fields.items():
        control = dialog.locator(f"[name={name}]")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    dialog.get_by_test_id("step-save").click()
    expect(dialog).to_be_hidden()


def test_a_flow_built_in_the_builder_greets_asks_collects_and_hands_over(
    server, organization, new_page
):
    result = server.cli("team", "add", "--org", OWNER["org"], "--name", "Atacado")
    assert result.returncode == 0 or "exists" in result.stderr, result.stderr
    admin = new_page(width=1440, height=1000)
    sign_in(admin, organization["email"], organization["password"])
    admin.goto("/flows")
    admin.get_by_test_id("flow-new-name").fill("Atendimento")
    admin.get_by_test_id("flow-create").click()
    admin.wait_for_url(re.compile(r".*/flows/\d+/?$"))
    expect(admin.get_by_test_id("step-add")).to_be_visible()

    _add_step(admin, "message", text=GREETING)
    _add_step(
        admin, "menu", text="Como podemos ajudar?", options="Vendas\nSuporte", attribute="assunto"
    )
    _add_step(
        admin,
        "input",
        text=QUESTION,
        check="An e-mail address",
        attribute="email",
        retry="Não parece um e-mail. Pode conferir?",
    )
    _add_step(admin, "handoff", team_id="Atacado", text=FAREWELL)
    cards = admin.get_by_test_id("step-card")
    expect(cards).to_have_count(4)
    # "Suporte" ends the bot (the conversation waits in the general queue).
    branch = cards.nth(1).get_by_test_id("step-branch").filter(has_text="Suporte")
    branch.get_by_role("combobox").click()
    admin.get_by_role("option", name="End: the team's queue").click()
    expect(branch.get_by_role("combobox")).to_contain_text("End")

    # Test mode: the admin plays the customer; nothing is sent.
    admin.get_by_test_id("flow-test").click()
    chat = admin.get_by_test_id("test-chat")
    expect(chat).to_contain_text("Aqui é a Loja Aurora")
    admin.get_by_test_id("test-choice").filter(has_text="Vendas").click()
    expect(chat).to_contain_text(QUESTION)
    admin.get_by_test_id("test-input").fill("ana arroba exemplo")
    admin.get_by_test_id("test-input").press("Enter")
    expect(chat).to_contain_text("Não parece um e-mail")
    admin.get_by_test_id("test-input").fill("Ana@Exemplo.com.br")
    admin.get_by_test_id("test-input").press("Enter")
    expect(chat).to_contain_text("email = ana@exemplo.com.br")
    expect(chat).to_contain_text(FAREWELL)
    expect(chat).to_contain_text("Hands the conversation to a person")
    screenshot(admin, "flow-builder-en")

    # Start it on a keyword (other tests' customers never say it), publish, switch it on.
    admin.locator("select[name=trigger]").select_option("keyword")
    admin.get_by_test_id("flow-trigger-value").fill("quero comprar, comprar")
    admin.get_by_test_id("flow-save").click()
    expect(admin.get_by_text("Saved.")).to_be_visible()
    admin.get_by_test_id("flow-publish").click()
    expect(admin.get_by_text("Published as version 1.")).to_be_visible()
    admin.get_by_test_id("flow-active").click()
    admin.get_by_test_id("flow-save").click()
    admin.goto("/flows")
    row = admin.get_by_test_id("flow-row").filter(has_text="Atendimento")
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("On")

    if server.env.get("PYTAKE_WORKERS", "1") != "1":
        return  # the sandbox phone needs a single web worker (the runtime is covered there)
    admin.goto("/settings/channels")
    admin.get_by_test_id("sandbox-add").click()
    card = admin.get_by_test_id("channel-card").filter(has_text="Sandbox").last
    card.get_by_test_id("open-phone").click()
    wait_path(admin, "/sandbox/phone")
    phone = admin
    phone.get_by_test_id("new-customer-name").fill("Renata Lima")
    phone.get_by_test_id("new-customer-phone").fill("+55 31 98888 4321")
    phone.get_by_test_id("new-customer").click()
    phone.get_by_test_id("phone-input").fill("Quero comprar!")
    phone.get_by_test_id("phone-send").click()
    received = phone.get_by_test_id("phone-received")
    expect(received.filter(has_text="Olá Renata! Aqui é a Loja Aurora.")).to_have_count(1)
    menu = received.filter(has_text="Como podemos ajudar?").last
    menu.get_by_test_id("phone-tap").filter(has_text="Vendas").click()
    expect(received.last).to_contain_text(QUESTION)
    phone.get_by_test_id("phone-input").fill("renata@exemplo.com")
    phone.get_by_test_id("phone-send").click()
    expect(received.last).to_contain_text(FAREWELL)
    screenshot(phone, "flow-phone-en")

    agent = new_page(width=1360, height=900)
    sign_in(agent, OWNER["email"], OWNER["password"])
    agent.get_by_test_id("conversation-row").filter(has_text="Renata Lima").click()
    expect(agent.get_by_test_id("team-menu")).to_contain_text("Atacado")
    expect(agent.get_by_test_id("bubble-in").last).to_contain_text("renata@exemplo.com")
    agent.get_by_test_id("contact-panel-toggle").click()
    answers = agent.get_by_test_id("bot-answer")
    expect(answers.filter(has_text="email")).to_contain_text("renata@exemplo.com")
    expect(answers.filter(has_text="assunto")).to_contain_text("Vendas")
    screenshot(agent, "flow-handover-en")


def test_the_builder_in_portuguese(server, organization, new_page):
    # A member who never chose a language: the browser's (the owner's may be set by now).
    server.add_user("tais@acme.test", "tais secret 1234", role="admin")
    page = new_page("pt-BR", width=1440, height=900)
    sign_in(page, "tais@acme.test", "tais secret 1234")
    page.goto("/flows")
    expect(page.get_by_text("Fluxos de chatbot").first).to_be_visible()
    page.get_by_test_id("flow-row").filter(has_text="Atendimento").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/flows/\d+/?$"))
    expect(page.get_by_test_id("step-card")).to_have_count(4)
    expect(page.get_by_text("Perguntar com opções")).to_be_visible()
    page.get_by_test_id("step-edit").nth(2).click()
    expect(_dialog(page)).to_contain_text("A resposta deve ser")
    screenshot(page, "flow-step-dialog-pt-BR")
    page.keyboard.press("Escape")
    page.get_by_test_id("flow-test").click()
    expect(page.get_by_test_id("test-chat")).to_contain_text("Loja Aurora")
    screenshot(page, "flow-builder-pt-BR")
