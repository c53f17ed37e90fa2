"""Meta's rules for a template, each with its own refusal, and the requests that submit or
edit it (media headers with their uploaded example included)."""

import json

import httpx
import pytest

from pytake.auth.errors import AccessError
from pytake.channels.base import Credentials
from pytake.channels.whatsapp import templates as rules
from pytake.channels.whatsapp.adapter import WhatsAppAdapter
from pytake.channels.whatsapp.graph import GraphClient

GOOD = {
    "name": "order_shipped",
    "category": "utility",
    "language": "pt_BR",
    "header": "Pedido {{1}}",
    "body": "Olá {{1}}, seu pedido {{2}} saiu para entrega.",
    "footer": "Loja Exemplo",
    "examples": {"1": "Ana", "2": "#123"},
    "buttons": [
        {"type": "quick_reply", "text": "Falar com alguém"},
        {"type": "url", "text": "Rastrear", "url": "https://ex.com/t/{{1}}", "example": "abc"},
        {"type": "phone", "text": "Ligar", "phone": "+55 (11) 91234-5678"},
        {"type": "copy_code", "example": "SAVE10"},
    ],
}


def test_a_good_draft_becomes_the_body_meta_documents():
    body = rules.create_body(rules.check(GOOD))
    assert body == {
        "name": "order_shipped",
        "language": "pt_BR",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "Pedido {{1}}",
                "example": {"header_text": ["Ana"]},
            },
            {
                "type": "BODY",
                "text": "Olá {{1}}, seu pedido {{2}} saiu para entrega.",
                "example": {"body_text": [["Ana", "#123"]]},
            },
            {"type": "FOOTER", "text": "Loja Exemplo"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Falar com alguém"},
                    {
                        "type": "URL",
                        "text": "Rastrear",
                        "url": "https://ex.com/t/{{1}}",
                        "example": ["abc"],
                    },
                    {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+5511912345678"},
                    {"type": "COPY_CODE", "example": "SAVE10"},
                ],
            },
        ],
    }


def test_named_variables_carry_their_names():
    draft = {
        **GOOD,
        "header": "",
        "body": "Oi {{first_name}}, seu código é {{code}}.",
        "examples": {"first_name": "Ana", "code": "42"},
        "buttons": [],
    }
    body = rules.create_body(rules.check(draft))
    assert body["parameter_format"] == "NAMED"
    assert body["components"][0]["example"] == {
        "body_text_named_params": [
            {"param_name": "first_name", "example": "Ana"},
            {"param_name": "code", "example": "42"},
        ]
    }


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": "Order Shipped"}, "template_draft.bad_name"),
        ({"name": ""}, "template_draft.required"),
        ({"category": "promo"}, "template_draft.bad_category"),
        ({"language": "xx"}, "template_draft.bad_language"),
        ({"body": ""}, "template_draft.required"),
        ({"body": "x" * 1025}, "template_draft.too_long"),
        ({"header": "x" * 61}, "template_draft.too_long"),
        (
            {"header": "{{1}} e {{2}}", "examples": {"1": "a", "2": "b"}},
            "template_draft.header_one_variable",
        ),
        ({"body": "Olá {{1}} e {{3}}."}, "template_draft.variables_in_sequence"),
        ({"body": "Olá {{1}} e {{nome}}."}, "template_draft.mixed_variables"),
        ({"body": "{{1}}, seu pedido {{2}} saiu."}, "template_draft.variable_at_edge"),
        ({"body": "Seu pedido saiu, {{1}}"}, "template_draft.variable_at_edge"),
        ({"body": "Olá {{Nome}} tudo bem?", "header": ""}, "template_draft.variable_name"),
        ({"examples": {"1": "Ana"}}, "template_draft.example_missing"),
        ({"footer": "Até {{1}}"}, "template_draft.footer_variables"),
        ({"buttons": [{"type": "call"}]}, "template_draft.bad_button"),
        (
            {"buttons": [{"type": "phone", "text": "a", "phone": "+5511912345678"}] * 2},
            "template_draft.button_limit",
        ),
        (
            {"buttons": [{"type": "url", "text": "a", "url": "http://x.com"}]},
            "template_draft.bad_url",
        ),
        (
            {"buttons": [{"type": "url", "text": "a", "url": "https://x.com/{{1}}/b"}]},
            "template_draft.url_variable",
        ),
        (
            {"buttons": [{"type": "phone", "text": "a", "phone": "11 9123"}]},
            "template_draft.bad_phone",
        ),
        (
            {"buttons": [{"type": "quick_reply", "text": "a"}] * 11},
            "template_draft.too_many_buttons",
        ),
        (
            {
                "buttons": [
                    {"type": "quick_reply", "text": "a"},
                    {"type": "copy_code", "example": "X"},
                    {"type": "quick_reply", "text": "b"},
                ]
            },
            "template_draft.quick_replies_together",
        ),
    ],
)
def test_each_rule_has_its_own_refusal(change, code):
    with pytest.raises(AccessError) as refused:
        rules.check({**GOOD, **change})
    assert refused.value.code == code


