"""Chatbot flows without a database: what a step may hold (``definition``), what a flow
must not contain before it is published (``problems``), and how a run moves (``engine``)."""

from __future__ import annotations

import datetime as dt
import socket
import zoneinfo

import httpx
import pytest

from pytake import variables
from pytake.flows import calls, definition, engine
from pytake.flows.definition import StepError, clean_step, problems
from pytake.flows.engine import (
    AddLabel,
    Answer,
    Finish,
    Handoff,
    Jump,
    Remember,
    Request,
    Resolve,
    Response,
    Say,
    Sleep,
    Start,
    Timeout,
    Visit,
    advance,
)

SAO_PAULO = zoneinfo.ZoneInfo("America/Sao_Paulo")
# A Wednesday, 15:00 in São Paulo.
WEDNESDAY_3PM = dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC)


def step(kind: str, step_id: str, **fields) -> dict:
    return clean_step({"id": step_id, "kind": kind, **fields})


def flow(*steps: dict) -> dict:
    return {"steps": list(steps)}


def context(**changes) -> engine.Context:
    values = {
        "name": "Ana Silva",
        "wa_id": "5511999990000",
        "attributes": {},
        "channel_id": 1,
        "now": WEDNESDAY_3PM,
        "zone": SAO_PAULO,
        "open_now": None,
    }
    return engine.Context(**(values | changes))


def start(definition_: dict, ctx: engine.Context | None = None) -> engine.Outcome:
    return advance(definition_, {}, ctx or context(), Start())


def said(outcome: engine.Outcome) -> list[Say]:
    return [a for a in outcome.actions if isinstance(a, Say)]


def texts(outcome: engine.Outcome) -> list[str]:
    return [a.content["body"] for a in said(outcome) if a.kind == "text"]


def of(outcome: engine.Outcome, kind: type) -> list:
    return [a for a in outcome.actions if isinstance(a, kind)]


def finished(outcome: engine.Outcome) -> str | None:
    ends = of(outcome, Finish)
    assert len(ends) <= 1
    return ends[0].reason if ends else None


# Steps as the builder saves them ---------------------------------------------------------------


def test_clean_step_keeps_known_fields_with_their_defaults_and_drops_the_rest():
    cleaned = clean_step(
        {"id": "a1", "kind": "message", "text": "  Olá  ", "evil": "<script>", "next": "end"}
    )
    assert cleaned == {
        "id": "a1",
        "kind": "message",
        "text": "Olá",
        "media_type": "",
        "media_url": "",
        "template_id": 0,
        "template_values": "",
        "next": "end",
    }
    menu = clean_step({"id": "m", "kind": "menu", "options": "Vendas\n\n  Suporte   Técnico \n"})
    assert menu["options"] == [
        {"title": "Vendas", "next": ""},
        {"title": "Suporte Técnico", "next": ""},
    ]
    assert menu["fallback"] == "end"
    long_title = clean_step({"id": "m", "kind": "menu", "options": [{"title": "x" * 40}]})
    assert long_title["options"][0]["title"] == "x" * definition.ROW_TITLE
    assert clean_step({"id": "c", "kind": "condition", "days": [3, "1", 1]})["days"] == [1, 3]
    assert clean_step({"id": "h", "kind": "http", "timeout": "7"})["timeout"] == 7


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("message", "flows.bad_kind"),
        ({"id": "a", "kind": "sms"}, "flows.bad_kind"),
        ({"id": "a"}, "flows.bad_kind"),
        ({"kind": "message"}, "flows.bad_step"),
        ({"id": "UPPER", "kind": "message"}, "flows.bad_step"),
        ({"id": "a" * 13, "kind": "message"}, "flows.bad_step"),
        ({"id": 7, "kind": "message"}, "flows.bad_step"),
        ({"id": "a", "kind": "message", "next": "Not-an-id"}, "flows.bad_target"),
        (
            {"id": "a", "kind": "menu", "options": [{"title": "x", "next": "../"}]},
            "flows.bad_target",
        ),
        ({"id": "a", "kind": "menu", "options": {"title": "x"}}, "flows.bad_options"),
        ({"id": "a", "kind": "menu", "options": ["x"]}, "flows.bad_options"),
        (
            {"id": "a", "kind": "menu", "options": "\n".join("abcdefghijk")},
            "flows.too_many_options",
        ),
        ({"id": "a", "kind": "menu", "timeout": "soon"}, "flows.bad_number"),
        ({"id": "a", "kind": "menu", "timeout": 23 * 60 + 1}, "flows.out_of_range"),
        ({"id": "a", "kind": "menu", "timeout": -1}, "flows.out_of_range"),
        ({"id": "a", "kind": "handoff", "team_id": True}, "flows.out_of_range"),
        ({"id": "a", "kind": "http", "timeout": 0}, "flows.out_of_range"),
        ({"id": "a", "kind": "http", "timeout": 11}, "flows.out_of_range"),
        ({"id": "a", "kind": "wait", "minutes": 0}, "flows.out_of_range"),
        ({"id": "a", "kind": "condition", "days": [7]}, "flows.out_of_range"),
        ({"id": "a", "kind": "message", "text": "x" * 4097}, "flows.too_long"),
        ({"id": "a", "kind": "set", "label": "x" * 61}, "flows.too_long"),
        ({"id": "a", "kind": "message", "media_type": "gif"}, "flows.bad_choice"),
        ({"id": "a", "kind": "input", "check": "phone"}, "flows.bad_choice"),
        ({"id": "a", "kind": "condition", "op": "matches"}, "flows.bad_choice"),
        ({"id": "a", "kind": "condition", "test": "weather"}, "flows.bad_choice"),
        ({"id": "a", "kind": "http", "method": "DELETE"}, "flows.bad_choice"),
        ({"id": "a", "kind": "condition", "start": "24:00"}, "flows.bad_time"),
        ({"id": "a", "kind": "condition", "end": "9:00"}, "flows.bad_time"),
    ],
)
def test_clean_step_refuses(raw, code):
    with pytest.raises(StepError) as refused:
        clean_step(raw)
    assert refused.value.code == code


