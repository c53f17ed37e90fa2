"""Filling a template: which variables the agent fills, the request components built from
them exactly as Meta documents, and the text the customer will read."""

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