# Media headers, and editing ---------------------------------------------------------------

PROMO = {
    "name": "spring_sale",
    "category": "marketing",
    "language": "en_US",
    "header_format": "image",
    "header": "ignored: a media header has no text",
    "header_example": {"mime": "image/png", "size": 2048},
    "body": "Hi {{1}}, our spring sale starts today.",
    "examples": {"1": "Ana"},
}


def test_a_media_header_carries_the_uploaded_handle_as_meta_documents():
    checked = rules.check(PROMO)
    assert (checked["header_format"], checked["header"], checked["header_handle"]) == (
        "image",
        "",
        "",  # still to be uploaded
    )
    body = rules.create_body({**checked, "header_handle": "4::aW1hZ2U="})
    assert body == {
        "name": "spring_sale",
        "language": "en_US",
        "category": "MARKETING",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2U="]}},
            {
                "type": "BODY",
                "text": "Hi {{1}}, our spring sale starts today.",
                "example": {"body_text": [["Ana"]]},
            },
        ],
    }


@pytest.mark.parametrize(
    ("kind", "mime", "size"),
    [
        ("image", "image/jpeg", 5 * 2**20),
        ("video", "video/mp4", 16 * 2**20),
        ("document", "application/pdf", 1),
    ],
)
def test_each_media_kind_takes_its_types_up_to_metas_size(kind, mime, size):
    checked = rules.check(
        {**PROMO, "header_format": kind, "header_example": {"mime": mime, "size": size}}
    )
    assert rules.components({**checked, "header_handle": "h"})[0]["format"] == kind.upper()


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"header_format": "gif"}, "template_draft.bad_header", "kind of header"),
        ({"header_example": None}, "template_draft.example_file_missing", "example image"),
        (
            {"header_example": {"mime": "image/gif", "size": 10}},
            "template_draft.example_type",
            "example image must be JPEG, PNG",
        ),
        (
            {"header_format": "video", "header_example": {"mime": "image/png", "size": 10}},
            "template_draft.example_type",
            "example video must be MP4",
        ),
        (
            {"header_format": "document", "header_example": {"mime": "text/plain", "size": 10}},
            "template_draft.example_type",
            "example document must be PDF",
        ),
        (
            {"header_example": {"mime": "image/png", "size": 5 * 2**20 + 1}},
            "send.file_too_large",
            "at most 5.0 MB",
        ),
        (
            {"header_format": "video", "header_example": {"mime": "video/mp4", "size": 17 * 2**20}},
            "send.file_too_large",
            "at most 16.0 MB",
        ),
        ({"header_example": {"mime": "image/png", "size": 0}}, "send.file_empty", "empty"),
    ],
)
def test_media_header_rules_are_told_before_anything_is_uploaded(change, code, words):
    with pytest.raises(AccessError) as refused:
        rules.check({**PROMO, **change})
    assert refused.value.code == code
    assert words in refused.value.message("en")
    assert refused.value.message("pt-BR") != refused.value.message("en")


def test_an_edit_keeping_its_example_sends_the_handle_it_has():
    kept = {**PROMO, "header_example": None, "header_handle": "4::b2xk"}
    assert rules.components(rules.check(kept))[0]["example"] == {"header_handle": ["4::b2xk"]}


def test_the_edit_body_sends_components_and_the_category_only_when_it_changes():
    checked = rules.check(GOOD)
    assert rules.edit_body(checked, category=False) == {
        "components": rules.create_body(checked)["components"]
    }
    assert rules.edit_body(checked, category=True) == {
        "components": rules.create_body(checked)["components"],
        "category": "UTILITY",
    }