# Problems before publishing ----------------------------------------------------------------


def codes(found) -> list[tuple[int, str]]:
    return [(n, code) for n, code, _params in found]


GOOD = flow(
    step("message", "hi", text="Olá {{contact.first_name}}!"),
    step(
        "menu",
        "m",
        text="Como podemos ajudar?",
        options=[{"title": "Vendas", "next": "ask"}, {"title": "Suporte", "next": "end"}],
        attribute="assunto",
    ),
    step("input", "ask", text="Seu e-mail?", check="email", attribute="email"),
    step("message", "bye", text="Obrigado, {{contact.email}} ({{contact.assunto}})"),
    step("handoff", "h", team_id=3),
)


def test_a_sound_flow_has_no_problems():
    assert problems(GOOD, set(), []) == []


def test_an_empty_or_oversized_flow():
    assert codes(problems({"steps": []}, set(), [])) == [(0, "flows.problem.empty")]
    assert codes(problems(None, set(), [])) == [(0, "flows.problem.empty")]
    many = flow(*[step("message", f"s{n}", text="x") for n in range(definition.MAX_STEPS + 1)])
    assert codes(problems(many, set(), [])) == [(0, "flows.problem.too_many")]


def test_unknown_target_and_unreachable_step():
    found = problems(
        flow(
            step("message", "a", text="x", next="gone"),
            step("message", "b", text="never reached"),
        ),
        set(),
        [],
    )
    assert (1, "flows.problem.unknown_target") in codes(found)
    assert (2, "flows.problem.unreachable") in codes(found)
    assert next(p for p in found if p[1] == "flows.problem.unknown_target")[2] == {
        "branch": "flows.branch.next"
    }


def test_unknown_variables_unless_a_contact_has_it_or_a_step_fills_it():
    hello = flow(step("message", "a", text="{{contact.plan}} {{agent.name}} {{contact.name}}"))
    found = problems(hello, set(), [])
    assert [p[2]["name"] for p in found if p[1] == "flows.problem.unknown_variable"] == [
        "plan",
        "name",  # no agent speaks in a flow
    ]
    assert [p[2] for p in problems(hello, {"plan"}, [])] == [{"name": "name"}]
    filled = flow(
        step("set", "s", attribute="Plan", value="gold"),
        step("message", "a", text="{{contact.plan}}"),
    )
    assert problems(filled, set(), []) == []


def test_unknown_variables_in_headers_and_media_links_too():
    found = problems(
        flow(
            step("message", "a", media_type="image", media_url="https://x.test/{{contact.pic}}"),
            step("http", "h", url="https://api.test/x", headers="Authorization: {{contact.tok}}"),
        ),
        set(),
        ["api.test"],
    )
    names = [p[2]["name"] for p in found if p[1] == "flows.problem.unknown_variable"]
    assert names == ["pic", "tok"]


