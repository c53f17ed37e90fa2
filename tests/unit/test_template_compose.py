"""Filling a template: which variables the agent fills, the request components built from
them exactly as Meta documents, and the text the customer will read."""

import datetime as dt
import zoneinfo

import pytest

from pytake.auth.errors import AccessError
from pytake.models import MessageTemplate
from pytake.services import templates

ORDER = MessageTemplate(
    organization_id=1,
    account_id="waba",
    name="order_shipped",
    language="pt_BR",
    category="UTILITY",
    status="APPROVED",
    components=[
        {"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
        {"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu para entrega. {{1}}!"},
        {"type": "FOOTER", "text": "Loja Exemplo"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "URL", "text": "Rastrear", "url": "https://ex.com/t/{{1}}"},
                {"type": "COPY_CODE", "example": "SAVE10"},
                {"type": "QUICK_REPLY", "text": "Falar com atendente"},
                {"type": "URL", "text": "Site", "url": "https://ex.com"},
            ],
        },
    ],
)
VALUES = {
    "header:1": "#123",
    "body:1": "Ana",
    "body:2": "#123",
    "button:0": "abc123",
    "button:1": "BEMVINDO",
}


def test_the_agent_fills_each_variable_once_in_reading_order():
    assert [f["key"] for f in templates.variables(ORDER)] == [
        "header:1",
        "body:1",
        "body:2",
        "button:0",
        "button:1",
    ]


def test_components_are_built_as_meta_documents_them():
    content = templates.compose(ORDER, VALUES)
    assert content["name"] == "order_shipped" and content["language"] == "pt_BR"
    assert content["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "#123"}]},
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#123"}],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "abc123"}],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "1",
            "parameters": [{"type": "coupon_code", "coupon_code": "BEMVINDO"}],
        },
    ]
    assert content["buttons"] == ["Rastrear", "📋 BEMVINDO", "Falar com atendente", "Site"]
    assert content["preview"] == (
        "Pedido #123\n\nOlá Ana, seu pedido #123 saiu para entrega. Ana!\n\nLoja Exemplo"
    )


def test_named_variables_and_a_media_header():
    promo = MessageTemplate(
        organization_id=1,
        account_id="waba",
        name="promo",
        language="en_US",
        category="MARKETING",
        status="APPROVED",
        components=[
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{first_name}}, {{discount}} off today"},
        ],
    )
    values = {"header:link": "https://cdn.ex.com/p.jpg", "body:first_name": "Bo"}
    with pytest.raises(AccessError) as missing:
        templates.compose(promo, values)
    assert missing.value.code == "template.value_missing"
    content = templates.compose(promo, {**values, "body:discount": "10%"})
    assert content["components"] == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": values["header:link"]}}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Bo", "parameter_name": "first_name"},
                {"type": "text", "text": "10%", "parameter_name": "discount"},
            ],
        },
    ]
    with pytest.raises(AccessError) as link:
        templates.compose(promo, {**values, "body:discount": "1", "header:link": "http://x"})
    assert link.value.code == "template.link_invalid"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body:2": "   "}, "template.value_missing"),
        ({"body:2": "x" * 1025}, "send.field_too_long"),
        ({"button:1": ""}, "template.value_missing"),
    ],
)
def test_bad_values_are_refused_before_meta_sees_them(change, code):
    with pytest.raises(AccessError) as refused:
        templates.compose(ORDER, {**VALUES, **change})
    assert refused.value.code == code


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "PAUSED", "DISABLED"])
def test_only_approved_templates_are_sent(status):
    with pytest.raises(AccessError) as refused:
        templates.compose(ORDER.model_copy(update={"status": status}), VALUES)
    assert refused.value.code == "template.not_sendable"


def test_render_keeps_what_is_not_filled_in_yet():
    assert templates.render(ORDER, {"body:1": "Ana"}).startswith("Pedido {{1}}\n\nOlá Ana,")


def _approved(category: str, components: list) -> MessageTemplate:
    return MessageTemplate(
        organization_id=1,
        account_id="waba",
        name="t",
        language="pt_BR",
        category=category,
        status="APPROVED",
        components=components,
    )


LISTED_CODE = _approved(  # as Meta lists an authentication template
    "AUTHENTICATION",
    [
        {"type": "BODY", "text": "*{{1}}* is your verification code."},
        {"type": "FOOTER", "text": "This code expires in 10 minutes."},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Copy code", "url": "https://x/?code=otp{{1}}"}],
        },
    ],
)


