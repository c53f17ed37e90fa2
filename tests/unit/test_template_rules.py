"""Meta's rules for a new template, each with its own refusal, and the submitted body."""

import pytest

from pytake.auth.errors import AccessError
from pytake.channels.whatsapp import templates as rules

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
