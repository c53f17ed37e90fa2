"""An admin configures the organization from the settings pages: organization settings, a
number (with its connection tested against the simulator), a team serving it, a label, an
invitation, and finds each change in the audit log. Secrets never reach the browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OWNER, screenshot, sign_in, wait_path

pytestmark = pytest.mark.e2e
PNID, WABA = "170011223344556", "770011223344556"
DISPLAY, TOKEN, SECRET = "15550004444", "EAAsettings-token-value", "settings-app-secret-value"
VERIFY = "settings-verify-token"


def _frames(page) -> list[str]:
    """Everything the server sends the page over its websocket, to search for secrets."""
    received: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda frame: received.append(str(frame))),
    )
    return received


def test_admin_configures_the_organization_from_the_settings_pages(
    server, graph, organization, new_page
):
    graph.add_number(PNID, WABA, DISPLAY, TOKEN, SECRET)
    server.add_user("tiago@acme.test", "tiago secret 12")
    page = new_page()
    received = _frames(page)
    sign_in(page, organization["email"], organization["password"])

    page.get_by_test_id("nav-settings").click()
    wait_path(page, "/settings")
    # The form is drawn again once the settings arrive: typing before that would be lost.
    expect(page.get_by_test_id("org-name")).not_to_have_value("")
    page.get_by_test_id("org-timezone").fill("America/Sao_Paulo")
    page.get_by_test_id("org-retention").fill("7")
    page.get_by_test_id("org-save").click()
    expect(page.get_by_role("alert")).to_contain_text("from 30 to 3650 days")
    page.get_by_test_id("org-retention").fill("365")
    page.get_by_text("Their own and their teams'", exact=True).click()
    page.get_by_test_id("org-save").click()
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("org-timezone")).to_have_value("America/Sao_Paulo")
    expect(page.get_by_test_id("org-retention")).to_have_value("365")
    screenshot(page, "settings-organization-en")

    page.get_by_test_id("settings-tab-channels").click()
    wait_path(page, "/settings/channels")
    expect(page.get_by_test_id("webhook-url")).to_have_value(server.base_url + "/webhooks/whatsapp")
    page.get_by_test_id("channel-add").click()
    page.get_by_test_id("channel-name").fill("Vendas")
    page.get_by_test_id("channel-display-number").fill("+" + DISPLAY)
    page.get_by_test_id("channel-phone-number-id").fill(PNID)
    page.get_by_test_id("channel-waba-id").fill(WABA)
    page.get_by_test_id("channel-access-token").fill(TOKEN)
    page.get_by_test_id("channel-app-secret").fill(SECRET)
    page.get_by_test_id("channel-verify-token").fill(VERIFY)
    page.get_by_test_id("channel-save").click()
    card = page.get_by_test_id("channel-card").filter(has_text="Vendas")
    expect(card.get_by_test_id("channel-health")).to_have_text("Waiting for webhooks")
    card.get_by_test_id("channel-test").click()
    expect(card.get_by_test_id("connection-result")).to_be_visible()
    expect(card.get_by_test_id("connection-check").first).to_be_visible()
    expect(card.locator(".lucide-circle-x")).to_have_count(0)
    card.get_by_test_id("channel-reveal").click()
    expect(card.get_by_test_id("verify-token")).to_have_value(VERIFY)
    screenshot(page, "settings-channels-en")

    page.get_by_test_id("settings-tab-teams").click()
    wait_path(page, "/settings/teams")
    page.get_by_test_id("team-add").click()
    page.get_by_test_id("team-name").fill("Comercial")
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Tiago", exact=True).click()
    dialog.get_by_text("Vendas", exact=True).click()
    expect(page.get_by_test_id("team-policy-hint")).to_have_count(0)  # off: nothing to explain
    page.get_by_test_id("team-policy").click()
    page.get_by_role("option", name="Round robin").click()
    expect(page.get_by_test_id("team-policy-hint")).to_be_visible()
    page.get_by_test_id("team-save").click()
    team = page.get_by_test_id("team-card").filter(has_text="Comercial")
    expect(team.get_by_text("Tiago")).to_be_visible()
    expect(team.get_by_text("Vendas")).to_be_visible()
    expect(team.get_by_test_id("team-policy-summary")).to_have_text("Round robin")
    screenshot(page, "settings-teams-en")

    page.get_by_test_id("settings-tab-hours").click()
    wait_path(page, "/settings/hours")
    page.get_by_test_id("hours-row").filter(has_text="Vendas").get_by_test_id("hours-edit").click()
    for day in range(5):
        page.get_by_test_id(f"hours-d{day}_a_from").fill("09:00")
        page.get_by_test_id(f"hours-d{day}_a_to").fill("12:00")
        page.get_by_test_id(f"hours-d{day}_b_from").fill("13:00")
        page.get_by_test_id(f"hours-d{day}_b_to").fill("18:00")
    page.get_by_test_id("hours-d5_a_from").fill("10:00")  # Saturday without a closing time
    page.get_by_test_id("hours-greeting-message").fill("Olá! Em que podemos ajudar?")
    page.get_by_test_id("hours-away-message").fill("Estamos fechados; respondemos às 9h.")
    page.get_by_test_id("hours-save").click()
    expect(page.get_by_role("alert")).to_contain_text("Saturday")
    page.get_by_test_id("hours-d5_a_to").fill("14:00")
    screenshot(page, "settings-hours-dialog-en")
    page.get_by_test_id("hours-save").click()
    row = page.get_by_test_id("hours-row").filter(has_text="Vendas")
    expect(row.get_by_text("Away message")).to_be_visible()
    expect(row.get_by_text("Sat")).to_be_visible()
    screenshot(page, "settings-hours-en")

    page.get_by_test_id("settings-tab-labels").click()
    wait_path(page, "/settings/labels")
    page.get_by_test_id("label-add").click()
    page.get_by_test_id("label-name").fill("Cliente VIP")
    page.get_by_test_id("label-color-purple").click()
    page.get_by_test_id("label-save").click()
    expect(page.get_by_test_id("label-row").filter(has_text="Cliente VIP")).to_be_visible()
    screenshot(page, "settings-labels-en")

    page.get_by_test_id("settings-tab-members").click()
    wait_path(page, "/settings/members")
    page.get_by_test_id("invite-open").click()
    expect(page.get_by_role("dialog")).to_contain_text("Invite someone to the organization")
    expect(page.get_by_role("dialog")).not_to_contain_text("{")  # every placeholder filled
    page.get_by_test_id("invite-email").fill("nova@acme.test")
    page.get_by_test_id("invite-send").click()
    expect(page.get_by_test_id("invite-link")).to_have_value(re.compile(r"/invite/[\w-]{20,}$"))
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("invitation-row").filter(has_text="nova@acme.test")).to_be_visible()
    screenshot(page, "settings-members-invite-en")

    page.get_by_test_id("settings-tab-audit").click()
    wait_path(page, "/settings/audit")
    actions = ("organization.updated", "channel.added", "team.created", "hours.saved")
    for action in (*actions, "user.invited"):
        expect(page.get_by_test_id("audit-row").filter(has_text=action).first).to_be_visible()
    screenshot(page, "settings-audit-en")

    everything = "\n".join(received)
    assert TOKEN not in everything and SECRET not in everything
    assert OWNER["password"] not in everything


def test_settings_pages_in_portuguese(server, organization, new_page):
    server.add_user("helena@acme.test", "helena secret 1", role="admin")  # no language chosen
    page = new_page("pt-BR")
    sign_in(page, "helena@acme.test", "helena secret 1")
    for tab, name in (
        ("", "organization"),
        ("/channels", "channels"),
        ("/members", "members"),
        ("/teams", "teams"),
        ("/labels", "labels"),
        ("/hours", "hours"),
        ("/audit", "audit"),
    ):
        page.goto("/settings" + tab)
        expect(page.get_by_test_id("settings-tab-channels")).to_have_text("Canais")
        screenshot(page, f"settings-{name}-pt-BR")
