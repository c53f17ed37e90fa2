"""What the sandbox phone shows for each kind of message."""

from pytake.sandbox import payloads as p
from pytake.sandbox.live import Entry
from pytake.sandbox.screen import lines

TEMPLATE = {
    "name": "pedido",
    "language": "pt_BR",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
        {"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu. {{3}}"},
        {"type": "FOOTER", "text": "Acme"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Parar"},
                {"type": "URL", "text": "Rastrear", "url": "https://acme.test/{{1}}"},
            ],
        },
    ],
}


def _templates(name: str, language: str) -> dict | None:
    return TEMPLATE if (name, language) == ("pedido", "pt_BR") else None


def _business(body: dict, wamid: str = "wamid.b") -> Entry:
    return Entry(wamid, False, {"messaging_product": "whatsapp", "to": "55", **body}, 0.0)


def test_a_template_shows_with_its_parameters_and_quick_replies():
    send = {
        "type": "template",
        "template": {
            "name": "pedido",
            "language": {"code": "pt_BR"},
            "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "#42"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "STOP"}],
                },
            ],
        },
    }
    (line,) = lines([_business(send)], _templates)
    assert line["header"] == "Pedido #42"
    assert line["text"] == "Olá Ana, seu pedido #42 saiu. {{3}}"  # a missing one stays visible
    assert line["footer"] == "Acme"
    assert line["buttons"] == [
        {"id": "STOP", "title": "Parar", "tap": "template"},
        {"id": "https://acme.test/{{1}}", "title": "Rastrear", "tap": "url"},
    ]


def test_an_unknown_template_shows_its_name():
    send = {"type": "template", "template": {"name": "gone", "language": {"code": "en"}}}
    assert lines([_business(send)], _templates)[0]["text"] == "gone"


def test_list_rows_become_taps_and_quotes_name_the_quoted_message():
    menu = _business(
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Escolha"},
                "action": {
                    "button": "Opções",
                    "sections": [{"title": "A", "rows": [{"id": "r1", "title": "Vendas"}]}],
                },
            },
        },
        "wamid.menu",
    )
    answer = p.list_reply("r1", "Vendas", sender="55", context=p.reply_context("wamid.menu", "1"))
    menu_line, answer_line = lines([menu, Entry(answer["id"], True, answer, 0.0)], _templates)
    assert menu_line["buttons"] == [{"id": "r1", "title": "Vendas", "tap": "row"}]
    assert (answer_line["mine"], answer_line["text"], answer_line["quote"]) == (
        True,
        "Vendas",
        "Escolha",
    )


def test_media_voice_notes_places_and_cards():
    photo = p.image("1", sender="55", caption="olha")
    voice = p.audio("2", sender="55", voice=True)
    place = p.location(-23.5, -46.6, sender="55", name="Loja", address="Av. Paulista")
    card = p.contacts([{"name": {"formatted_name": "Bia"}}], sender="55")
    shown = lines([Entry(m["id"], True, m, 0.0) for m in (photo, voice, place, card)], _templates)
    assert [(line["kind"], line["text"], line["media"]) for line in shown] == [
        ("image", "olha", ""),
        ("voice", "", ""),
        ("location", "", "Loja, Av. Paulista (-23.5, -46.6)"),
        ("contacts", "", "Bia"),
    ]


def test_a_carousel_shows_each_card_filled_in():
    stored = {
        "name": "quartos",
        "language": "pt_BR",
        "components": [
            {"type": "BODY", "text": "Olá {{1}}:"},
            {
                "type": "CAROUSEL",
                "cards": [
                    {
                        "components": [
                            {"type": "HEADER", "format": "IMAGE"},
                            {"type": "BODY", "text": "Quarto {{1}}"},
                        ]
                    },
                    {"components": [{"type": "HEADER", "format": "PRODUCT"}]},
                ],
            },
        ],
    }
    send = {
        "type": "template",
        "template": {
            "name": "quartos",
            "language": {"code": "pt_BR"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
                {
                    "type": "carousel",
                    "cards": [
                        {
                            "card_index": 0,
                            "components": [
                                {"type": "body", "parameters": [{"type": "text", "text": "Luxo"}]}
                            ],
                        }
                    ],
                },
            ],
        },
    }
    (line,) = lines([_business(send)], lambda name, language: stored)
    assert line["text"] == "Olá Ana:\n\n[1] Quarto Luxo\n\n[2] 🛍"