def test_a_last_menu_or_condition_needs_every_branch_pointed():
    found = problems(
        flow(step("menu", "m", text="?", options="Sim\nNão")), set(), []
    )  # options lead to "the next step", and there is none
    assert codes(found) == [(1, "flows.problem.branch_missing")] * 2
    found = problems(flow(step("condition", "c", attribute="x")), set(), [])
    assert codes(found).count((1, "flows.problem.branch_missing")) == 2


@pytest.mark.parametrize(
    ("steps", "hosts", "expected"),
    [
        (
            [step("input", "i", text="?", attribute="x", check="pattern", pattern="(")],
            [],
            "bad_pattern",
        ),
        ([step("input", "i", text="?", attribute="x", check="pattern")], [], "bad_pattern"),
        ([step("http", "h", url="https://evil.test/x")], ["api.test"], "host_not_allowed"),
        ([step("http", "h", url="ftp://api.test/x")], ["api.test"], "host_not_allowed"),
        ([step("http", "h", url="https://{{contact.host}}/x")], ["api.test"], "host_not_allowed"),
        ([step("http", "h", url="https://api.test/x", save="nope")], ["api.test"], "bad_mapping"),
        ([step("message", "a")], [], "nothing_to_send"),
        ([step("message", "a", media_type="image")], [], "media_incomplete"),
        ([step("menu", "m", options="a", fallback="end")], [], "no_question"),
        ([step("menu", "m", text="?")], [], "no_options"),
        (
            [step("menu", "m", text="?", options="Sim\nsim", fallback="end")],
            [],
            "duplicate_options",
        ),
        ([step("menu", "m", text="?", options="a\nb\nc\nd")], [], "list_button"),
        ([step("input", "i", text="?")], [], "no_attribute"),
        ([step("input", "i", text="?", attribute="e-mail!")], [], "bad_attribute"),
        ([step("condition", "c", test="channel", yes="end", no="end")], [], "no_channel"),
        ([step("condition", "c", test="time", yes="end", no="end")], [], "no_time"),
        ([step("set", "s")], [], "nothing_to_set"),
        ([step("handoff", "h")], [], "no_handoff_target"),
        ([step("jump", "j")], [], "no_flow"),
    ],
)
def test_step_problems(steps, hosts, expected):
    found = problems(flow(*steps), set(), hosts)
    assert f"flows.problem.{expected}" in [code for _n, code, _p in found]


def test_allowed_hosts_and_mappings_pass():
    fine = flow(
        step(
            "http",
            "h",
            url="https://API.test:8443/orders/{{contact.number}}",
            save="status = data.status\nfirst item = items[0].name",
        )
    )
    assert problems(fine, set(), ["api.test"]) == []
    assert definition.saved_attributes(fine["steps"]) == {"status", "first item"}
    assert definition.host_allowed("http://127.0.0.1:8080/x", ["127.0.0.1"])
    assert not definition.host_allowed("http://127.0.0.1.evil.test/x", ["127.0.0.1"])
    assert not definition.host_allowed("file:///etc/passwd", ["127.0.0.1"])


def test_a_menu_that_shows_as_a_list_needs_its_button_even_with_few_options():
    # Three options, but one is too long for a reply button: WhatsApp gets a list.
    titles = ("Sim", "Não", "Falar com um atendente")
    menu = step("menu", "m", text="?", options=[{"title": t, "next": "end"} for t in titles])
    assert engine.menu_content(menu, str)["kind"] == "list"
    assert "flows.problem.list_button" in [c for _n, c, _p in problems(flow(menu), set(), [])]


def test_texts_whatsapp_would_refuse_are_problems():
    found = problems(
        flow(
            step("menu", "m", text="x" * 1025, options=[{"title": "a", "next": "end"}]),
            step("message", "a", media_type="image", media_url="http://x.test/a.png", next="end"),
            step(
                "message",
                "b",
                media_type="image",
                media_url="https://x.test/a.png",
                text="y" * 1025,
            ),
        ),
        set(),
        [],
    )
    assert {(n, code) for n, code in codes(found)} >= {
        (1, "flows.too_long"),
        (2, "flows.problem.link_https"),
        (3, "flows.too_long"),
    }


def test_a_loop_that_can_never_wait_is_a_problem():
    found = problems(
        flow(step("message", "a", text="ping", next="b"), step("set", "b", label="x", next="a")),
        set(),
        [],
    )
    assert (1, "flows.problem.loop") in codes(found)
    # A loop through a question waits for the customer each time round: fine.
    asking = flow(
        step("message", "a", text="ping", next="b"),
        step("input", "b", text="?", attribute="x", next="a", fallback="end"),
    )
    assert problems(asking, set(), []) == []


