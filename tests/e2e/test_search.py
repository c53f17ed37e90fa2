"""Search from the top bar: an old message, found without its accents, opens its
conversation scrolled to it (pages older than the latest are loaded to reach it)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pytake.sandbox import payloads as p
from tests.e2e.conftest import OWNER, connect_number, screenshot, sign_in, wait_path

pytestmark = pytest.mark.e2e
PNID, WABA, CUSTOMER = "172345600000002", "772345600000002", "5511955554444"


def test_search_finds_an_old_message_and_opens_the_conversation_at_it(
    server, graph, organization, new_page
):
    number = connect_number(server, graph, PNID, WABA)
    texts = ["A nota fiscal do pedido 7781 está errada, não é meu endereço"]
    texts += [f"Mensagem de acompanhamento {n}" for n in range(70)]  # more than a page
    messages = [p.text(text, sender=CUSTOMER) for text in texts]
    for start in range(0, len(messages), 10):
        value = p.messages_value(
            PNID, number.display, messages[start : start + 10], [p.profile(CUSTOMER, "Clara Nunes")]
        )
        number.post(value)

    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    expect(page.get_by_test_id("conversation-row").filter(has_text="Clara Nunes")).to_be_visible()
    page.get_by_test_id("search-box").fill("NAO e meu endereco")
    page.get_by_test_id("search-box").press("Enter")
    wait_path(page, "/search")
    result = page.get_by_test_id("search-result")
    expect(result).to_have_count(1)
    expect(result).to_contain_text("Clara Nunes")
    expect(result.locator("mark")).to_have_text("não")
    screenshot(page, "search-en")

    result.click()
    target = page.get_by_test_id("bubble-in").filter(has_text="nota fiscal do pedido 7781")
    expect(target).to_be_in_viewport()
    expect(page.get_by_test_id("bubble-in").filter(has_text="acompanhamento 69")).to_have_count(1)