def test_an_authentication_code_fills_the_text_and_the_button():
    assert [f["key"] for f in templates.variables(LISTED_CODE)] == ["code"]
    content = templates.compose(LISTED_CODE, {"code": "482913"})
    assert content["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "482913"}],
        },
    ]
    assert content["preview"] == (
        "*482913* is your verification code.\n\nThis code expires in 10 minutes."
    )
    assert content["buttons"] == ["📋 Copy code"]
    submitted = _approved(  # approved by webhook before any sync: Meta's wording meanwhile
        "AUTHENTICATION",
        [
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "FOOTER", "code_expiration_minutes": 5},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
        ],
    )
    assert templates.render(submitted, {"code": "77"}) == (
        "77 is your verification code. For your security, do not share this code."
        "\n\nThis code expires in 5 minutes."
    )
    with pytest.raises(AccessError) as long:
        templates.compose(LISTED_CODE, {"code": "1" * 16})
    assert long.value.code == "send.field_too_long"


PLACE = _approved(
    "UTILITY",
    [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Retire aqui, {{1}}."}],
)


def test_a_location_header_needs_coordinates_and_may_name_the_place():
    values = {"header:latitude": "-23,5614", "header:longitude": "-46.6559", "body:1": "Ana"}
    content = templates.compose(PLACE, values)
    assert content["components"][0] == {
        "type": "header",
        "parameters": [
            {"type": "location", "location": {"latitude": -23.5614, "longitude": -46.6559}}
        ],
    }
    named = {**values, "header:name": "Loja Paulista", "header:address": "Av. Paulista, 1000"}
    location = templates.compose(PLACE, named)["components"][0]["parameters"][0]["location"]
    assert location["name"] == "Loja Paulista" and location["address"] == "Av. Paulista, 1000"
    assert templates.render(PLACE, named).startswith("📍 Loja Paulista\nAv. Paulista, 1000")
    for bad in ("91", "north", ""):
        with pytest.raises(AccessError) as refused:
            templates.compose(PLACE, {**values, "header:latitude": bad})
        assert refused.value.code in ("template.coordinate_invalid", "template.value_missing")


OFFER = _approved(
    "MARKETING",
    [
        {
            "type": "LIMITED_TIME_OFFER",
            "limited_time_offer": {"text": "Só hoje!", "has_expiration": True},
        },
        {"type": "BODY", "text": "Use o cupom, {{1}}!"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "COPY_CODE", "example": "BF20"},
                {"type": "URL", "text": "Comprar", "url": "https://ex.com/{{1}}"},
            ],
        },
    ],
)


def test_a_limited_time_offer_ends_when_the_agent_says_in_the_organizations_zone():
    zone = zoneinfo.ZoneInfo("America/Sao_Paulo")
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    values = {"offer:expires": "2026-12-05T23:59", "body:1": "Ana"}
    values |= {"button:0": "BF20", "button:1": "bf"}
    content = templates.compose(OFFER, values, zone=zone, now=now)
    ends = dt.datetime(2026, 12, 5, 23, 59, tzinfo=zone)
    assert content["components"][0] == {
        "type": "limited_time_offer",
        "parameters": [
            {
                "type": "limited_time_offer",
                "limited_time_offer": {"expiration_time_ms": int(ends.timestamp() * 1000)},
            }
        ],
    }
    assert content["preview"].startswith("⏰ Só hoje!\n\nUse o cupom, Ana!")
    for bad, code in (
        ("2026-11-30T10:00", "template.expiry_past"),
        ("next friday", "template.expiry_invalid"),
    ):
        with pytest.raises(AccessError) as refused:
            templates.compose(OFFER, {**values, "offer:expires": bad}, zone=zone, now=now)
        assert refused.value.code == code


SHOP = _approved(
    "MARKETING",
    [
        {"type": "HEADER", "format": "TEXT", "text": "Novidades"},
        {"type": "BODY", "text": "Separamos estes para você."},
        {"type": "BUTTONS", "buttons": [{"type": "MPM", "text": "Ver itens"}]},
    ],
)


def test_products_for_a_multi_product_button_a_section_a_line():
    fields = templates.variables(SHOP)
    assert [(f["key"], f["kind"]) for f in fields] == [("button:0", "products")]
    content = templates.compose(SHOP, {"button:0": "Camisetas: SKU-1, SKU-2\nBonés: SKU-9"})
    assert content["components"] == [
        {
            "type": "button",
            "sub_type": "mpm",
            "index": "0",
            "parameters": [
                {
                    "type": "action",
                    "action": {
                        "thumbnail_product_retailer_id": "SKU-1",
                        "sections": [
                            {
                                "title": "Camisetas",
                                "product_items": [
                                    {"product_retailer_id": "SKU-1"},
                                    {"product_retailer_id": "SKU-2"},
                                ],
                            },
                            {"title": "Bonés", "product_items": [{"product_retailer_id": "SKU-9"}]},
                        ],
                    },
                }
            ],
        }
    ]
    too_many = ", ".join(f"S{n}" for n in range(31))
    for bad in ("SKU-1\nSKU-2", "Camisetas:", too_many, "x" * 25 + ": SKU-1"):
        with pytest.raises(AccessError) as refused:
            templates.compose(SHOP, {"button:0": bad})
        assert refused.value.code == "template.products_invalid"