# Running: messages ---------------------------------------------------------------------------


def test_a_message_fills_variables_then_the_run_ends():
    ctx = context(attributes={"Plano": "ouro"})
    outcome = start(
        flow(step("message", "a", text="Olá {{contact.first_name}}, plano {{contact.plano}}!")),
        ctx,
    )
    assert outcome.actions == [
        Visit("a", "message"),
        Say("text", {"body": "Olá Ana, plano ouro!"}, "a"),
        Finish("end"),
    ]
    assert outcome.cursor["step"] is None and outcome.cursor["taken"] == 1


def test_an_unknown_variable_is_left_out():
    outcome = start(flow(step("message", "a", text="Oi {{contact.apelido}}  , tudo bem?")))
    assert texts(outcome) == ["Oi , tudo bem?"]


def test_media_and_template_messages():
    outcome = start(
        flow(
            step(
                "message",
                "img",
                media_type="image",
                media_url="https://cdn.test/{{contact.number}}.png",
                text="Seu cupom, {{contact.first_name}}",
            ),
            step(
                "message", "aud", media_type="audio", media_url="https://cdn.test/a.ogg", text="x"
            ),
            step("message", "tpl", template_id=7, template_values="{{contact.name}}\nfixo"),
        )
    )
    assert [(s.kind, s.content) for s in said(outcome)] == [
        ("image", {"link": "https://cdn.test/+5511999990000.png", "caption": "Seu cupom, Ana"}),
        ("audio", {"link": "https://cdn.test/a.ogg"}),  # audio has no caption
        ("template", {"template_id": 7, "values": ["Ana Silva", "fixo"]}),
    ]
    assert finished(outcome) == "end"


# Menus ---------------------------------------------------------------------------------------


SUPPORT = flow(
    step(
        "menu",
        "m",
        text="Olá {{contact.first_name}}, escolha:",
        options=[
            {"title": "Vendas", "next": "v"},
            {"title": "Suporte Técnico", "next": "s"},
        ],
        attribute="assunto",
        retry="Não entendi.",
        fallback="f",
    ),
    step("message", "v", text="vendas", next="end"),
    step("message", "s", text="suporte", next="end"),
    step("message", "f", text="fallback", next="end"),
)


def test_a_menu_with_few_short_options_is_reply_buttons():
    outcome = start(SUPPORT)
    [menu] = said(outcome)
    assert menu.kind == "interactive"
    assert menu.content == {
        "kind": "button",
        "body": "Olá Ana, escolha:",
        "buttons": [
            {"id": "flow:m:0", "title": "Vendas"},
            {"id": "flow:m:1", "title": "Suporte Técnico"},
        ],
    }
    assert of(outcome, Sleep) == [Sleep(0)]
    assert outcome.cursor["waiting"] == "answer" and outcome.cursor["step"] == "m"
    assert finished(outcome) is None


def test_a_menu_with_many_options_is_a_list():
    menu = step("menu", "m", text="Escolha", options="a\nb\nc\nd", button="Ver opções")
    content = engine.menu_content(menu, str)
    assert content["kind"] == "list" and content["button"] == "Ver opções"
    assert [r["id"] for r in content["sections"][0]["rows"]] == [
        "flow:m:0",
        "flow:m:1",
        "flow:m:2",
        "flow:m:3",
    ]


@pytest.mark.parametrize(
    ("answer", "went"),
    [
        (Answer(text="2"), "suporte"),
        (Answer(text=" 2) "), "suporte"),
        (Answer(text="1."), "vendas"),
        (Answer(text="suporte tecnico"), "suporte"),  # typed, without the accent
        (Answer(text="VENDAS"), "vendas"),
        (Answer(text="Suporte Técnico", choice="flow:m:1"), "suporte"),  # tapped
        (Answer(text="whatever the title", choice="flow:m:0"), "vendas"),
    ],
)
def test_a_menu_answer_typed_or_tapped(answer, went):
    waiting = start(SUPPORT).cursor
    outcome = advance(SUPPORT, waiting, context(), answer)
    assert texts(outcome) == [went]
    title = "Vendas" if went == "vendas" else "Suporte Técnico"
    assert of(outcome, Remember) == [Remember("assunto", title)]
    assert Visit("m", "answer", title) in outcome.actions
    assert finished(outcome) == "end"