def test_a_stored_template_reads_back_into_the_editor():
    listed = rules.create_body(rules.check(GOOD))["components"]  # as Meta lists it: upper case
    draft = rules.draft_of(listed)
    again = rules.check({**GOOD, **draft})
    assert rules.components(again) == listed
    assert draft["header_format"] == "text" and draft["examples"] == {"1": "Ana", "2": "#123"}
    assert draft["buttons"][1] == {
        "type": "url",
        "text": "Rastrear",
        "url": "https://ex.com/t/{{1}}",
        "phone": "",
        "example": "abc",
        "flow_id": "",
        "screen": "",
    }
    media = rules.draft_of(
        [
            {"type": "HEADER", "format": "VIDEO", "example": {"header_handle": ["4::dmlk"]}},
            {
                "type": "BODY",
                "text": "Oi {{first_name}}!",
                "example": {
                    "body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]
                },
            },
        ]
    )
    assert (media["header_format"], media["header_handle"], media["header"]) == (
        "video",
        "4::dmlk",
        "",
    )
    assert media["examples"] == {"first_name": "Ana"} and media["buttons"] == []


@pytest.mark.parametrize(
    "component",
    [
        {"type": "HEADER", "format": "GIF"},
        {"type": "BUTTONS", "buttons": [{"type": "ORDER_DETAILS", "text": "Pay"}]},
        {"type": "ORDER_STATUS"},
    ],
)
def test_parts_the_editor_does_not_offer_are_never_dropped_by_an_edit(component):
    with pytest.raises(AccessError) as refused:
        rules.draft_of([{"type": "BODY", "text": "Hi"}, component])
    assert refused.value.code == "template.edit_unsupported"


async def test_the_resumable_upload_and_the_edit_are_the_requests_meta_documents(tmp_path):
    seen: list[httpx.Request] = []

    def meta(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/uploads"):
            return httpx.Response(200, json={"id": "upload:MTphdHRh?sig=ARZq"})
        if request.url.path.endswith("/upload:MTphdHRh"):
            return httpx.Response(200, json={"h": "4::aW1hZ2U="})
        return httpx.Response(200, json={"success": True})

    adapter = WhatsAppAdapter(GraphClient(httpx.AsyncClient(transport=httpx.MockTransport(meta))))
    credentials = Credentials({"access_token": "EAAtoken"})
    photo = tmp_path / "sale.png"
    photo.write_bytes(b"\x89PNG" + b"x" * 96)
    handle = await adapter.upload_template_example(
        "1234567890123456", credentials, photo, "image/png", "sale.png"
    )
    assert handle == "4::aW1hZ2U="
    session, data = seen
    assert (session.method, session.url.path) == ("POST", "/v26.0/1234567890123456/uploads")
    assert dict(session.url.params) == {
        "file_name": "sale.png",
        "file_length": "100",
        "file_type": "image/png",
    }
    assert session.headers["authorization"] == "Bearer EAAtoken"
    assert (data.method, data.url.path, dict(data.url.params)) == (
        "POST",
        "/v26.0/upload:MTphdHRh",
        {"sig": "ARZq"},
    )
    assert data.headers["authorization"] == "OAuth EAAtoken"  # as Meta's guide writes it
    assert data.headers["file_offset"] == "0"
    assert data.content == photo.read_bytes()

    checked = rules.check({**GOOD, "category": "marketing"})
    sent = await adapter.edit_template(credentials, "594425479261596", checked, category=True)
    edit = seen[-1]
    assert (edit.method, edit.url.path) == ("POST", "/v26.0/594425479261596")
    assert json.loads(edit.content) == {
        "components": rules.components(checked),
        "category": "MARKETING",
    }
    assert sent == rules.components(checked)


# Authentication, location headers, limited-time offers, flows and products -------------

AUTH = {"name": "login_code", "category": "authentication", "language": "en_US"}


def test_an_authentication_template_lets_meta_write_its_text():
    copy = {"otp": "copy_code", "security": True, "expiry": 10, "text": "Copy"}
    body = rules.create_body(rules.check({**AUTH, "body": "ignored", "auth": copy}))
    assert body["category"] == "AUTHENTICATION"
    assert body["components"] == [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
    ]
    one_tap = {
        "otp": "one_tap",
        "package": "com.example.shop",
        "signature": "K8a/AINcGX7",
        "autofill": "Autofill",
    }
    parts = rules.components(rules.check({**AUTH, "auth": one_tap}))
    assert parts == [
        {"type": "BODY", "add_security_recommendation": False},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "OTP",
                    "otp_type": "ONE_TAP",
                    "autofill_text": "Autofill",
                    "supported_apps": [
                        {"package_name": "com.example.shop", "signature_hash": "K8a/AINcGX7"}
                    ],
                }
            ],
        },
    ]
    zero_tap = {**one_tap, "otp": "zero_tap", "terms": True, "expiry": "5"}
    button = rules.components(rules.check({**AUTH, "auth": zero_tap}))[-1]["buttons"][0]
    assert button["otp_type"] == "ZERO_TAP" and button["zero_tap_terms_accepted"] is True
    assert "autofill_text" not in button


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ({"otp": "sms"}, "template_draft.bad_otp"),
        ({"expiry": 91}, "template_draft.bad_expiry"),
        ({"expiry": "ten"}, "template_draft.bad_expiry"),
        ({"otp": "one_tap", "signature": "K8a/AINcGX7"}, "template_draft.required"),
        (
            {"otp": "one_tap", "package": "shop", "signature": "K8a/AINcGX7"},
            "template_draft.bad_package",
        ),
        (
            {"otp": "one_tap", "package": "com.ex.shop", "signature": "short"},
            "template_draft.bad_signature",
        ),
        (
            {"otp": "zero_tap", "package": "com.ex.shop", "signature": "K8a/AINcGX7"},
            "template_draft.zero_tap_terms",
        ),
    ],
)
def test_authentication_choices_are_checked(auth, code):
    with pytest.raises(AccessError) as refused:
        rules.check({**AUTH, "auth": auth})
    assert refused.value.code == code