def test_a_catalog_button_names_its_thumbnail_and_a_flow_button_takes_nothing():
    catalog = _approved(
        "MARKETING",
        [
            {"type": "BODY", "text": "Veja o catálogo."},
            {"type": "BUTTONS", "buttons": [{"type": "CATALOG", "text": "Ver catálogo"}]},
        ],
    )
    with pytest.raises(AccessError) as missing:
        templates.compose(catalog, {})
    assert missing.value.code == "template.value_missing"
    assert templates.compose(catalog, {"button:0": "SKU-7"})["components"] == [
        {
            "type": "button",
            "sub_type": "catalog",
            "index": "0",
            "parameters": [
                {"type": "action", "action": {"thumbnail_product_retailer_id": "SKU-7"}}
            ],
        }
    ]
    flow = _approved(
        "UTILITY",
        [
            {"type": "BODY", "text": "Agende sua visita."},
            {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Agendar", "flow_id": "1"}]},
        ],
    )
    assert templates.variables(flow) == [] and templates.compose(flow, {})["buttons"] == ["Agendar"]


CARDS = _approved(
    "MARKETING",
    [
        {"type": "BODY", "text": "Olá {{1}}, veja os quartos:"},
        {
            "type": "CAROUSEL",
            "cards": [
                {
                    "components": [
                        {"type": "HEADER", "format": "IMAGE"},
                        {"type": "BODY", "text": "Quarto {{1}}"},
                        {
                            "type": "BUTTONS",
                            "buttons": [
                                {"type": "QUICK_REPLY", "text": "Quero"},
                                {"type": "URL", "text": "Fotos", "url": "https://ex.com/{{1}}"},
                            ],
                        },
                    ]
                }
                for _ in range(2)
            ],
        },
    ],
)


def test_each_carousel_card_takes_its_own_media_text_and_link():
    fields = templates.variables(CARDS)
    assert [(f["key"], f["card"]) for f in fields] == [
        ("body:1", 0),
        ("card:0:header:link", 1),
        ("card:0:body:1", 1),
        ("card:0:button:1", 1),
        ("card:1:header:link", 2),
        ("card:1:body:1", 2),
        ("card:1:button:1", 2),
    ]
    values = {"body:1": "Ana"}
    for n in range(2):
        values |= {
            f"card:{n}:header:link": f"https://cdn.ex.com/{n}.jpg",
            f"card:{n}:body:1": f"Luxo {n}",
            f"card:{n}:button:1": f"q{n}",
        }
    content = templates.compose(CARDS, values)
    body, carousel = content["components"]
    assert body == {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}
    assert carousel["type"] == "carousel" and len(carousel["cards"]) == 2
    assert carousel["cards"][1] == {
        "card_index": 1,
        "components": [
            {
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": "https://cdn.ex.com/1.jpg"}}],
            },
            {"type": "body", "parameters": [{"type": "text", "text": "Luxo 1"}]},
            {  # which card's button was tapped comes back with the reply
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "card-2:Quero"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "1",
                "parameters": [{"type": "text", "text": "q1"}],
            },
        ],
    }
    assert (
        content["preview"] == "Olá Ana, veja os quartos:\n\n[1] Quarto Luxo 0\n\n[2] Quarto Luxo 1"
    )
    with pytest.raises(AccessError) as missing:
        templates.compose(CARDS, {**values, "card:1:header:link": ""})
    assert missing.value.code == "template.value_missing"


def test_a_product_header_and_product_cards_name_the_numbers_catalog():
    spm = _approved(
        "MARKETING",
        [
            {"type": "HEADER", "format": "PRODUCT"},
            {"type": "BODY", "text": "Separamos este para você."},
            {"type": "BUTTONS", "buttons": [{"type": "SPM", "text": "Ver"}]},
        ],
    )
    with pytest.raises(AccessError) as no_catalog:
        templates.compose(spm, {"header:product": "SKU-1"})
    assert no_catalog.value.code == "template.catalog_missing"
    content = templates.compose(spm, {"header:product": "SKU-1"}, catalog="19283746")
    assert content["components"] == [
        {
            "type": "header",
            "parameters": [
                {
                    "type": "product",
                    "product": {"product_retailer_id": "SKU-1", "catalog_id": "19283746"},
                }
            ],
        }
    ]
    assert content["preview"].startswith("🛍 SKU-1")
    card = {
        "components": [
            {"type": "HEADER", "format": "PRODUCT"},
            {"type": "BUTTONS", "buttons": [{"type": "SPM", "text": "Ver"}]},
        ]
    }
    shelf = _approved(
        "MARKETING",
        [{"type": "BODY", "text": "Novidades"}, {"type": "CAROUSEL", "cards": [card] * 2}],
    )
    values = {"card:0:header:product": "A", "card:1:header:product": "B"}
    cards = templates.compose(shelf, values, catalog="19283746")["components"][0]["cards"]
    assert [
        c["components"][0]["parameters"][0]["product"]["product_retailer_id"] for c in cards
    ] == [
        "A",
        "B",
    ]