def test_invalid_answers_retry_then_fall_back():
    cursor = start(SUPPORT).cursor
    for n in range(1, engine.MAX_RETRIES):
        outcome = advance(SUPPORT, cursor, context(), Answer(text=str(n + 5)))
        cursor = outcome.cursor
        # Typed: the menu again as numbered text, which the customer can answer by typing.
        assert texts(outcome) == [
            "Não entendi.",
            "Olá Ana, escolha:\n\n1. Vendas\n2. Suporte Técnico",
        ]
        assert cursor["retries"] == n and cursor["step"] == "m"
        assert of(outcome, Sleep) == [Sleep(0)] and finished(outcome) is None
    # A tap on another step's menu (an old message) is not an answer either.
    outcome = advance(SUPPORT, cursor, context(), Answer(text="Sim", choice="flow:zz:0"))
    assert Visit("m", "no_answer") in outcome.actions
    assert texts(outcome) == ["fallback"] and finished(outcome) == "end"
    assert of(outcome, Remember) == []


def test_a_tapped_id_out_of_range_is_invalid():
    cursor = start(SUPPORT).cursor
    outcome = advance(SUPPORT, cursor, context(), Answer(text="", choice="flow:m:9"))
    assert outcome.cursor["retries"] == 1 and texts(outcome) == ["Não entendi."]
    assert [s.kind for s in said(outcome)] == ["text", "interactive"]  # tapped: buttons again


# Inputs --------------------------------------------------------------------------------------


ASK_EMAIL = flow(
    step(
        "input",
        "e",
        text="Seu e-mail?",
        check="email",
        attribute="email",
        retry="Não parece um e-mail.",
        fallback="end",
    ),
    step("message", "ok", text="Anotado: {{contact.email}}"),
)


def test_an_input_validates_and_remembers_the_normalized_value():
    ctx = context()
    outcome = start(ASK_EMAIL, ctx)
    assert texts(outcome) == ["Seu e-mail?"] and outcome.cursor["waiting"] == "answer"
    outcome = advance(ASK_EMAIL, outcome.cursor, ctx, Answer(text="ana arroba exemplo"))
    assert texts(outcome) == ["Não parece um e-mail."] and of(outcome, Remember) == []
    outcome = advance(ASK_EMAIL, outcome.cursor, ctx, Answer(text="Ana@Exemplo.com"))
    assert of(outcome, Remember) == [Remember("email", "ana@exemplo.com")]
    assert texts(outcome) == ["Anotado: ana@exemplo.com"]  # the value is usable at once
    assert ctx.attributes["email"] == "ana@exemplo.com"
    assert finished(outcome) == "end"


def test_an_input_without_retry_text_asks_again():
    plain = flow(step("input", "n", text="Quantos?", check="number", attribute="qty"))
    outcome = advance(plain, start(plain).cursor, context(), Answer(text="muitos"))
    assert texts(outcome) == ["Quantos?"]


def test_a_photo_is_not_an_answer_to_a_question():
    outcome = advance(ASK_EMAIL, start(ASK_EMAIL).cursor, context(), Answer())
    assert outcome.cursor["retries"] == 1 and of(outcome, Remember) == []


def test_an_input_gives_up_after_max_retries():
    cursor = start(ASK_EMAIL).cursor
    for _ in range(engine.MAX_RETRIES - 1):
        cursor = advance(ASK_EMAIL, cursor, context(), Answer(text="nope")).cursor
    outcome = advance(ASK_EMAIL, cursor, context(), Answer(text="nope"))
    assert Visit("e", "no_answer") in outcome.actions
    assert finished(outcome) == "end" and texts(outcome) == []  # fallback "end"


# Conditions ----------------------------------------------------------------------------------


def branch(test_step: dict, ctx: engine.Context) -> str:
    test_step = {**test_step, "yes": "y", "no": "n"}
    program = flow(
        test_step, step("message", "y", text="yes", next="end"), step("message", "n", text="no")
    )
    return texts(start(program, ctx))[0]


@pytest.mark.parametrize(
    ("op", "value", "have", "expected"),
    [
        ("equals", "Ouro", "ouro", "yes"),
        ("equals", "Ouro", "Ôuro ", "yes"),  # accents, case and spaces do not matter
        ("equals", "prata", "ouro", "no"),
        ("not_equals", "prata", "ouro", "yes"),
        ("contains", "our", "Tesouro", "yes"),
        ("contains", "", "Tesouro", "no"),
        ("starts_with", "tes", "Tesouro", "yes"),
        ("starts_with", "our", "Tesouro", "no"),
        ("is_set", "", "x", "yes"),
        ("is_set", "", None, "no"),
        ("is_empty", "", None, "yes"),
        ("is_empty", "", "x", "no"),
        ("greater", "1000", "1.234,56", "yes"),
        ("greater", "2000", "1.234,56", "no"),
        ("less", "10", "9,5", "yes"),
        ("less", "10", "dez", "no"),  # not a number: neither greater nor less
        ("greater", "{{contact.limit}}", "12", "yes"),  # the value may be a variable
    ],
)
def test_condition_on_an_attribute(op, value, have, expected):
    attributes = {"limit": "11"} | ({"Plano": have} if have is not None else {})
    test_step = step("condition", "c", attribute="plano", op=op, value=value)
    assert branch(test_step, context(attributes=attributes)) == expected