def test_a_location_header_takes_its_place_at_each_send():
    draft = {**GOOD, "header_format": "location", "buttons": []}
    assert rules.components(rules.check(draft))[0] == {"type": "HEADER", "format": "LOCATION"}


OFFER = {
    "name": "black_friday",
    "category": "marketing",
    "language": "pt_BR",
    "header_format": "none",
    "body": "Olá {{1}}, use o cupom e ganhe 20% até domingo!",
    "examples": {"1": "Ana"},
    "offer": {"enabled": True, "text": "Só hoje!", "expires": True},
    "buttons": [
        {"type": "copy_code", "example": "BF20"},
        {"type": "url", "text": "Comprar", "url": "https://ex.com/bf"},
    ],
}


def test_a_limited_time_offer_sits_above_the_body():
    parts = rules.components(rules.check(OFFER))
    assert parts[0] == {
        "type": "LIMITED_TIME_OFFER",
        "limited_time_offer": {"text": "Só hoje!", "has_expiration": True},
    }
    assert parts[1]["type"] == "BODY"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"category": "utility"}, "template_draft.offer_marketing"),
        ({"footer": "Loja"}, "template_draft.offer_footer"),
        (
            {"header_format": "document", "header_example": {"mime": "application/pdf", "size": 9}},
            "template_draft.offer_header",
        ),
        ({"body": "Olá {{1}}, " + "x" * 600}, "template_draft.too_long"),
        ({"buttons": [{"type": "copy_code", "example": "BF20"}]}, "template_draft.offer_buttons"),
        ({"buttons": OFFER["buttons"][1:]}, "template_draft.offer_code"),
        ({"offer": {"enabled": True, "text": "x" * 17}}, "template_draft.too_long"),
        ({"offer": {"enabled": True, "text": ""}}, "template_draft.required"),
    ],
)
def test_a_limited_time_offer_keeps_metas_restrictions(change, code):
    with pytest.raises(AccessError) as refused:
        rules.check({**OFFER, **change})
    assert refused.value.code == code


