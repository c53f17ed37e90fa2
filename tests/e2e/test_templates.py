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
from pytake.sandbox.graph_rules import APP_ID
from tests.e2e.conftest import (
    OWNER,
    connect_number,
    png,
    screenshot,
    sent_to_meta,
    sign_in,
    wait_path,
)

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


def _open_editor(page, number) -> None:
    """A new template's editor, on this module's number."""
    page.goto("/templates")
    page.get_by_test_id("template-new").click()
    expect(page.get_by_test_id("template-name")).to_be_visible()
    if page.get_by_test_id("template-account").count():  # the organization has other numbers
        page.get_by_test_id("template-account").click()
        page.get_by_role("option").filter(has_text=number.display).click()


def _picker(page, number, phone: str, customer: str, says: str, template: str) -> None:
    """A customer who wrote over a day ago; the agent opens the picker on ``template``."""
    number.customer_writes(phone, customer, says, timestamp=str(int(time.time()) - 26 * 3600))
    page.goto("/inbox")
    page.get_by_test_id("conversation-row").filter(has_text=customer).click()
    page.get_by_test_id("template-instead").click()
    page.get_by_test_id("template-select").click()
    option = page.get_by_role("option", name=f"{template} · pt_BR")
    expect(option).to_be_enabled()  # approved by now
    option.click()


def _sent(graph, name: str) -> dict:
    """The request that sent template ``name``, once the outbox made it."""
    return sent_to_meta(graph, lambda b: b.get("template", {}).get("name") == name, name)


def test_create_approve_by_webhook_and_send_with_the_window_closed(server, graph, number, new_page):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    _open_editor(page, number)
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

    _picker(page, number, "5521988880000", "Marina Souto", "Posso confirmar?", NAME)
    page.get_by_test_id("template-value").fill("Marina")
    expect(page.get_by_test_id("template-preview")).to_contain_text("Olá Marina, sua consulta")
    page.get_by_test_id("template-send").click()
    sent_bubble = page.get_by_test_id("bubble-out").last
    expect(sent_bubble).to_contain_text("Olá Marina, sua consulta")
    expect(sent_bubble.get_by_test_id("choices")).to_have_text("Remarcar")  # as Marina sees it
    sent = _sent(graph, NAME)
    assert sent["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Marina"}]}
    ]


def _image_header(page, number, image: str = "Image") -> None:
    """Open the editor on this module's number and choose an image header."""
    _open_editor(page, number)
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


def _new_template(page, number, name: str, category: str) -> None:
    _open_editor(page, number)
    page.get_by_test_id("template-name").fill(name)
    page.get_by_test_id("template-category").click()
    page.get_by_role("option", name=category).click()


def test_an_authentication_code_is_created_approved_and_sent(server, graph, number, new_page):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    _new_template(page, number, "codigo_acesso", "Authentication")
    expect(page.get_by_test_id("template-body")).to_have_count(0)  # Meta writes the text
    page.get_by_test_id("template-auth-expiry").fill("10")
    preview = page.get_by_test_id("template-draft-preview")
    expect(preview).to_contain_text("123456 is your verification code. For your security")
    expect(preview).to_contain_text("This code expires in 10 minutes.")
    page.get_by_test_id("template-auth-otp").click()
    page.get_by_role("option", name="One-tap autofill (Android)").click()
    page.get_by_test_id("template-auth-package").fill("com.clinica.app")
    page.get_by_test_id("template-auth-signature").fill("K8a/AINcGX7")
    screenshot(page, "template-editor-authentication-en")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text="codigo_acesso")
    expect(row.get_by_test_id("template-status")).to_have_text("In review")
    (at_meta,) = [t for t in graph._templates[number.waba] if t["name"] == "codigo_acesso"]
    assert at_meta["category"] == "AUTHENTICATION"
    assert at_meta["components"][-1]["buttons"][0]["url"].startswith(
        "https://www.whatsapp.com/otp/code/?otp_type=ONE_TAP"
    )
    _approve(page, graph, number, "codigo_acesso", row)

    _picker(page, number, "5521977770000", "Caio Prado", "Não recebi o código", "codigo_acesso")
    page.get_by_test_id("template-value").fill("482913")
    expect(page.get_by_test_id("template-preview")).to_contain_text(  # until a sync: PyTake's
        "482913 is your verification code. For your security, do not share this code."
    )
    screenshot(page, "template-picker-authentication-en")
    page.get_by_test_id("template-send").click()
    expect(page.get_by_test_id("bubble-out").last).to_contain_text("482913")
    sent = _sent(graph, "codigo_acesso")
    assert [c["type"] for c in sent["template"]["components"]] == ["body", "button"]