def test_condition_on_hours_and_channel():
    hours = step("condition", "c", test="hours")
    assert branch(hours, context(open_now=True)) == "yes"
    assert branch(hours, context(open_now=False)) == "no"
    assert branch(hours, context(open_now=None)) == "yes"  # no hours: always open
    channel = step("condition", "c", test="channel", channel_id=5)
    assert branch(channel, context(channel_id=5)) == "yes"
    assert branch(channel, context(channel_id=6)) == "no"


@pytest.mark.parametrize(
    ("fields", "local", "expected"),
    [
        ({"start": "09:00", "end": "18:00"}, (2026, 12, 2, 15, 0), "yes"),
        ({"start": "09:00", "end": "18:00"}, (2026, 12, 2, 18, 0), "no"),  # the end is out
        ({"start": "09:00", "end": "18:00"}, (2026, 12, 2, 8, 59), "no"),
        ({"start": "22:00", "end": "06:00"}, (2026, 12, 2, 23, 30), "yes"),  # across midnight
        ({"start": "22:00", "end": "06:00"}, (2026, 12, 3, 2, 0), "yes"),
        ({"start": "22:00", "end": "06:00"}, (2026, 12, 2, 15, 0), "no"),
        ({"days": [0, 1, 2, 3, 4]}, (2026, 12, 2, 15, 0), "yes"),  # Wednesday
        ({"days": [5, 6]}, (2026, 12, 2, 15, 0), "no"),
        ({"days": [2], "start": "09:00", "end": "12:00"}, (2026, 12, 2, 15, 0), "no"),
    ],
)
def test_condition_on_day_and_time_in_the_organizations_zone(fields, local, expected):
    now = dt.datetime(*local, tzinfo=SAO_PAULO).astimezone(dt.UTC)
    test_step = step("condition", "c", test="time", **fields)
    assert branch(test_step, context(now=now)) == expected


# Set, HTTP, wait ---------------------------------------------------------------------------


def test_set_remembers_a_filled_value_and_adds_a_label():
    outcome = start(
        flow(
            step("set", "s", attribute="origem", value="bot {{contact.first_name}}", label="VIP"),
            step("message", "m", text="{{contact.origem}}"),
        )
    )
    assert of(outcome, Remember) == [Remember("origem", "bot Ana")]
    assert of(outcome, AddLabel) == [AddLabel("VIP")]
    assert texts(outcome) == ["bot Ana"]


CALL = flow(
    step(
        "http",
        "h",
        method="POST",
        url="https://api.test/orders/{{contact.number}}",
        headers="Authorization: Bearer {{contact.token}}\nbroken header\nX-Empty:",
        body='{"name": "{{contact.name}}"}',
        timeout=3,
        save="status = order.status\nitem = order.items[1].name\nmissing = order.nope\npaid = paid",
        fallback="oops",
    ),
    step("message", "ok", text="Pedido {{contact.status}}: {{contact.item}}", next="end"),
    step("message", "oops", text="Sistema fora do ar"),
)


def test_http_requests_then_maps_the_response():
    ctx = context(attributes={"token": "s3cret"})
    outcome = start(CALL, ctx)
    assert of(outcome, Request) == [
        Request(
            "POST",
            "https://api.test/orders/+5511999990000",
            {"Authorization": "Bearer s3cret"},
            '{"name": "Ana Silva"}',
            3,
        )
    ]
    assert outcome.cursor["waiting"] == "http" and finished(outcome) is None
    data = {"order": {"status": "enviado", "items": [{"name": "a"}, {"name": "Caneca"}]}}
    outcome = advance(CALL, outcome.cursor, ctx, Response(200, {**data, "paid": True}))
    assert of(outcome, Remember) == [
        Remember("status", "enviado"),
        Remember("item", "Caneca"),
        Remember("paid", "true"),
    ]
    assert texts(outcome) == ["Pedido enviado: Caneca"] and finished(outcome) == "end"


