"""An agent answers a customer in Chromium: the reply leaves through the outbox to the Meta
simulator, and its ticks follow the status webhooks live; a refused send explains itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pytake.sandbox import payloads as p
from tests.e2e.conftest import (
    OWNER,
    Number,
    connect_number,
    png,
    screenshot,
    send_buttons,
    sent_to_meta,
    sign_in,
    wait_path,
)

pytestmark = pytest.mark.e2e
PNID, WABA = "130044556677889", "770011223344556"
CUSTOMER = "5511987650000"


@pytest.fixture(scope="module")
def number(server, graph, organization) -> Number:
    return connect_number(server, graph, PNID, WABA)


def _customer_writes(number: Number, text: str, wamid: str) -> None:
    number.customer_writes(CUSTOMER, "Ana Souza", text, wamid=wamid)


def _status(number: Number, wamid: str, status: str) -> None:
    number.post(p.statuses_value(PNID, number.display, [p.status(wamid, status, CUSTOMER)]))


def _text_sent(graph, text: str) -> dict:
    return sent_to_meta(graph, lambda body: body.get("text", {}).get("body") == text, repr(text))


def test_agent_replies_and_sees_the_ticks_follow_the_statuses(server, graph, number, new_page):
    _customer_writes(number, "Oi, meu pedido não chegou 😟", "wamid.E2E-IN-1")
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    page.get_by_test_id("conversation-row").filter(has_text="Ana Souza").click()
    expect(page.get_by_test_id("contact-name")).to_have_text("Ana Souza")
    expect(page.get_by_test_id("bubble-in").last).to_contain_text("meu pedido não chegou")
    expect(page.get_by_test_id("window-open")).to_be_visible()

    page.get_by_test_id("composer").fill("Olá Ana! Vou verificar agora.")
    page.get_by_test_id("composer").press("Enter")
    mine = page.get_by_test_id("bubble-out").last
    expect(mine).to_contain_text("Vou verificar agora")
    expect(page.get_by_test_id("composer")).to_have_value("")
    body = _text_sent(graph, "Olá Ana! Vou verificar agora.")
    assert body["to"] == f"+{CUSTOMER}" and body["biz_opaque_callback_data"].startswith("pytake-")
    assert "wamid.E2E-IN-1" in graph.read_marks  # opened: blue ticks (other tests mark too)
    expect(mine.get_by_test_id("tick-sent")).to_be_visible()

    _status(number, body["wamid"], "delivered")
    expect(mine.get_by_test_id("tick-delivered")).to_be_visible()
    _status(number, body["wamid"], "read")
    expect(mine.get_by_test_id("tick-read")).to_be_visible()
    screenshot(page, "conversation-ticks-en")

    # A customer message arrives while the agent watches: it appears without a reload.
    _customer_writes(number, "Obrigada!", "wamid.E2E-IN-2")
    expect(page.get_by_test_id("bubble-in").last).to_contain_text("Obrigada!")

    # Meta refuses the next send: the bubble says why, in plain words, and offers no retry
    # where retrying cannot help.
    graph.fail_next(131026)
    page.get_by_test_id("composer").fill("Pode confirmar o endereço?")
    page.get_by_test_id("send").click()
    failed = page.get_by_test_id("bubble-out").last
    expect(failed.get_by_test_id("tick-failed")).to_be_visible()
    expect(failed.get_by_test_id("send-error")).to_contain_text("could not deliver")
    expect(failed.get_by_test_id("retry")).to_have_count(0)

    # An expired token: the send fails, the number is flagged, and "Send again" (after the
    # admin renewed the token) really sends.
    graph.fail_next(190)
    page.get_by_test_id("composer").fill("Segunda tentativa")
    page.get_by_test_id("send").click()
    retried = page.get_by_test_id("bubble-out").last
    expect(retried.get_by_test_id("tick-failed")).to_be_visible()
    expect(retried.get_by_test_id("send-error")).to_contain_text("access token")
    expect(page.get_by_test_id("token-invalid")).to_be_visible()
    screenshot(page, "conversation-failed-en")
    retried.get_by_test_id("retry").click()
    expect(retried.get_by_test_id("tick-sent")).to_be_visible()
    expect(page.get_by_test_id("token-invalid")).to_have_count(0)
    assert _text_sent(graph, "Segunda tentativa")


def _choose_language(page, menu_label: str, language: str) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name=menu_label).click()
    page.get_by_role("menuitem", name=language).click()


def test_conversation_in_portuguese_and_a_strangers_id(server, graph, number, new_page):
    page = new_page("en-US")  # the owner's saved choice, if any, is English too
    sign_in(page, OWNER["email"], OWNER["password"])
    _choose_language(page, "Language", "Português (Brasil)")
    expect(page.get_by_test_id("page-title")).to_have_text("Caixa de entrada")
    try:
        page.get_by_test_id("conversation-row").filter(has_text="Ana Souza").click()
        expect(page.get_by_test_id("contact-name")).to_have_text("Ana Souza")
        expect(page.get_by_test_id("window-open")).to_contain_text("Fecha em")
        expect(page.get_by_test_id("send-error").first).to_contain_text("não conseguiu entregar")
        screenshot(page, "conversation-pt-BR")
        # An id that is not this agent's (here: none at all) is refused like a missing one.
        page.goto("/inbox/999999")
        expect(page.get_by_test_id("conversation-problem")).to_contain_text("não existe")
    finally:
        _choose_language(page, "Idioma", "English")


def test_agent_sends_a_photo_with_a_caption(server, graph, number, new_page, tmp_path):
    _customer_writes(number, "Pode mandar uma foto?", "wamid.E2E-IN-3")
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    page.get_by_test_id("conversation-row").filter(has_text="Ana Souza").click()
    expect(page.get_by_test_id("bubble-in").last).to_contain_text("uma foto")
    photo = tmp_path / "label.png"
    photo.write_bytes(png())
    page.get_by_test_id("composer").fill("Sua etiqueta")
    page.wait_for_timeout(600)  # the draft reaches the server (inputs are debounced)
    page.locator("#composer-upload input[type=file]").set_input_files(str(photo))
    mine = page.get_by_test_id("bubble-out").last
    expect(mine.locator("img")).to_be_visible()
    expect(mine).to_contain_text("Sua etiqueta")
    expect(mine.get_by_test_id("tick-sent")).to_be_visible()
    image = mine.locator("img").evaluate("img => img.naturalWidth")
    assert image == 32  # served back by /media/<id> to the signed-in agent
    sent = sent_to_meta(graph, lambda body: body["type"] == "image", "the photo")
    assert sent["image"]["caption"] == "Sua etiqueta"
    assert any(
        u["id"] == sent["image"]["id"] and u["mime_type"] == "image/png" for u in graph.uploads
    )
    screenshot(page, "conversation-photo-en")


def _open_ana(page) -> None:
    sign_in(page, OWNER["email"], OWNER["password"])
    page.get_by_test_id("conversation-row").filter(has_text="Ana Souza").click()
    expect(page.get_by_test_id("contact-name")).to_have_text("Ana Souza")


def test_agent_sends_reply_buttons_a_list_and_a_location(server, graph, number, new_page):
    _customer_writes(number, "Quais as opções?", "wamid.E2E-IN-4")
    page = new_page()
    _open_ana(page)

    send_buttons(page, "Resolvemos o seu problema?", "Sim", "Não")
    mine = page.get_by_test_id("bubble-out").last
    expect(mine).to_contain_text("Resolvemos o seu problema?")
    expect(mine.get_by_test_id("choices")).to_contain_text("Sim")
    expect(mine.get_by_test_id("tick-sent")).to_be_visible()
    buttons = sent_to_meta(
        graph, lambda b: b.get("interactive", {}).get("type") == "button", "buttons"
    )
    assert [b["reply"]["title"] for b in buttons["interactive"]["action"]["buttons"]] == [
        "Sim",
        "Não",
    ]

    page.get_by_test_id("composer-more").click()
    page.get_by_test_id("compose-list").click()
    page.fill("#compose-body", "Escolha um assunto")
    page.fill("#compose-button", "Assuntos")
    page.fill("#compose-rows", "\n".join(f"Opção {n} - detalhe {n}" for n in range(11)))
    page.get_by_test_id("dialog-send").click()
    expect(page.get_by_role("dialog")).to_contain_text("10")  # Meta allows 10 rows: refused
    page.fill("#compose-rows", "Financeiro - boletos\nSuporte\nVendas")
    page.get_by_test_id("dialog-send").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_test_id("bubble-out").last.get_by_test_id("choices")).to_contain_text(
        "Financeiro"
    )
    listed = sent_to_meta(
        graph, lambda b: b.get("interactive", {}).get("type") == "list", "the list"
    )
    rows = listed["interactive"]["action"]["sections"][0]["rows"]
    assert rows[0] == {"id": "option-1", "title": "Financeiro", "description": "boletos"}

    page.get_by_test_id("composer-more").click()
    page.get_by_test_id("compose-location").click()
    page.fill("#compose-latitude", "-23.5614")
    page.fill("#compose-longitude", "-46.6559")
    page.fill("#compose-name", "Loja Paulista")
    page.get_by_test_id("dialog-send").click()
    expect(page.get_by_test_id("bubble-out").last).to_contain_text("Loja Paulista")
    place = sent_to_meta(graph, lambda b: b["type"] == "location", "the location")
    assert place["location"]["latitude"] == -23.5614
    expect(page.get_by_test_id("bubble-out").last).to_be_in_viewport()  # scrolled to it
    screenshot(page, "conversation-structured-en")


# A microphone that plays a tone: headless Chromium has no audio device.
FAKE_MICROPHONE = """
navigator.mediaDevices.getUserMedia = async () => {
  const context = new AudioContext();
  const tone = context.createOscillator();
  const sink = context.createMediaStreamDestination();
  tone.connect(sink);
  tone.start();
  return sink.stream;
};
"""


def test_agent_records_and_sends_a_voice_note(server, graph, number, new_page):
    page = new_page()
    page.add_init_script(FAKE_MICROPHONE)
    _open_ana(page)
    uploads = len(graph.uploads)
    page.get_by_test_id("record").click()
    expect(page.get_by_test_id("recording")).to_be_visible()
    page.wait_for_timeout(1200)
    page.get_by_test_id("voice-send").click()
    mine = page.get_by_test_id("bubble-out").last
    expect(mine.locator("audio")).to_have_count(1)
    expect(mine.get_by_test_id("tick-sent")).to_be_visible()
    upload = graph.uploads[uploads]
    assert upload["mime_type"] == "audio/ogg"  # re-encoded from the browser's WebM
    voice = sent_to_meta(graph, lambda b: b["type"] == "audio", "the voice note")
    assert voice["audio"] == {"id": upload["id"], "voice": True}


def test_inbox_list_updates_live_with_preview_and_unread_count(server, graph, number, new_page):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])  # lands on the inbox
    number.post(
        p.messages_value(
            PNID,
            number.display,
            [p.image(graph.add_media(png(), "image/png"), sender="5521999990000")],
            [p.profile("5521999990000", "Bruno Lima")],
        ),
    )
    row = page.get_by_test_id("conversation-row").first  # newest activity first
    expect(row).to_contain_text("Bruno Lima")
    expect(row.get_by_test_id("row-preview")).to_have_text("📷 Photo")
    expect(row.get_by_test_id("unread")).to_have_text("1")
    expect(row.get_by_test_id("window-open")).to_contain_text("Closes in")
    message = p.text("Alguém aí?", sender="5521999990000")
    profile = [p.profile("5521999990000", "Bruno Lima")]
    number.post(p.messages_value(PNID, number.display, [message], profile))
    expect(row.get_by_test_id("row-preview")).to_have_text("Alguém aí?")
    expect(row.get_by_test_id("unread")).to_have_text("2")
    screenshot(page, "inbox-live-en")
    row.click()
    expect(page.get_by_test_id("bubble-in").last).to_contain_text("Alguém aí?")
    page.get_by_test_id("nav-inbox").click()
    expect(page.get_by_test_id("conversation-row").first.get_by_test_id("unread")).to_have_count(0)


def test_take_resolve_and_reopen_show_in_the_history(server, graph, number, new_page):
    page = new_page()
    _open_ana(page)
    page.get_by_test_id("assign-menu").click()
    page.get_by_test_id("take").click()
    expect(page.get_by_test_id("assign-menu")).to_contain_text(OWNER["name"])
    expect(page.get_by_test_id("activity").last).to_have_text(
        f"{OWNER['name']} took this conversation"
    )
    page.get_by_test_id("resolve").click()
    expect(page.get_by_test_id("activity").last).to_have_text(
        f"{OWNER['name']} resolved the conversation"
    )
    page.get_by_test_id("reopen").click()
    expect(page.get_by_test_id("activity").last).to_have_text(
        f"{OWNER['name']} reopened the conversation"
    )
    page.get_by_test_id("snooze-menu").click()
    page.get_by_test_id("snooze-1h").click()
    expect(page.get_by_test_id("activity").last).to_contain_text("snoozed the conversation until")
    screenshot(page, "conversation-actions-en")
    page.get_by_test_id("snooze-menu").click()
    page.get_by_test_id("mark-unread").click()
    wait_path(page, "/inbox")