def test_flow_catalog_and_multi_product_buttons_as_meta_documents():
    flow = {"type": "flow", "text": "Agendar", "flow_id": "1234567890", "screen": "WELCOME"}
    buttons = rules.check({**GOOD, "buttons": [flow, {**flow, "type": "quick_reply"}]})["buttons"]
    assert rules.components({**rules.check(GOOD), "buttons": buttons})[-1]["buttons"][0] == {
        "type": "FLOW",
        "text": "Agendar",
        "flow_id": "1234567890",
        "flow_action": "navigate",
        "navigate_screen": "WELCOME",
    }
    endpoint = rules.check({**GOOD, "buttons": [{**flow, "screen": ""}]})
    assert rules.components(endpoint)[-1]["buttons"][0]["flow_action"] == "data_exchange"
    catalog = {**GOOD, "category": "marketing", "header_format": "none"}
    catalog["buttons"] = [{"type": "catalog", "text": "Ver catálogo"}]
    assert rules.components(rules.check(catalog))[-1] == {
        "type": "BUTTONS",
        "buttons": [{"type": "CATALOG", "text": "Ver catálogo"}],
    }
    mpm = {**GOOD, "category": "marketing", "buttons": [{"type": "mpm", "text": "Ver itens"}]}
    assert rules.components(rules.check(mpm))[-1]["buttons"] == [
        {"type": "MPM", "text": "Ver itens"}
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"buttons": [{"type": "flow", "text": "a", "flow_id": "abc"}]}, "template_draft.bad_flow"),
        (
            {"buttons": [{"type": "flow", "text": "a", "flow_id": "1", "screen": "no spaces"}]},
            "template_draft.bad_screen",
        ),
        (
            {"buttons": [{"type": "flow", "text": "a", "flow_id": "1"}] * 2},
            "template_draft.button_limit",
        ),
        (
            {"buttons": [{"type": "mpm", "text": "a"}, {"type": "quick_reply", "text": "b"}]},
            "template_draft.product_button_alone",
        ),
        ({"buttons": [{"type": "catalog", "text": "a"}]}, "template_draft.catalog_rules"),
        ({"buttons": [{"type": "mpm", "text": "a"}]}, "template_draft.products_marketing"),
        (
            {"header_format": "none", "buttons": [{"type": "mpm", "text": "a"}]},
            "template_draft.mpm_header",
        ),
    ],
)
def test_flow_and_product_buttons_keep_metas_rules(change, code):
    with pytest.raises(AccessError) as refused:
        rules.check({**GOOD, **change})
    assert refused.value.code == code


def test_new_kinds_read_back_into_the_editor():
    for draft in (
        {**OFFER, "header_format": "image", "header_handle": "4::aW1n"},
        {**GOOD, "header_format": "location"},
        {**GOOD, "buttons": [{"type": "flow", "text": "Agendar", "flow_id": "99", "screen": "A"}]},
    ):
        listed = rules.components(rules.check(draft))
        assert rules.components(rules.check({**draft, **rules.draft_of(listed)})) == listed
    submitted = rules.components(
        rules.check({**AUTH, "auth": {"otp": "copy_code", "security": True, "expiry": 15}})
    )
    assert rules.draft_of(submitted, "AUTHENTICATION")["auth"] | {"text": ""} == {
        **rules.EMPTY_DRAFT["auth"],
        "expiry": 15,
    }
    listed = [  # how Meta lists it: its own text, the button as a URL naming the kind
        {"type": "BODY", "text": "*{{1}}* is your verification code."},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Autofill",
                    "url": "https://www.whatsapp.com/otp/code/?otp_type=ONE_TAP&code=otp{{1}}",
                }
            ],
        },
    ]
    auth = rules.draft_of(listed, "authentication")["auth"]
    assert (auth["otp"], auth["security"], auth["expiry"], auth["text"]) == (
        "one_tap",
        False,
        0,
        "Autofill",
    )


def _card(n: int, **extra) -> dict:
    return {
        "body": f"Quarto {n} por {{{{1}}}} a noite",
        "examples": {"1": "R$ 300"},
        "header_handle": f"4::card{n}",
        "buttons": [
            {"type": "quick_reply", "text": "Quero este"},
            {"type": "url", "text": "Ver fotos", "url": "https://ex.com/q/{{1}}", "example": "1"},
        ],
        **extra,
    }


CAROUSEL = {
    "name": "quartos_verao",
    "category": "marketing",
    "language": "pt_BR",
    "body": "Olá {{1}}, veja nossos quartos para o verão:",
    "examples": {"1": "Ana"},
    "carousel": {"enabled": True, "format": "image", "cards": [_card(1), _card(2)]},
}


