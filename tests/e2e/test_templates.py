"""An admin writes a template and submits it; Meta (the simulator) approves it by webhook;
an agent sends it to a customer whose 24-hour window is closed. An admin gives a template an
image header (its example uploaded to Meta), then edits it once approved."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from playwright.sync_api import expect

from pytake.sandbox import payloads as p
from pytake.sandbox.graph import APP_ID
from tests.e2e.conftest import OWNER, connect_number, png, screenshot, sign_in, wait_path

pytestmark = pytest.mark.e2e
NAME = "consulta_confirmada"


@pytest.fixture(scope="module")
def number(server, graph, organization):
    return connect_number(server, graph, "150066778899001", "550011223344556")


_REVIEWS = itertools.count(1)


def _approve(page, graph, number, name: str, row) -> None:
    """Meta approves the template: the status webhook (each review later than the last, or
    a second approval would be the first one repeated), then the page shows it."""
    template_id = graph.set_template_status(number.waba, name, "pt_BR", "APPROVED")
    number.post(
        p.template_status_value("APPROVED", int(template_id), name, "pt_BR"),
        "message_template_status_update",
        time=int(time.time()) + next(_REVIEWS),
    )
    deadline = time.monotonic() + 20
    while "Approved" not in row.get_by_test_id("template-status").inner_text():
        assert time.monotonic() < deadline, "the approval never showed"
        page.reload()
        time.sleep(0.5)


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

    _approve(page, graph, number, NAME, row)

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


def _image_header(page, number, image: str = "Image") -> None:
    """Open the editor on this module's number and choose an image header."""
    page.goto("/templates")
    page.get_by_test_id("template-new").click()
    expect(page.get_by_test_id("template-name")).to_be_visible()
    if page.get_by_test_id("template-account").count():
        page.get_by_test_id("template-account").click()
        page.get_by_role("option").filter(has_text=number.display).click()
    page.get_by_test_id("template-header_format").click()
    page.get_by_role("option", name=image, exact=True).click()


def _upload(page, banner) -> None:
    page.locator("#template-example-upload input[type=file]").set_input_files(str(banner))
    expect(page.get_by_test_id("template-example-file")).to_contain_text("banner.png")


def test_an_image_header_uploads_its_example_and_an_approved_template_is_edited(
    server, graph, number, new_page, tmp_path
):
    banner = tmp_path / "banner.png"
    banner.write_bytes(png(240, 120, bytes((37, 99, 235))))
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    _image_header(page, number)
    expect(page.get_by_test_id("template-app-missing")).to_contain_text("Settings → Channels")
    screenshot(page, "template-editor-no-app-id-en")
    page.get_by_role("button", name="Cancel").click()
    page.goto("/settings/channels")
    wait_path(page, "/settings/channels")
    card = page.get_by_test_id("channel-card").filter(has_text=number.display)
    card.get_by_test_id("channel-edit").click()
    page.get_by_test_id("channel-app-id").fill(APP_ID)
    screenshot(page, "settings-channel-app-id-en")
    page.get_by_test_id("channel-save").click()
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()

    _image_header(page, number)
    expect(page.get_by_test_id("template-app-missing")).to_have_count(0)
    _upload(page, banner)
    preview = page.get_by_test_id("template-draft-preview")
    expect(preview.locator("img")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.get_by_test_id("template-name").fill("oferta_primavera")
    page.get_by_test_id("template-category").click()
    page.get_by_role("option", name="Marketing").click()
    page.get_by_test_id("template-body").fill("Olá {{1}}, a promoção de primavera começou!")
    page.get_by_test_id("template-example").fill("Marina")
    page.get_by_test_id("template-footer").fill("Loja Exemplo")
    expect(preview).to_contain_text("Olá Marina, a promoção de primavera começou!")
    screenshot(page, "template-editor-image-header-en")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text="oferta_primavera")
    expect(row.get_by_test_id("template-status")).to_have_text("In review")
    (at_meta,) = [t for t in graph._templates[number.waba] if t["name"] == "oferta_primavera"]
    (handle,) = at_meta["components"][0]["example"]["header_handle"]
    assert at_meta["components"][0]["format"] == "IMAGE"
    assert graph.examples[handle].content == banner.read_bytes()

    _approve(page, graph, number, "oferta_primavera", row)
    row.get_by_test_id("template-edit").click()
    expect(page.get_by_test_id("template-name")).to_have_value("oferta_primavera")
    expect(page.get_by_test_id("template-name")).to_have_attribute("readonly", "")
    expect(page.get_by_text("Current example kept")).to_be_visible()
    screenshot(page, "template-editor-edit-en")
    page.get_by_test_id("template-body").fill("Olá {{1}}, a promoção de primavera vai até domingo!")
    page.get_by_test_id("template-submit").click()
    expect(row.get_by_test_id("template-status")).to_have_text("In review")
    assert at_meta["components"][1]["text"] == "Olá {{1}}, a promoção de primavera vai até domingo!"
    assert at_meta["components"][0]["example"] == {"header_handle": [handle]}  # kept

    _approve(page, graph, number, "oferta_primavera", row)
    row.get_by_test_id("template-edit").click()  # a second edit the same day
    expect(page.get_by_test_id("templates-problem")).to_contain_text("once every 24 hours")
    assert len(graph.template_edits[at_meta["id"]]) == 1  # Meta was not asked again


def test_the_image_header_editor_in_portuguese(server, graph, number, new_page, tmp_path):
    banner = tmp_path / "banner.png"
    banner.write_bytes(png(240, 120, bytes((37, 99, 235))))
    # The owner chose English at set-up; an admin who chose nothing follows the browser.
    server.add_user("renata@acme.test", "renata secret 1", role="admin")
    page = new_page("pt-BR")
    sign_in(page, "renata@acme.test", "renata secret 1")
    _image_header(page, number, "Imagem")
    _upload(page, banner)
    page.get_by_test_id("template-name").fill("boas_vindas_loja")
    page.get_by_test_id("template-body").fill("Olá {{1}}, boas-vindas à nossa loja!")
    page.get_by_test_id("template-example").fill("Marina")
    page.get_by_test_id("template-add-url").click()
    page.get_by_test_id("template-button-text").fill("Ver ofertas")
    page.get_by_test_id("template-button-url").fill("https://loja.example.com/ofertas")
    expect(page.get_by_text("JPEG ou PNG, até 5 MB", exact=False)).to_be_visible()
    screenshot(page, "template-editor-image-header-pt-BR")
