"""Notices driven by signed webhooks: a toast on whatever page the agent is on, opening the
conversation; in the background, a count in the title and icon and a desktop notification."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Number, connect_number, screenshot, sign_in

pytestmark = pytest.mark.e2e
PNID, WABA = "174567800000004", "774567800000004"

# Desktop notifications the page shows are recorded, so the test can read them.
RECORD_NOTIFICATIONS = """
window.__shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__shown.push({ title, body: options.body }); }
  close() {}
};
"""


@pytest.fixture(scope="module")
def number(server, graph, organization) -> Number:
    return connect_number(server, graph, PNID, WABA)


def test_a_new_conversation_is_told_on_any_page_and_counted_in_the_background(
    server, organization, number, new_page
):
    server.add_user("nina@acme.test", "nina secret 1234", role="agent")
    page = new_page(width=1280, height=800)
    page.add_init_script(RECORD_NOTIFICATIONS)
    sign_in(page, "nina@acme.test", "nina secret 1234")
    page.goto("/profile")  # a page that shows no conversation
    expect(page.get_by_test_id("page-title")).to_be_visible()

    number.customer_writes("5548991110001", "Otávio Reis", "Bom dia, vocês abrem sábado?")
    toast = page.locator("[data-sonner-toast]").filter(has_text="New conversation: Otávio Reis")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("vocês abrem sábado?")
    screenshot(page, "notice-toast-en")
    toast.get_by_role("button", name="Open").click()
    page.wait_for_url(re.compile(r".*/inbox/\d+/?$"))
    expect(page.get_by_test_id("bubble-in").last).to_contain_text("vocês abrem sábado?")

    # Desktop notifications on (the browser allows them), then the tab goes to the background.
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("toggle-desktop").click()
    expect(page.get_by_role("menu")).to_be_hidden()
    page.get_by_test_id("user-menu").click()  # the menu now offers to turn them off
    expect(page.get_by_test_id("toggle-desktop")).to_contain_text("Turn desktop notifications off")
    page.keyboard.press("Escape")
    page.goto("/profile")
    expect(page.get_by_test_id("page-title")).to_be_visible()
    page.evaluate("document.hasFocus = () => false")
    number.customer_writes("5548991110002", "Paula Dias", "Preciso de um orçamento")
    expect(page).to_have_title(re.compile(r"^\(1•\) "))
    icon = page.locator("link[rel~='icon']").first
    expect(icon).to_have_attribute("href", re.compile(r"^data:image/png"))
    shown = page.evaluate("window.__shown")
    assert shown == [{"title": "New conversation: Paula Dias", "body": "Preciso de um orçamento"}]
    # Back to the tab: the count clears.
    page.evaluate("document.hasFocus = () => true; window.dispatchEvent(new Event('focus'))")
    expect(page).not_to_have_title(re.compile(r"^\(\d+•\)"))


def test_notices_in_portuguese(server, organization, number, new_page):
    server.add_user("caio@acme.test", "caio secret 1234", role="agent")
    page = new_page("pt-BR", width=1280, height=800)
    sign_in(page, "caio@acme.test", "caio secret 1234")
    page.goto("/profile")
    expect(page.get_by_test_id("page-title")).to_be_visible()
    number.customer_writes("5548991110003", "Rita Lopes", "Oi, tudo bem?")
    toast = page.locator("[data-sonner-toast]").filter(has_text="Nova conversa: Rita Lopes")
    expect(toast).to_be_visible()
    expect(toast.get_by_role("button", name="Abrir")).to_be_visible()
    screenshot(page, "notice-toast-pt-BR")