def test_a_carousel_sends_its_cards_as_meta_documents():
    parts = rules.components(rules.check(CAROUSEL))
    assert [p["type"] for p in parts] == ["BODY", "CAROUSEL"]
    first = parts[1]["cards"][0]["components"]
    assert first == [
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::card1"]}},
        {
            "type": "BODY",
            "text": "Quarto 1 por {{1}} a noite",
            "example": {"body_text": [["R$ 300"]]},
        },
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Quero este"},
                {
                    "type": "URL",
                    "text": "Ver fotos",
                    "url": "https://ex.com/q/{{1}}",
                    "example": ["1"],
                },
            ],
        },
    ]
    draft = rules.draft_of(parts)
    assert draft["carousel"]["cards"][1]["header_handle"] == "4::card2"
    assert rules.components(rules.check({**CAROUSEL, **draft})) == parts
    new_file = {**_card(3), "header_handle": "", "header_example": {"mime": "image/png", "size": 9}}
    waiting = rules.check(
        {**CAROUSEL, "carousel": {**CAROUSEL["carousel"], "cards": [_card(1), new_file]}}
    )
    assert waiting["carousel"]["cards"][1]["header_handle"] == ""  # uploaded on submit


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"category": "utility"}, "template_draft.carousel_marketing"),
        ({"footer": "Hotel"}, "template_draft.carousel_alone"),
        ({"buttons": [{"type": "quick_reply", "text": "a"}]}, "template_draft.carousel_alone"),
        (
            {"carousel": {"enabled": True, "format": "document", "cards": [_card(1)] * 2}},
            "template_draft.bad_header",
        ),
        (
            {"carousel": {"enabled": True, "format": "image", "cards": [_card(1)]}},
            "template_draft.card_count",
        ),
        (
            {"carousel": {"enabled": True, "format": "image", "cards": [_card(1)] * 11}},
            "template_draft.card_count",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1), _card(2, buttons=[{"type": "quick_reply", "text": "a"}])],
                }
            },
            "template_draft.cards_alike",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1, buttons=[]), _card(2, buttons=[])],
                }
            },
            "template_draft.card_buttons",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1, buttons=[{"type": "copy_code", "example": "X"}])] * 2,
                }
            },
            "template_draft.card_buttons",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1, body="x" * 161)] * 2,
                }
            },
            "template_draft.too_long",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1, header_handle="")] * 2,
                }
            },
            "template_draft.example_file_missing",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1, examples={})] * 2,
                }
            },
            "template_draft.example_missing",
        ),
        (
            {
                "carousel": {
                    "enabled": True,
                    "format": "image",
                    "cards": [_card(1, body="Por {{preco}}", examples={"preco": "R$ 1"})] * 2,
                }
            },
            "template_draft.mixed_variables",
        ),
    ],
)
def test_a_carousel_keeps_metas_rules(change, code):
    with pytest.raises(AccessError) as refused:
        rules.check({**CAROUSEL, **change})
    assert refused.value.code == code


def test_product_templates_show_an_item_of_the_catalog():
    spm = {**GOOD, "category": "marketing", "header_format": "product", "header": ""}
    spm["buttons"] = [{"type": "spm", "text": "Ver produto"}]
    parts = rules.components(rules.check(spm))
    assert parts[0] == {"type": "HEADER", "format": "PRODUCT"}
    assert parts[-1] == {"type": "BUTTONS", "buttons": [{"type": "SPM", "text": "Ver produto"}]}
    for change in ({"header_format": "none"}, {"buttons": []}):
        with pytest.raises(AccessError) as refused:
            rules.check({**spm, **change})
        assert refused.value.code == "template_draft.product_header"
    cards = [{"buttons": [{"type": "spm", "text": "Ver"}]}] * 3
    carousel = {**CAROUSEL, "carousel": {"enabled": True, "format": "product", "cards": cards}}
    (_body, listed) = rules.components(rules.check(carousel))
    assert listed["cards"][0] == {
        "components": [
            {"type": "HEADER", "format": "PRODUCT"},
            {"type": "BUTTONS", "buttons": [{"type": "SPM", "text": "Ver"}]},
        ]
    }
    assert rules.draft_of([_body, listed])["carousel"]["format"] == "product"
    quick = [{"buttons": [{"type": "quick_reply", "text": "a"}]}] * 2
    with pytest.raises(AccessError) as refused:
        rules.check({**carousel, "carousel": {**carousel["carousel"], "cards": quick}})
    assert refused.value.code == "template_draft.product_card_buttons"


def test_a_template_may_ask_to_call_and_offer_a_whatsapp_call():
    draft = {**GOOD, "call_permission": True, "buttons": [{"type": "voice_call", "text": "Ligar"}]}
    parts = rules.components(rules.check(draft))
    assert parts[-2:] == [
        {"type": "BUTTONS", "buttons": [{"type": "VOICE_CALL", "text": "Ligar"}]},
        {"type": "CALL_PERMISSION_REQUEST"},
    ]
    back = rules.draft_of(parts)
    assert back["call_permission"] is True and back["buttons"][0]["type"] == "voice_call"
    assert rules.check({**draft, **AUTH})["call_permission"] is False  # Meta's text only