def test_an_offer_and_a_location_header_in_portuguese(server, graph, number, new_page):
    server.add_user("tales@acme.test", "tales secret 1", role="admin")
    page = new_page("pt-BR")
    sign_in(page, "tales@acme.test", "tales secret 1")
    _new_template(page, number, "oferta_relampago", "Marketing")
    page.get_by_test_id("template-offer").click()
    page.get_by_test_id("template-offer-text").fill("Só hoje!")
    page.get_by_test_id("template-offer-expires").click()
    expect(page.get_by_test_id("template-footer")).to_have_count(0)  # offers have none
    page.get_by_test_id("template-body").fill("Olá {{1}}, 30% em tudo até meia-noite!")
    page.get_by_test_id("template-example").fill("Marina")
    page.get_by_test_id("template-add-copy_code").click()
    page.get_by_test_id("template-button-example").fill("RELAMPAGO")
    page.get_by_test_id("template-add-url").click()
    page.get_by_test_id("template-button-text").last.fill("Comprar")
    page.get_by_test_id("template-button-url").fill("https://loja.example.com")
    expect(page.get_by_test_id("template-offer-preview")).to_contain_text("Só hoje!")
    screenshot(page, "template-editor-offer-pt-BR")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text="oferta_relampago")
    expect(row.get_by_test_id("template-status")).to_have_text("Em análise")
    (at_meta,) = [t for t in graph._templates[number.waba] if t["name"] == "oferta_relampago"]
    assert at_meta["components"][0]["type"] == "LIMITED_TIME_OFFER"

    _new_template(page, number, "retirada_loja", "Utilidade")
    page.get_by_test_id("template-header_format").click()
    page.get_by_role("option", name="Localização", exact=True).click()
    page.get_by_test_id("template-body").fill("Seu pedido {{1}} está pronto para retirada.")
    page.get_by_test_id("template-example").fill("#12")
    page.get_by_test_id("template-add-flow").click()
    page.get_by_test_id("template-button-text").fill("Agendar")
    page.get_by_test_id("template-button-flow_id").fill("1234567890")
    expect(page.get_by_test_id("template-draft-preview")).to_contain_text("Mapa do local")
    screenshot(page, "template-editor-location-pt-BR")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text="retirada_loja")
    expect(row.get_by_test_id("template-status")).to_have_text("Em análise")
    for name in ("oferta_relampago", "retirada_loja"):
        template_id = graph.set_template_status(number.waba, name, "pt_BR", "APPROVED")
        number.post(
            p.template_status_value("APPROVED", int(template_id), name, "pt_BR"),
            "message_template_status_update",
            time=int(time.time()) + next(_REVIEWS),
        )

    _picker(page, number, "5521966660000", "Bianca Reis", "Tem promoção?", "oferta_relampago")
    values = page.get_by_test_id("template-value")
    expect(values).to_have_count(3)  # when the offer ends, the name, the code
    values.nth(0).fill("2030-01-15T18:00")
    values.nth(1).fill("Bianca")
    values.nth(2).fill("RELAMPAGO")
    expect(page.get_by_test_id("template-preview")).to_contain_text("Olá Bianca, 30% em tudo")
    screenshot(page, "template-picker-offer-pt-BR")
    page.get_by_test_id("template-send").click()
    sent = _sent(graph, "oferta_relampago")
    (offer,) = sent["template"]["components"][0]["parameters"]
    ends = offer["limited_time_offer"]["expiration_time_ms"] // 1000
    assert time.strftime("%Y-%m-%d", time.gmtime(ends)) == "2030-01-15"


