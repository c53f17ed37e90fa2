"""An admin writes a template and submits it; Meta (the simulator) approves it by webhook;
an agent sends it to a customer whose 24-hour window is closed."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from pytake.sandbox import payloads as p
from tests.e2e.conftest import OWNER, connect_number, screenshot, sign_in

pytestmark = pytest.mark.e2e
NAME = "consulta_confirmada"


@pytest.fixture(scope="module")
def number(server, graph, organization):
    return connect_number(server, graph, "150066778899001", "550011223344556")


def test_create_approve_by_webhook_and_send_with_the_window_closed(server, graph, number, new_page):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    page.goto("/templates")
    page.get_by_test_id("template-new").click()
    expect(page.get_by_test_id("template-name")).to_be_visible()
    if page.get_by_test_id("template-account").count():  # the organization has other numbers
        page.get_by_test_id("template-account").click()
        page.get_by_role("option").filter(has_text=number.display).click()
    page.get_by_test_id("template-name").fill(NAME)
    page.get_by_test_id("template-body").fill("Olá {{1}}, sua consulta de amanhã está confirmada.")
    page.get_by_test_id("template-example").fill("Marina")
    page.get_by_test_id("template-footer").fill("Clínica Exemplo")
    page.get_by_test_id("template-add-quick_reply").click()
    page.get_by_test_id("template-button-text").fill("Remarcar")
    expect(page.get_by_test_id("template-draft-preview")).to_contain_text(
        "Olá Marina, sua consulta de amanhã está confirmada."
    )
    screenshot(page, "template-editor-en")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text=NAME)
    expect(row.get_by_test_id("template-status")).to_have_text("In review")

    template_id = graph.set_template_status(number.waba, NAME, "pt_BR", "APPROVED")
    number.post(
        p.template_status_value("APPROVED", int(template_id), NAME, "pt_BR"),
        "message_template_status_update",
    )
    deadline = time.monotonic() + 20
    while "Approved" not in row.get_by_test_id("template-status").inner_text():
        assert time.monotonic() < deadline, "the approval never showed"
        page.reload()
        time.sleep(0.5)

    old = str(int(time.time()) - 27 * 3600)
    number.customer_writes("5521988880000", "Marina Souto", "Posso confirmar?", timestamp=old)
    page.goto("/inbox")
    page.get_by_test_id("conversation-row").filter(has_text="Marina Souto").click()
    page.get_by_test_id("template-instead").click()
    page.get_by_test_id("template-select").click()
    page.get_by_role("option", name=f"{NAME} · pt_BR").click()
    page.get_by_test_id("template-value").fill("Marina")
    expect(page.get_by_test_id("template-preview")).to_contain_text("Olá Marina, sua consulta")
    page.get_by_test_id("template-send").click()
    sent_bubble = page.get_by_test_id("bubble-out").last
    expect(sent_bubble).to_contain_text("Olá Marina, sua consulta")
    expect(sent_bubble.get_by_test_id("choices")).to_have_text("Remarcar")  # as Marina sees it
    deadline = time.monotonic() + 20
    while not any(b.get("template", {}).get("name") == NAME for b in graph.sent):
        assert time.monotonic() < deadline, "the template never reached the simulator"
        time.sleep(0.1)
    sent = next(b for b in graph.sent if b.get("template", {}).get("name") == NAME)
    assert sent["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Marina"}]}
    ]
