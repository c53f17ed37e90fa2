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
        {"type": "HEADER", "format": "LOCATION"},
        {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Book"}]},
        {"type": "CAROUSEL", "cards": []},
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