def test_a_carousel_of_cards_is_created_and_sent(server, graph, number, new_page, tmp_path):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    _new_template(page, number, "pacotes_ferias", "Marketing")  # the number has its app id
    page.get_by_test_id("template-carousel").click()
    expect(page.get_by_test_id("template-header_format")).to_have_count(0)  # cards carry it
    page.get_by_test_id("template-body").fill("Olá {{1}}, escolha seu destino:")
    page.get_by_test_id("template-example").fill("Marina")
    colours = (bytes((37, 99, 235)), bytes((234, 88, 12)))
    for n, (destination, colour) in enumerate(zip(("Recife", "Gramado"), colours, strict=True)):
        image = tmp_path / f"card{n}.png"
        image.write_bytes(png(240, 120, colour))
        page.locator(f"#template-card-upload-{n} input[type=file]").set_input_files(str(image))
        page.get_by_test_id("template-card-body").nth(n).fill(
            f"{destination} a partir de {{{{1}}}}"
        )
        page.get_by_test_id("template-card-example").nth(n).fill("R$ 999")
        page.get_by_test_id("template-card-button-text").nth(n).fill("Quero este")
    preview = page.get_by_test_id("template-cards-preview")
    expect(preview).to_contain_text("Gramado a partir de R$ 999")
    expect(preview.locator("img")).to_have_count(2)
    screenshot(page, "template-editor-carousel-en")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text="pacotes_ferias")
    expect(row.get_by_test_id("template-status")).to_have_text("In review")
    (at_meta,) = [t for t in graph._templates[number.waba] if t["name"] == "pacotes_ferias"]
    cards = at_meta["components"][1]["cards"]
    assert len(cards) == 2 and all(c["components"][0]["format"] == "IMAGE" for c in cards)
    _approve(page, graph, number, "pacotes_ferias", row)

    _picker(page, number, "5521955550000", "Otávio Lima", "Quais pacotes?", "pacotes_ferias")
    values = page.get_by_test_id("template-value")
    expect(values).to_have_count(5)  # the name, then a link and a price for each card
    values.nth(0).fill("Otávio")
    for n in range(2):
        values.nth(1 + 2 * n).fill(f"https://cdn.example.com/{n}.jpg")
        values.nth(2 + 2 * n).fill(f"R$ {1000 + n}")
    expect(page.get_by_test_id("template-preview")).to_contain_text(
        "[2] Gramado a partir de R$ 1001"
    )
    screenshot(page, "template-picker-carousel-en")
    page.get_by_test_id("template-send").click()
    sent = _sent(graph, "pacotes_ferias")
    (carousel,) = [c for c in sent["template"]["components"] if c["type"] == "carousel"]
    assert [c["card_index"] for c in carousel["cards"]] == [0, 1]


def test_a_media_header_is_sent_from_a_file_on_the_agents_computer(
    server, graph, number, new_page, tmp_path
):
    photo = tmp_path / "vitrine.png"
    photo.write_bytes(png(200, 100, bytes((22, 163, 74))))
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    _picker(page, number, "5521944440000", "Lívia Duarte", "Vi a promoção", "oferta_primavera")
    page.locator("#template-header-upload input[type=file]").set_input_files(str(photo))
    expect(page.get_by_test_id("template-file")).to_contain_text("vitrine.png")
    page.get_by_test_id("template-value").last.fill("Lívia")
    screenshot(page, "template-picker-header-file-en")
    page.get_by_test_id("template-send").click()
    bubble = page.get_by_test_id("bubble-out").last
    expect(bubble).to_contain_text("Olá Lívia, a promoção de primavera vai até domingo!")
    expect(bubble.locator("img")).to_have_attribute("src", re.compile(r"^/media/\d+$"))
    sent = _sent(graph, "oferta_primavera")
    (header,) = [c for c in sent["template"]["components"] if c["type"] == "header"]
    media_id = header["parameters"][0]["image"]["id"]
    assert graph.media(media_id).content == photo.read_bytes()


def test_a_product_of_the_catalog_and_a_call_permission_request(server, graph, number, new_page):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    _open_editor(page, number)
    page.get_by_test_id("template-name").fill("produto_destaque")
    page.get_by_test_id("template-category").click()
    page.get_by_role("option", name="Marketing").click()
    page.get_by_test_id("template-header_format").click()
    page.get_by_role("option", name="Product", exact=True).click()
    page.get_by_test_id("template-body").fill("Olá {{1}}, este voltou ao estoque.")
    page.get_by_test_id("template-example").fill("Marina")
    page.get_by_test_id("template-add-spm").click()
    page.get_by_test_id("template-button-text").fill("Ver produto")
    page.get_by_test_id("template-call-permission").click()
    preview = page.get_by_test_id("template-draft-preview")
    expect(preview).to_contain_text("A product of the number's catalog")
    expect(preview).to_contain_text("may this business call you on WhatsApp?")
    screenshot(page, "template-editor-product-en")
    page.get_by_test_id("template-submit").click()
    row = page.get_by_test_id("template-row").filter(has_text="produto_destaque")
    expect(row.get_by_test_id("template-status")).to_have_text("In review")
    (at_meta,) = [t for t in graph._templates[number.waba] if t["name"] == "produto_destaque"]
    assert at_meta["components"][0] == {"type": "HEADER", "format": "PRODUCT"}
    assert at_meta["components"][-1] == {"type": "CALL_PERMISSION_REQUEST"}