@pytest.mark.parametrize(
    "response", [Response(failed="timeout"), Response(500, {"error": "x"}), Response(302)]
)
def test_a_failed_call_takes_the_fallback(response):
    cursor = start(CALL).cursor
    outcome = advance(CALL, cursor, context(), response)
    assert texts(outcome) == ["Sistema fora do ar"] and of(outcome, Remember) == []
    assert Visit("h", "http", response.failed or str(response.status)) in outcome.actions


def test_pick_reads_paths_as_text():
    data = {"a": {"b": [{"c": 1.5}, {"c": None}], "0": "zero"}, "t": True, "n": 0}
    assert engine.pick(data, "a.b[0].c") == "1.5"
    assert engine.pick(data, "a.b.0.c") == "1.5"
    assert engine.pick(data, "a.0") == "zero"
    assert engine.pick(data, "a.b[1].c") is None
    assert engine.pick(data, "a.b[2].c") is None
    assert engine.pick(data, "a.b") is None  # a list is not a value
    assert engine.pick(data, "t") == "true"
    assert engine.pick(data, "n") == "0"
    assert engine.pick(data, "x.y") is None
    assert engine.pick(["a", "b"], "[1]") == "b"
    assert engine.pick({"s": "x" * 900}, "s") == "x" * 500
    assert engine.pick(None, "a") is None


def test_wait_sleeps_then_continues_on_the_timer_only():
    program = flow(step("wait", "w", minutes=30), step("message", "m", text="voltei"))
    outcome = start(program)
    assert of(outcome, Sleep) == [Sleep(30)] and outcome.cursor["waiting"] == "wait"
    typed = advance(program, outcome.cursor, context(), Answer(text="oi?"))
    assert typed.actions == [] and typed.cursor == outcome.cursor
    outcome = advance(program, outcome.cursor, context(), Timeout())
    assert texts(outcome) == ["voltei"] and finished(outcome) == "end"


# Endings -------------------------------------------------------------------------------------


def test_handoff_resolve_and_jump_end_the_pass():
    outcome = start(flow(step("handoff", "h", team_id=4, user_id=9, text="Já te passo!")))
    assert outcome.actions[1:] == [
        Say("text", {"body": "Já te passo!"}, "h"),
        Handoff(4, 9),
        Finish("handoff"),
    ]
    outcome = start(flow(step("resolve", "r", text="Até logo")))
    assert texts(outcome) == ["Até logo"] and of(outcome, Resolve) == [Resolve()]
    assert finished(outcome) == "resolved"
    outcome = start(flow(step("jump", "j", flow_id=12), step("message", "m", text="no")))
    assert of(outcome, Jump) == [Jump(12)] and finished(outcome) is None
    assert texts(outcome) == [] and outcome.cursor["step"] is None


def test_a_question_times_out_with_one_reminder_then_its_fallback():
    program = flow(
        step(
            "input",
            "q",
            text="Seu CPF?",
            check="cpf_cnpj",
            attribute="cpf",
            timeout=10,
            reminder="Ainda está aí?",
            fallback="late",
        ),
        step("message", "ok", text="ok", next="end"),
        step("message", "late", text="Vou te passar para um atendente."),
    )
    outcome = start(program)
    assert of(outcome, Sleep) == [Sleep(10)]
    outcome = advance(program, outcome.cursor, context(), Timeout())
    assert texts(outcome) == ["Ainda está aí?"] and of(outcome, Sleep) == [Sleep(10)]
    assert outcome.cursor["reminded"] is True and outcome.cursor["step"] == "q"
    outcome = advance(program, outcome.cursor, context(), Timeout())
    assert Visit("q", "no_answer") in outcome.actions
    assert texts(outcome) == ["Vou te passar para um atendente."]
    assert finished(outcome) == "end"


def test_without_a_reminder_the_timeout_falls_back_at_once():
    menu = {**SUPPORT["steps"][0], "timeout": 5}
    program = flow(menu, *SUPPORT["steps"][1:])
    outcome = advance(program, start(program).cursor, context(), Timeout())
    assert texts(outcome) == ["fallback"]


def test_a_runaway_loop_stops():
    program = flow(
        step("message", "a", text="ping", next="b"),
        step("message", "b", text="pong", next="a"),
    )
    outcome = start(program)
    assert finished(outcome) == "loop"
    assert len(said(outcome)) == engine.MAX_STEPS_PER_PASS
    assert outcome.cursor["step"] is None


