"""The dashboard follows the organization live: a customer's new message raises the open and
waiting counts without a reload, and the member watching is listed as online."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OWNER, connect_number, screenshot, sign_in

pytestmark = pytest.mark.e2e
PNID, WABA = "171234500000001", "771234500000001"


def test_the_dashboard_updates_live(server, graph, organization, new_page):
    number = connect_number(server, graph, PNID, WABA)
    page = new_page(width=1280, height=900)
    sign_in(page, OWNER["email"], OWNER["password"])
    page.goto("/dashboard")
    owner_row = page.get_by_test_id("agent-row").filter(has_text=OWNER["name"])
    expect(owner_row).to_contain_text("Online")  # loaded: the counts below are the server's
    waiting = page.get_by_test_id("stat-waiting")
    before = int(waiting.inner_text())
    opened = int(page.get_by_test_id("stat-open").inner_text())

    number.customer_writes("5511944443333", "Davi Melo", "Alguém pode me ajudar?")
    expect(waiting).to_have_text(str(before + 1))
    expect(page.get_by_test_id("stat-open")).to_have_text(str(opened + 1))
    expect(page.get_by_test_id("longest-wait")).to_be_visible()
    expect(
        page.get_by_test_id("hours-chart").locator(".recharts-bar-rectangle").first
    ).to_be_visible()
    screenshot(page, "dashboard-en")