def test_a_long_straight_flow_ends_normally():
    program = flow(
        *[step("message", f"s{n}", text=str(n)) for n in range(engine.MAX_STEPS_PER_PASS)]
    )
    outcome = start(program)
    assert len(texts(outcome)) == engine.MAX_STEPS_PER_PASS
    assert finished(outcome) == "end"


def test_a_run_that_took_too_many_steps_stops():
    program = flow(step("message", "a", text="x"))
    cursor = engine.fresh_cursor("a", taken=engine.MAX_STEPS_PER_RUN)
    cursor["waiting"] = "wait"
    waiting = flow(step("wait", "a", minutes=1, next="a"))
    outcome = advance(waiting, cursor, context(), Timeout())
    assert finished(outcome) == "too_long"
    # A jump keeps counting: starting another flow does not reset the run's steps.
    outcome = advance(program, {"taken": engine.MAX_STEPS_PER_RUN}, context(), Start())
    assert finished(outcome) == "too_long" and said(outcome) == []


def test_a_missing_target_ends_the_run_as_broken_and_an_empty_flow_just_ends():
    broken = {"steps": [{**step("message", "a", text="x"), "next": "gone"}]}
    outcome = start(broken)
    assert texts(outcome) == ["x"] and finished(outcome) == "broken"
    assert finished(start({"steps": []})) == "end"


def test_events_the_bot_does_not_wait_for_change_nothing():
    cursor = start(SUPPORT).cursor
    stray = advance(SUPPORT, cursor, context(), Response(200, {}))  # a call it did not make
    assert stray.actions == [] and stray.cursor == cursor
    done = {**cursor, "step": None, "waiting": ""}
    assert advance(SUPPORT, done, context(), Answer(text="1")).actions == []


# Variables -----------------------------------------------------------------------------------


def test_variables_may_name_attributes_with_spaces_dots_and_dashes():
    text = "{{contact.first item}} {{ contact.e-mail }} {{contact.name}}"
    assert variables.names(text) == [
        ("contact", "first item"),
        ("contact", "e-mail"),
        ("contact", "name"),
    ]
    ctx = context(attributes={"First Item": "Caneca", "e-mail": "a@b.co"})
    assert ctx.fill(text) == "Caneca a@b.co Ana Silva"


def test_what_only_looks_like_a_variable_is_a_problem_not_sent_raw():
    assert variables.malformed("{{contato.nome}} {{contact.name}} {{ }}") == ["contato.nome", ""]
    found = problems(flow(step("message", "a", text="Oi {{contato.nome}}")), set(), [])
    assert found == [(1, "flows.problem.bad_variable", {"name": "contato.nome"})]


# Outside calls ---------------------------------------------------------------------------------


@pytest.fixture
def public_dns(monkeypatch):
    """``*.test`` names resolve to a public address (the egress guard resolves before the
    mock transport answers); other names as usual."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if str(host).endswith(".test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def _call(handler, url: str = "https://api.test/x", **fields) -> Response:
    request = Request(fields.pop("method", "GET"), url, fields.pop("headers", {}), "", 2)
    return calls.perform(request, ["api.test"], transport=httpx.MockTransport(handler))


@pytest.mark.usefixtures("public_dns")
def test_a_call_reads_json_and_never_follows_redirects_or_huge_answers():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"location": "https://evil.test/"})
        if request.url.path == "/huge":
            return httpx.Response(200, content=b"x" * (calls.MAX_RESPONSE + 1))
        if request.url.path == "/text":
            return httpx.Response(200, content=b"not json \xff")
        return httpx.Response(200, json={"ok": True})

    assert _call(handler) == Response(200, {"ok": True})
    assert _call(handler, "https://api.test/moved") == Response(302, None)
    assert [r.url.host for r in seen] == ["api.test", "api.test"]
    assert _call(handler, "https://api.test/huge") == Response(200, failed="too_large")
    assert _call(handler, "https://api.test/text") == Response(200, None)
    assert _call(handler, "https://other.test/x") == Response(failed="host_not_allowed")
    assert _call(handler, "http://[::1/x") == Response(failed="host_not_allowed")


@pytest.mark.usefixtures("public_dns")
def test_a_call_sends_customers_words_in_headers_and_survives_bad_ones():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    assert _call(handler, headers={"X-Name": "João"}) == Response(204, None)
    assert seen[-1].headers.get_list("x-name", split_commas=False) == ["João"]
    assert seen[-1].headers["user-agent"] == calls.USER_AGENT
    refused = _call(handler, headers={"Situação": "x"})  # a header name httpx refuses
    assert refused == Response(failed="UnicodeEncodeError") and len(seen) == 1

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    assert _call(slow) == Response(failed="timeout")
