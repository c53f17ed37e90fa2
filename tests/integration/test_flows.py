"""Chatbot flows on real conversations: building and publishing them, what starts them,
customers going through menus and questions, hand-off to people, HTTP steps against a real
server, timers, crashes, and the customer's STOP."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import socket
import threading
import time
import zoneinfo

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError, NotAllowed
from pytake.flows import calls, definition, engine, rehearsal
from pytake.jobs import flows as flow_jobs
from pytake.jobs import runner
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    ConversationLabel,
    Flow,
    FlowRun,
    FlowVersion,
    Label,
    Message,
    MessageTemplate,
    Organization,
    Role,
    Team,
    TeamMember,
    utcnow,
)
from pytake.sandbox import payloads as p
from pytake.services import (
    actions,
    assignment,
    bot,
    flows,
    hours,
    organization,
    outbound,
    runs,
    teams,
    templates,
)
from pytake.services.effects import Effects

from .conftest import ANA, WABA, rows

BIA = "447700900456"


@pytest.fixture
def wa(whatsapp, settings_env):
    """The ``whatsapp`` fixture, without the per-customer send limit in the way."""
    settings_env(pair_limit="1000")
    return whatsapp


def _step(kind: str, step_id: str, **fields) -> dict:
    return definition.clean_step({"id": step_id, "kind": kind, **fields})


def _published(identity, name: str, steps: list[dict], **settings) -> int:
    """A flow with these steps, published and switched on (a new conversation starts it
    unless ``settings`` say otherwise)."""
    with db.session(write=True) as s:
        flow = flows.create(s, identity, name)
        flow.draft = {"steps": steps}
        flows.publish(s, identity, flow.id)
        form = {"trigger": "new_conversation", "active": True} | settings
        flows.save_settings(s, identity, flow.id, form)
        return flow.id


async def _say(wa, *messages: dict, number: str = ANA, name: str = "Ana Silva") -> None:
    await wa.send(*messages, contacts=[p.profile(number, name)])
    await wa.drain()


def _text(body: str, wamid: str | None = None, number: str = ANA) -> dict:
    return p.text(body, sender=number, wamid=wamid)


def _bot_messages(conversation_id: int | None = None) -> list[Message]:
    where = [Message.client_key.like("flow-%")]
    if conversation_id is not None:
        where.append(Message.conversation_id == conversation_id)
    return rows(Message, *where)


def _shown(message: Message) -> str:
    return message.content.get("body") or message.content.get("caption") or ""


def _sent(wa, number: str = ANA) -> list[str]:
    """What the customer's phone received, in order: texts and interactive bodies."""
    found = []
    for item in wa.sim.sent:
        if item.get("to", "").lstrip("+") != number:
            continue
        if item["type"] == "text":
            found.append(item["text"]["body"])
        elif item["type"] == "interactive":
            found.append(item["interactive"]["body"]["text"])
        else:
            found.append(item["type"])
    return found


def _buttons(wa) -> dict[str, str]:
    """The latest reply buttons sent: title → id."""
    last = next(m for m in reversed(wa.sim.sent) if m["type"] == "interactive")
    buttons = last["interactive"]["action"]["buttons"]
    return {b["reply"]["title"]: b["reply"]["id"] for b in buttons}


def _conversation(number: str = ANA) -> Conversation:
    with db.session() as s:
        return s.exec(
            select(Conversation)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.wa_id == number)
            .order_by(Conversation.id.desc())
        ).first()


def _run(conversation_id: int | None = None) -> FlowRun:
    where = [FlowRun.conversation_id == conversation_id] if conversation_id else []
    return rows(FlowRun, *where)[-1]


def _contact(number: str = ANA) -> Contact:
    with db.session() as s:
        return s.exec(select(Contact).where(Contact.wa_id == number)).one()


def _due_now(run_id: int) -> None:
    """Let a run's timer run out."""
    past = utcnow() - dt.timedelta(seconds=1)
    with db.session(write=True) as s:
        s.execute(
            sa.update(FlowRun)
            .where(FlowRun.id == run_id)
            .values(wake_at=past, next_attempt_at=past)
        )


def _team(organization_id: int, name: str) -> int:
    with db.session(write=True) as s:
        return teams.create(s, organization_id, name).id


# Building ---------------------------------------------------------------------------------


def test_building_a_flow_step_by_step_then_publishing(wa, owner_of):
    sales = _team(wa.organization_id, "Vendas")
    with db.session(write=True) as s:
        flow_id = flows.create(s, owner_of, "  Atendimento   inicial ").id
        with pytest.raises(AccessError, match="flows.name_taken"):
            flows.create(s, owner_of, "Atendimento inicial")
        greeting = flows.add_step(s, owner_of, flow_id, "message")
        menu = flows.add_step(s, owner_of, flow_id, "menu")
        handoff = flows.add_step(s, owner_of, flow_id, "handoff")
        extra = flows.add_step(s, owner_of, flow_id, "wait")
        with pytest.raises(AccessError, match="flows.bad_kind"):
            flows.add_step(s, owner_of, flow_id, "teleport")
    with db.session(write=True) as s:
        # Nothing filled in yet: every problem is listed, and nothing is published.
        with pytest.raises(flows.NotPublishable) as refused:
            flows.publish(s, owner_of, flow_id)
        found = {(n, code) for n, code, _ in refused.value.problems}
        assert (1, "flows.problem.nothing_to_send") in found
        assert (2, "flows.problem.no_question") in found
        assert (2, "flows.problem.no_options") in found
        assert (3, "flows.problem.no_handoff_target") in found
        assert (4, "flows.problem.unreachable") in found  # after a hand-off nothing runs
        assert refused.value.code == "flows.not_publishable"
        assert s.get(Flow, flow_id).version_id is None

        flows.save_step(s, owner_of, flow_id, {"id": greeting, "text": "Olá!", "kind": "jump"})
        flows.save_step(
            s,
            owner_of,
            flow_id,
            {"id": menu, "text": "Como ajudar?", "options": "Vendas\nSuporte", "fallback": ""},
        )
        flows.save_step(s, owner_of, flow_id, {"id": handoff, "team_id": sales})
        with pytest.raises(AccessError, match="flows.too_long"):
            flows.save_step(s, owner_of, flow_id, {"id": greeting, "text": "x" * 5000})
        with pytest.raises(AccessError, match="flows.step_not_found"):
            flows.save_step(s, owner_of, flow_id, {"id": "nope", "text": "x"})
        flows.set_target(s, owner_of, flow_id, menu, "option:1", definition.END)
        with pytest.raises(AccessError, match="flows.bad_target"):
            flows.set_target(s, owner_of, flow_id, menu, "option:5", definition.END)
        with pytest.raises(AccessError, match="flows.bad_target"):
            flows.set_target(s, owner_of, flow_id, menu, "fallback", "missing")
        with pytest.raises(AccessError, match="flows.bad_target"):
            flows.set_target(s, owner_of, flow_id, greeting, "yes", definition.END)
        flows.move_step(s, owner_of, flow_id, extra, -1)  # the wait before the hand-off
        assert [x["id"] for x in flows.editor(s, owner_of, flow_id)["steps"]] == [
            greeting,
            menu,
            extra,
            handoff,
        ]
        flows.move_step(s, owner_of, flow_id, extra, 1)
        flows.set_target(s, owner_of, flow_id, menu, "fallback", extra)
        flows.delete_step(s, owner_of, flow_id, extra)  # what led there now ends
    with db.session(write=True) as s:
        page = flows.editor(s, owner_of, flow_id)
        assert page["name"] == "Atendimento inicial" and page["version"] == 0
        assert page["changed"] is True
        steps = page["steps"]
        assert [x["kind"] for x in steps] == ["message", "menu", "handoff"]  # the kind stayed
        assert steps[0]["text"] == "Olá!"
        assert steps[1]["options"] == [
            {"title": "Vendas", "next": ""},
            {"title": "Suporte", "next": "end"},
        ]
        assert steps[1]["fallback"] == "end"
        assert flows.problems(s, owner_of, flow_id) == []
        assert flows.publish(s, owner_of, flow_id) == 1
    with db.session(write=True) as s:
        page = flows.editor(s, owner_of, flow_id)
        assert page["version"] == 1 and page["changed"] is False
        with pytest.raises(AccessError, match="flows.trigger_value_required"):
            flows.save_settings(s, owner_of, flow_id, {"trigger": "keyword"})
        with pytest.raises(AccessError, match="flows.bad_channel"):
            flows.save_settings(s, owner_of, flow_id, {"channel_ids": [wa.channel_id + 99]})
        flows.save_settings(
            s,
            owner_of,
            flow_id,
            {"trigger": "keyword", "trigger_value": "menu, ajuda", "active": "on", "priority": 5},
        )
        [listed] = flows.listing(s, owner_of)
        assert (listed["version"], listed["steps"], listed["active"]) == (1, 3, True)
        assert listed["priority"] == 5 and listed["running"] == 0
        choices = flows.references(s, owner_of)
        assert {"value": str(sales), "name": "Vendas"} in choices["teams"]


def test_only_admins_of_the_organization_reach_its_flows(wa, owner_of):
    with db.session(write=True) as s:
        mine = flows.create(s, owner_of, "Mine").id
        other = Organization(name="Other", slug="other")
        s.add(other)
        s.flush()
        theirs = Flow(organization_id=other.id, name="Theirs", draft={"steps": []})
        s.add(theirs)
        s.flush()
        theirs_id = theirs.id
    agent = dataclasses.replace(owner_of, role=Role.AGENT)
    for call in (
        lambda s: flows.listing(s, agent),
        lambda s: flows.create(s, agent, "Nope"),
        lambda s: flows.editor(s, agent, mine),
        lambda s: flows.add_step(s, agent, mine, "message"),
        lambda s: flows.publish(s, agent, mine),
        lambda s: flows.delete(s, agent, mine),
    ):
        with db.session(write=True) as s, pytest.raises(NotAllowed):
            call(s)
    for call in (
        lambda s: flows.editor(s, owner_of, theirs_id),
        lambda s: flows.add_step(s, owner_of, theirs_id, "message"),
        lambda s: flows.save_settings(s, owner_of, theirs_id, {"name": "Stolen"}),
        lambda s: flows.publish(s, owner_of, theirs_id),
        lambda s: flows.delete(s, owner_of, theirs_id),
        lambda s: flows.editor(s, owner_of, str(mine)),  # ids are ints, never strings
        lambda s: flows.editor(s, owner_of, True),
    ):
        with db.session(write=True) as s, pytest.raises(AccessError, match="flows.not_found"):
            call(s)
    with db.session() as s:
        assert s.get(Flow, theirs_id).name == "Theirs"
        # A jump to another organization's flow is a problem, never a way in.
        flow = s.get(Flow, mine)
        flow.draft = {"steps": [_step("jump", "j", flow_id=theirs_id)]}
        assert flows._problems(s, flow) == [
            (1, "flows.problem.missing_reference", {"field": "flows.field.flow"})
        ]


async def test_a_run_finishes_on_the_version_it_started_on(wa, owner_of):
    steps = [
        _step("input", "q", text="Seu nome?", attribute="nome"),
        _step("message", "bye", text="v1: obrigado, {{contact.nome}}"),
    ]
    flow_id = _published(owner_of, "Versões", steps)
    await _say(wa, _text("oi"))
    assert _sent(wa) == ["Seu nome?"]
    with db.session(write=True) as s:
        flow = s.get(Flow, flow_id)
        flow.draft = {"steps": [steps[0], {**steps[1], "text": "v2: valeu, {{contact.nome}}"}]}
        assert flows.publish(s, owner_of, flow_id) == 2
    await _say(wa, _text("Ana"))
    assert _sent(wa) == ["Seu nome?", "v1: obrigado, Ana"]
    await _say(wa, _text("oi", number=BIA), number=BIA, name="Bia")
    await _say(wa, _text("Bia", number=BIA), number=BIA, name="Bia")
    assert _sent(wa, BIA) == ["Seu nome?", "v2: valeu, Bia"]
    with db.session() as s:
        numbers = [s.get(FlowVersion, run.version_id).number for run in rows(FlowRun)]
    assert numbers == [1, 2]
    assert [run.state for run in rows(FlowRun)] == ["done", "done"]


# Triggers ---------------------------------------------------------------------------------


async def test_what_starts_which_flow(wa, owner_of):
    with db.session(write=True) as s:
        elsewhere = Channel(
            organization_id=wa.organization_id, kind="whatsapp", name="2", external_id="pn-2"
        )
        s.add(elsewhere)
        s.flush()
        elsewhere_id = elsewhere.id

    def saying(text: str) -> list[dict]:
        return [_step("message", "m", text=text)]

    _published(owner_of, "Outro número", saying("other"), priority=1, channel_ids=[elsewhere_id])
    _published(owner_of, "Boas-vindas", saying("welcome"), priority=20)
    _published(owner_of, "Reserva", saying("second best"), priority=30)
    _published(
        owner_of,
        "Promo",
        saying("promo"),
        trigger="keyword",
        trigger_value="promo, promoção",
        priority=10,
    )
    _published(owner_of, "Botão", saying("button"), trigger="button", trigger_value="START_PROMO")
    with db.session(write=True) as s:  # switched off: never starts
        off = flows.create(s, owner_of, "Desligado")
        off.draft = {"steps": saying("off")}
        flows.publish(s, owner_of, off.id)
        flows.save_settings(s, owner_of, off.id, {"trigger": "keyword", "trigger_value": "oi"})

    await _say(wa, _text("oi"))  # a new conversation: the lowest priority number on this number
    await _say(wa, _text("Quero a promoção"))  # not a keyword: the whole message must be one
    await _say(wa, _text("  PROMOÇÃO! "))  # no case, accents or punctuation around
    await _say(wa, p.template_button("START_PROMO", "Quero!", sender=ANA))
    await _say(wa, _text("oi"))  # not new any more, and nothing else matches
    assert _sent(wa) == ["welcome", "promo", "button"]
    # A keyword wins over a new conversation when its priority number is lower.
    await _say(wa, _text("promo", number=BIA), number=BIA, name="Bia")
    assert _sent(wa, BIA) == ["promo"]
    with db.session() as s:
        started = [s.get(Flow, run.flow_id).name for run in rows(FlowRun)]
    assert started == ["Boas-vindas", "Promo", "Botão", "Promo"]
    # A conversation an agent holds starts no bot, whatever the customer types.
    with db.session(write=True) as s:
        s.execute(sa.update(Conversation).values(assignee_id=owner_of.user_id))
    await _say(wa, _text("promo", number=BIA), number=BIA, name="Bia")
    assert _sent(wa, BIA) == ["promo"]
    with db.session() as s:
        assert len(rows(FlowRun)) == 4


async def test_outside_hours_the_bot_answers_instead_of_the_away_message(wa, owner_of):
    with db.session(write=True) as s:  # a number that is never open
        hours.save(
            s, owner_of, "channel", wa.channel_id, {"weekly": {}, "away_message": "Fechado."}
        )
    _published(
        owner_of,
        "Plantão",
        [
            _step("condition", "c", test="hours", yes="end", no="n"),
            _step("message", "n", text="Estamos fechados; deixe seu recado."),
            _step("handoff", "h", user_id=owner_of.user_id),
        ],
        trigger="outside_hours",
    )
    await _say(wa, _text("alguém aí?"))
    assert _sent(wa) == ["Estamos fechados; deixe seu recado."]  # and no away message
    conversation = _conversation()
    assert conversation.assignee_id == owner_of.user_id and conversation.bot_run_id is None
    handoff = rows(Message, Message.type == "activity")[-1].content
    assert handoff == {"kind": "bot_handoff", "actor": "PyTake", "target": "Owner"}


# Menus, questions, hand-off ------------------------------------------------------------------


def _menu_flow(owner, sales: int, support: int) -> int:
    return _published(
        owner,
        "Menu",
        [
            _step("message", "hi", text="Olá {{contact.first_name}}!"),
            _step(
                "menu",
                "m",
                text="Como podemos ajudar?",
                options=[{"title": "Vendas", "next": "hs"}, {"title": "Suporte", "next": "hp"}],
                attribute="assunto",
                retry="Escolha uma opção.",
            ),
            _step("handoff", "hs", team_id=sales, text="Um vendedor já vem."),
            _step("handoff", "hp", team_id=support, text="O suporte já vem."),
        ],
    )


async def test_a_menu_tapped_or_typed_hands_over_to_the_right_team(wa, owner_of):
    sales, support = _team(wa.organization_id, "Vendas"), _team(wa.organization_id, "Suporte")
    _menu_flow(owner_of, sales, support)
    await _say(wa, _text("oi"))
    assert _sent(wa) == ["Olá Ana!", "Como podemos ajudar?"]
    conversation = _conversation()
    assert conversation.bot_run_id == _run().id and _run().state == runs.WAITING
    await _say(wa, p.button_reply(_buttons(wa)["Vendas"], "Vendas", sender=ANA))
    conversation = _conversation()
    assert conversation.team_id == sales and conversation.bot_run_id is None
    run = _run(conversation.id)
    assert (run.state, run.end_reason, run.answers) == ("done", "handoff", {"assunto": "Vendas"})
    assert _contact().attributes["assunto"] == "Vendas"
    assert _sent(wa)[-1] == "Um vendedor já vem."

    await _say(wa, _text("boa tarde", number=BIA), number=BIA, name="Bia")
    await _say(wa, _text("talvez", number=BIA), number=BIA, name="Bia")
    # Typed, not tapped: the options come back as numbered text to answer with.
    assert _sent(wa, BIA)[-2:] == [
        "Escolha uma opção.",
        "Como podemos ajudar?\n\n1. Vendas\n2. Suporte",
    ]
    assert _conversation(BIA).bot_run_id is not None
    await _say(wa, _text("2", number=BIA), number=BIA, name="Bia")
    conversation = _conversation(BIA)
    assert conversation.team_id == support and conversation.bot_run_id is None
    assert _sent(wa, BIA)[-1] == "O suporte já vem."
    with db.session(write=True) as s:  # what the agent taking over reads
        found = bot.summary(s, owner_of, conversation.id)
    assert found["state"] == "done" and found["reason"] == "handoff"
    assert found["answers"] == [{"name": "assunto", "value": "Suporte"}]
    trail = [(e["kind"], e["note"]) for e in found["trail"]]
    assert trail == [("message", ""), ("menu", ""), ("answer", "Suporte"), ("handoff", "")]
    assert found["trail"][1]["text"] == "Como podemos ajudar?"
    kinds = [
        m.content.get("kind") for m in rows(Message, Message.conversation_id == conversation.id)
    ]
    assert "bot_started" in kinds and "bot_handoff" in kinds


async def test_what_is_typed_before_the_bot_speaks_is_not_an_answer(wa, owner_of):
    sales = _team(wa.organization_id, "Vendas")
    _menu_flow(owner_of, sales, sales)
    # Two messages in one delivery: the first starts the bot, the second came with it.
    await _say(wa, _text("oi"), _text("quero comprar uma caneca"))
    assert _sent(wa) == ["Olá Ana!", "Como podemos ajudar?"]  # no "choose an option"
    run = _run()
    assert run.inputs == [] and run.cursor["retries"] == 0
    assert run.trail[0]["kind"] == "ignored" and "caneca" in run.trail[0]["note"]
    await _say(wa, _text("vendas"))
    assert _conversation().team_id == sales


async def test_an_input_checks_the_answer_and_saves_it_on_the_contact(wa, owner_of):
    _published(
        owner_of,
        "Cadastro",
        [
            _step(
                "input",
                "e",
                text="Qual é o seu e-mail?",
                check="email",
                attribute="email",
                retry="Não parece um e-mail.",
            ),
            _step("input", "d", text="E o CPF?", check="cpf_cnpj", attribute="CPF"),
            _step("message", "ok", text="Obrigado! {{contact.email}} / {{contact.cpf}}"),
        ],
    )
    with db.session(write=True) as s:  # an agent wrote it with another case before
        contact = Contact(organization_id=wa.organization_id, wa_id=ANA, name="Ana")
        contact.attributes = {"Email": "old@example.com", "cidade": "Recife"}
        s.add(contact)
    await _say(wa, _text("oi"))
    await _say(wa, _text("ana arroba exemplo"))
    await _say(wa, _text("Ana@Exemplo.com"))
    await _say(wa, _text("529.982.247-24"))  # a wrong check digit
    await _say(wa, _text("52998224725"))
    assert _sent(wa) == [
        "Qual é o seu e-mail?",
        "Não parece um e-mail.",
        "E o CPF?",
        "E o CPF?",  # no retry text: the question again
        "Obrigado! ana@exemplo.com / 529.982.247-25",
    ]
    assert _contact().attributes == {
        "Email": "ana@exemplo.com",
        "cidade": "Recife",
        "CPF": "529.982.247-25",
        "profile_name": "Ana Silva",
    }
    run = _run()
    assert run.answers == {"email": "ana@exemplo.com", "CPF": "529.982.247-25"}
    assert run.state == "done" and run.end_reason == "end"


async def test_the_same_message_delivered_twice_advances_the_run_once(wa, owner_of):
    _published(
        owner_of,
        "Pesquisa",
        [
            _step("input", "a", text="Nota de 1 a 10?", check="number", attribute="nota"),
            _step("input", "b", text="Por quê?", attribute="motivo"),
            _step("message", "c", text="Obrigado."),
        ],
    )
    await _say(wa, _text("oi", wamid="wamid.F1"))
    await _say(wa, _text("9", wamid="wamid.F2"))
    await _say(wa, _text("9", wamid="wamid.F2"))  # Meta delivers it again
    assert _sent(wa) == ["Nota de 1 a 10?", "Por quê?"]
    run = _run()
    assert run.cursor["step"] == "b" and run.cursor["retries"] == 0
    assert run.answers == {"nota": "9"} and "motivo" not in _contact().attributes
    assert len(rows(Message, Message.direction == "in")) == 2


async def test_a_crash_mid_pass_resumes_without_sending_twice(wa, owner_of, monkeypatch):
    _published(
        owner_of,
        "Três mensagens",
        [
            _step("message", "a", text="um"),
            _step("input", "q", text="Pode seguir?", attribute="ok"),
            _step("message", "b", text="dois"),
            _step("message", "c", text="três"),
            _step("resolve", "r", text="fim"),
        ],
    )
    await _say(wa, _text("oi"))
    real = outbound.send_automatic
    calls = []

    def flaky(*args, **kwargs):
        calls.append(kwargs.get("content"))
        outbox_id = real(*args, **kwargs)
        if len(calls) == 1:
            raise RuntimeError("worker died")  # after the first message of the pass
        return outbox_id

    monkeypatch.setattr(bot.outbound, "send_automatic", flaky)
    await wa.send(_text("sim"))
    await wa.drain()
    run = _run()
    assert calls == [{"body": "dois"}]
    assert run.attempts == 1 and "worker died" in run.error and run.state == "pending"
    assert run.cursor["step"] == "q" and run.sent == 2  # the pass was rolled back whole
    assert [_shown(m) for m in _bot_messages()] == ["um", "Pode seguir?"]

    monkeypatch.setattr(bot.outbound, "send_automatic", real)
    _due_now(run.id)
    await wa.drain()
    keys = [m.client_key for m in _bot_messages()]
    assert [_shown(m) for m in _bot_messages()] == ["um", "Pode seguir?", "dois", "três", "fim"]
    assert keys == [f"flow-{run.id}-{n}" for n in range(5)]
    assert _sent(wa) == ["um", "Pode seguir?", "dois", "três", "fim"]
    assert _run().state == "done" and _conversation().status == "resolved"
    # Processing the finished run again changes nothing.
    effects = Effects()
    bot.process(run.id, effects)
    assert effects.outbox == [] and len(_bot_messages()) == 5


async def test_a_run_that_keeps_failing_lets_go_of_the_conversation(
    wa, owner_of, monkeypatch, settings_env
):
    settings_env(job_max_attempts="2")
    _published(owner_of, "Quebrado", [_step("input", "q", text="Oi?", attribute="x")])
    monkeypatch.setattr(bot, "context", lambda *a: 1 / 0)
    await wa.send(_text("oi"))
    await wa.drain()  # the first attempt fails
    run = _run()
    assert run.attempts == 1 and _conversation().bot_run_id == run.id
    await runner.handle(runner.JOBS["flow"], run.id)  # and the last
    run = _run()
    assert run.state == "failed" and "ZeroDivisionError" in run.error
    assert run.end_reason == "broken" and run.ended_at is not None
    conversation = _conversation()
    assert conversation.bot_run_id is None  # back in its team's queue
    assert rows(Message, Message.type == "activity")[-1].content["kind"] == "bot_ended"
    assert isinstance(flow_jobs.QUEUE, flow_jobs.RunQueue)


async def test_a_pass_and_an_arriving_message_lock_in_the_same_order(wa, owner_of):
    if db.get_engine().dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: there is no lock order to get wrong")
    _published(
        owner_of,
        "Pergunta",
        [_step("input", "q", text="Nome?", attribute="n", timeout=5, reminder="E aí?")],
    )
    await _say(wa, _text("oi"))
    conversation_id, run_id = _conversation().id, _run().id
    _due_now(run_id)
    locked, errors = threading.Event(), []

    def arriving_message() -> None:  # as the inbound pipeline does: conversation, then run
        try:
            with db.session(write=True) as s:
                s.execute(
                    sa.update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(unread_count=Conversation.unread_count + 1)
                )
                locked.set()
                time.sleep(0.3)  # the pass starts meanwhile
                runs.active_run(s, s.get(Conversation, conversation_id))
        except Exception as exc:
            errors.append(exc)

    def bot_pass() -> None:
        locked.wait(5)
        try:
            bot.process(run_id, Effects())
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=arriving_message), threading.Thread(target=bot_pass)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []  # no "deadlock detected"
    assert _run().cursor["reminded"] is True


# People take over ----------------------------------------------------------------------------


async def test_people_taking_over_stop_the_bot_and_queues_skip_bot_conversations(wa, owner_of):
    with db.session(write=True) as s:
        team = Team(
            organization_id=wa.organization_id,
            name="Vendas",
            settings={"assignment": {"policy": "round_robin", "sticky": False}},
        )
        s.add(team)
        s.flush()
        s.add(TeamMember(team_id=team.id, user_id=owner_of.user_id))
        team_id = team.id
    _published(owner_of, "Pergunta", [_step("input", "q", text="Seu nome?", attribute="nome")])
    await _say(wa, _text("oi"))
    await _say(wa, _text("oi", number=BIA), number=BIA, name="Bia")
    ana, bia = _conversation(), _conversation(BIA)
    with db.session(write=True) as s:
        s.execute(sa.update(Conversation).values(team_id=team_id))
        team = s.get(Team, team_id)
        assert assignment.assign_team(s, team, {owner_of.user_id}) == []  # the bot answers
    assert ana.bot_run_id and bia.bot_run_id

    with db.session(write=True) as s:  # an agent replies to Ana
        outbound.send(
            s, owner_of, ana.id, "text", {"body": "Oi, sou a Ana"}, client_key="k1-abcdef"
        )
    with db.session(write=True) as s:  # and takes Bia's conversation
        actions.assign(s, owner_of, bia.id, owner_of.user_id)
    for number, reason in ((ANA, "agent_replied"), (BIA, "agent_took")):
        conversation = _conversation(number)
        run = _run(conversation.id)
        assert (run.state, run.end_reason) == ("stopped", reason)
        assert conversation.bot_run_id is None
        activity = rows(
            Message, Message.conversation_id == conversation.id, Message.type == "activity"
        )
        stopped = [m.content for m in activity if m.content["kind"] == "bot_stopped"]
        assert stopped == [{"kind": "bot_stopped", "actor": "Owner", "reason": reason}]
    with db.session(write=True) as s:
        team = s.get(Team, team_id)
        assert assignment.assign_team(s, team, {owner_of.user_id}) == [(wa.organization_id, ana.id)]
    # The customer's answer now goes to the person, not to the stopped bot.
    await _say(wa, _text("Ana"))
    assert _run(ana.id).answers == {} and len(rows(FlowRun)) == 2
    assert _sent(wa) == ["Seu nome?", "Oi, sou a Ana"]
    with db.session(write=True) as s:  # resolving stops nothing more, and does not fail
        actions.set_status(s, owner_of, ana.id, "resolved")
        assert runs.stop(s, s.get(Conversation, ana.id), "resolved", "Owner") is False


async def test_resolving_or_deleting_the_flow_stops_the_bot(wa, owner_of):
    flow_id = _published(owner_of, "Pergunta", [_step("input", "q", text="?", attribute="x")])
    await _say(wa, _text("oi"))
    await _say(wa, _text("oi", number=BIA), number=BIA, name="Bia")
    with db.session(write=True) as s:
        assert flows.listing(s, owner_of)[0]["running"] == 2  # waiting for replies counts
        actions.set_status(s, owner_of, _conversation().id, "resolved")
    assert _run(_conversation().id).end_reason == "resolved"
    with db.session(write=True) as s:
        flows.delete(s, owner_of, flow_id)
    assert _conversation(BIA).bot_run_id is None
    assert rows(Flow) == [] and rows(FlowRun) == []  # versions and runs go with it


# Steps with side effects ---------------------------------------------------------------------


async def test_labels_attributes_jumps_media_templates_and_resolving(wa, owner_of):
    with db.session(write=True) as s:
        s.add(Label(organization_id=wa.organization_id, name="VIP"))
        # Some contact has a nickname, so the variable is known; Ana has none.
        s.add(Contact(organization_id=wa.organization_id, wa_id=BIA, attributes={"apelido": "Bi"}))
        template = MessageTemplate(
            organization_id=wa.organization_id,
            account_id=WABA,
            name="boas_vindas",
            language="pt_BR",
            category="UTILITY",
            status="APPROVED",
            components=[{"type": "BODY", "text": "Olá {{1}}, seu código é {{2}}"}],
        )
        s.add(template)
        s.flush()
        template_id = template.id
    wa.sim.add_template(
        WABA,
        {
            "name": "boas_vindas",
            "language": "pt_BR",
            "category": "UTILITY",
            "status": "APPROVED",
            "components": template.components,
        },
    )
    second = _published(
        owner_of,
        "Segunda parte",
        [
            _step(
                "message",
                "t",
                template_id=template_id,
                template_values="{{contact.first_name}}\nX1",
            ),
            _step(
                "message",
                "img",
                media_type="image",
                media_url="https://cdn.test/c.png",
                text="cupom",
            ),
            _step("message", "e", text="{{contact.apelido}}"),  # empty for Ana: not sent
            _step("resolve", "r", text="Até logo!"),
        ],
        trigger="manual",
    )
    _published(
        owner_of,
        "Primeira parte",
        [
            _step(
                "set", "s", attribute="origem", value="bot de {{contact.first_name}}", label="vip"
            ),
            _step("set", "l", label="Inexistente"),
            _step("jump", "j", flow_id=second),
        ],
    )
    await _say(wa, _text("oi"))
    conversation = _conversation()
    assert conversation.status == "resolved" and conversation.bot_run_id is None
    run = _run()
    assert run.flow_id == second and (run.state, run.end_reason) == ("done", "resolved")
    assert _contact().attributes["origem"] == "bot de Ana"
    with db.session() as s:
        tagged = s.exec(
            select(Label.name).join(ConversationLabel, ConversationLabel.label_id == Label.id)
        ).all()
    assert tagged == ["VIP"]  # the label's own spelling
    labelled = rows(Message, Message.type == "activity", Message.conversation_id == conversation.id)
    assert {"kind": "labeled", "actor": "PyTake", "target": "VIP"} in [m.content for m in labelled]
    notes = [(e["kind"], e["note"]) for e in run.trail]
    assert ("not_labelled", "Inexistente") in notes and ("jump", "Segunda parte") in notes
    assert ("not_sent", "send.field_required") in notes
    sent = [m for m in wa.sim.sent if m["to"].lstrip("+") == ANA]
    assert [m["type"] for m in sent] == ["template", "image", "text"]
    parameters = sent[0]["template"]["components"][0]["parameters"]
    assert [x["text"] for x in parameters] == ["Ana", "X1"]
    assert sent[1]["image"] == {"link": "https://cdn.test/c.png", "caption": "cupom"}


# HTTP steps ------------------------------------------------------------------------------------


@pytest.fixture
def api():
    """A small JSON API on 127.0.0.1: orders by number, and one that answers too late."""
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length).decode() if length else "",
                }
            )
            if self.path.startswith("/slow"):
                time.sleep(1.5)
            found = self.path.startswith("/orders/")
            payload = {"order": {"status": "enviado", "items": [{"name": "Caneca"}]}}
            body = json.dumps(payload if found else {"error": "no"}).encode()
            try:
                self.send_response(200 if found else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the bot stopped waiting

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield type("Api", (), {"url": f"http://127.0.0.1:{server.server_port}", "seen": seen})
    server.shutdown()
    server.server_close()


def _http_flow(owner, name: str, keyword: str, url: str, **fields) -> int:
    return _published(
        owner,
        name,
        [
            _step(
                "http",
                "h",
                url=url,
                save="status = order.status\nitem = order.items[0].name",
                fallback="down",
                **fields,
            ),
            _step("message", "ok", text="Pedido {{contact.status}}: {{contact.item}}", next="end"),
            _step("message", "down", text="Sistema fora do ar."),
        ],
        trigger="keyword",
        trigger_value=keyword,
    )


async def test_http_steps_call_allowed_hosts_and_map_the_answer(wa, owner_of, api, settings_env):
    settings_env(egress_allow="127.0.0.1")  # the operator lets flows reach the test's server
    with db.session(write=True) as s:
        organization.update(s, wa.organization_id, {"flow_hosts": "127.0.0.1"}, actor=owner_of)
    _http_flow(
        owner_of,
        "Pedido",
        "pedido",
        api.url + "/orders/{{contact.number}}",
        method="POST",
        headers="X-Customer: {{contact.name}}\nAuthorization: Bearer abc",
        body='{"who": "{{contact.first_name}}"}',
    )
    _http_flow(owner_of, "Lento", "lento", api.url + "/slow", timeout=1)
    _http_flow(owner_of, "Sumido", "sumido", api.url + "/gone")

    await _say(wa, _text("pedido"), name="João Silva")
    assert _sent(wa) == ["Pedido enviado: Caneca"]
    [call] = api.seen
    assert call["method"] == "POST" and call["path"] == f"/orders/+{ANA}"
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert headers["x-customer"].encode("latin-1").decode() == "João Silva"  # UTF-8 kept
    assert headers["authorization"] == "Bearer abc" and headers["user-agent"] == "PyTake-Flows/1"
    assert json.loads(call["body"]) == {"who": "João"}
    assert headers["content-type"] == "application/json"
    attributes = _contact().attributes
    assert (attributes["status"], attributes["item"]) == ("enviado", "Caneca")

    started = time.perf_counter()
    await _say(wa, _text("lento"), name="João Silva")
    assert time.perf_counter() - started < 5
    assert _sent(wa)[-1] == "Sistema fora do ar."
    assert ("http", "timeout") in [(e["kind"], e["note"]) for e in _run().trail]
    await _say(wa, _text("sumido"), name="João Silva")
    assert _sent(wa)[-1] == "Sistema fora do ar."
    assert ("http", "404") in [(e["kind"], e["note"]) for e in _run().trail]

    # The host leaves the allowlist: published flows may no longer call it.
    with db.session(write=True) as s:
        organization.update(s, wa.organization_id, {"flow_hosts": "api.example.com"})
    calls_before = len(api.seen)
    await _say(wa, _text("pedido"), name="João Silva")
    assert _sent(wa)[-1] == "Sistema fora do ar." and len(api.seen) == calls_before
    assert ("http", "host_not_allowed") in [(e["kind"], e["note"]) for e in _run().trail]
    with db.session(write=True) as s:
        flow = flows.create(s, owner_of, "Fora da lista")
        flow.draft = {"steps": [_step("http", "h", url=api.url + "/orders/1")]}
        with pytest.raises(flows.NotPublishable) as refused:
            flows.publish(s, owner_of, flow.id)
    assert [c for _n, c, _p in refused.value.problems] == ["flows.problem.host_not_allowed"]
    assert all(run.state == "done" for run in rows(FlowRun))


async def test_http_steps_never_reach_the_servers_own_network_unless_the_operator_allows(
    wa, owner_of, api, settings_env, monkeypatch
):
    """The security review's SSRF: a host an admin allowed, resolving to 127.0.0.1 (here the
    test's real listening server), is not called; the operator's allowlist opens it."""
    port = api.url.rsplit(":", 1)[1]
    answers = {"erp.test": ["127.0.0.1"]}  # a public-looking name resolving inside
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host in answers:
            address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    for host in ("127.0.0.1", "localhost", "2130706433", "metadata.google.internal"):
        with db.session(write=True) as s, pytest.raises(AccessError) as refused:
            organization.update(s, wa.organization_id, {"flow_hosts": host}, actor=owner_of)
        assert refused.value.code in ("organization.internal_host", "organization.metadata_host")
    with db.session(write=True) as s:
        organization.update(s, wa.organization_id, {"flow_hosts": "erp.test"}, actor=owner_of)
    _http_flow(owner_of, "Pedido", "pedido", f"http://erp.test:{port}/orders/1")

    await _say(wa, _text("pedido"))
    assert _sent(wa) == ["Sistema fora do ar."] and api.seen == []
    assert ("http", "internal_host") in [(e["kind"], e["note"]) for e in _run().trail]
    # Test mode says why, in words.
    with db.session() as s:
        setup = flows.rehearsal_setup(s, owner_of, rows(Flow)[-1].id)
    ctx = engine.Context("Ana", ANA, {}, 0, utcnow(), zoneinfo.ZoneInfo("UTC"))
    played = rehearsal.play(setup["draft"], {}, ctx, engine.Start(), setup["hosts"])
    assert ("flows.http_failed.internal_host", "erp.test") in [
        (line.key, line.text) for line in played.lines
    ]
    assert api.seen == []

    # The operator allows it (an intranet ERP on purpose): called, Host still names it.
    settings_env(egress_allow="erp.test")
    await _say(wa, _text("pedido"))
    assert _sent(wa)[-1] == "Pedido enviado: Caneca" and len(api.seen) == 1
    assert api.seen[0]["headers"]["Host"] == f"erp.test:{port}"

    # Allowed by address instead: the call connects to the address checked, even though the
    # name would resolve elsewhere if asked again (DNS rebinding to an internal address).
    settings_env(egress_allow="127.0.0.0/8")
    answers["erp.test"] = ["127.0.0.1", "10.255.255.1"]
    request = engine.Request("GET", f"http://erp.test:{port}/orders/2", {}, "", 2)
    assert calls.perform(request, ["erp.test"]).status == 200
    assert api.seen[-1]["path"] == "/orders/2" and answers["erp.test"] == ["10.255.255.1"]
    assert calls.perform(request, ["erp.test"]) == engine.Response(failed="internal_host")


async def _deliver(wa, *messages: dict) -> None:
    """A webhook applied, and nothing else run (no bot pass, no sends)."""
    await wa.send(*messages)
    job = runner.JOBS["webhook"]
    with db.session() as s:
        due = job.queue.due(s, 10, utcnow(), utcnow())
    for event_id in due:
        await runner.handle(job, event_id)


async def test_a_message_during_a_call_waits_for_it_and_is_not_an_answer(
    wa, owner_of, api, settings_env
):
    settings_env(egress_allow="127.0.0.1")
    with db.session(write=True) as s:
        organization.update(s, wa.organization_id, {"flow_hosts": "127.0.0.1"})
    _published(
        owner_of,
        "Consulta",
        [
            _step("http", "h", url=api.url + "/orders/1", save="status = order.status"),
            _step("input", "q", text="Pedido {{contact.status}}. Algo mais?", attribute="mais"),
        ],
        trigger="keyword",
        trigger_value="pedido",
    )
    await _deliver(wa, _text("pedido"))
    run_id = _run().id
    with db.session(write=True) as s:  # the pass that reaches the call
        request, hosts = bot.advance(s, run_id, None, Effects())
    assert request.url == api.url + "/orders/1" and hosts == ["127.0.0.1"]
    run = _run()
    assert run.cursor["waiting"] == "http" and run.next_attempt_at > utcnow()
    await _deliver(wa, _text("alô?"))  # while the call is out
    run = _run()
    assert len(run.inputs) == 1 and run.next_attempt_at > utcnow()  # not due: no second call
    with db.session() as s:
        assert flow_jobs.QUEUE.due(s, 10, utcnow(), utcnow()) == []
    effects = Effects()
    with db.session(write=True) as s:
        assert bot.advance(s, run_id, bot.calls.perform(request, hosts), effects) is None
    run = _run()
    assert run.inputs == [] and run.cursor["step"] == "q" and run.cursor["retries"] == 0
    assert ("ignored", "alô?") in [(e["kind"], e["note"]) for e in run.trail]
    await wa.drain()
    assert _sent(wa) == ["Pedido enviado. Algo mais?"] and len(api.seen) == 1


# Opting out ----------------------------------------------------------------------------------


async def test_stop_opts_out_of_marketing_and_voltar_opts_back_in(wa, owner_of):
    with db.session(write=True) as s:
        for name, category in (("promo", "MARKETING"), ("pedido", "UTILITY")):
            s.add(
                MessageTemplate(
                    organization_id=wa.organization_id,
                    account_id=WABA,
                    name=name,
                    language="pt_BR",
                    category=category,
                    status="APPROVED",
                    components=[{"type": "BODY", "text": "Oferta!"}],
                )
            )
    promo, utility = rows(MessageTemplate)
    _published(owner_of, "Pergunta", [_step("input", "q", text="Seu nome?", attribute="nome")])
    _published(
        owner_of,
        "Oferta",
        [_step("message", "t", template_id=promo.id), _step("message", "m", text="só isso")],
        trigger="keyword",
        trigger_value="oferta",
    )
    await _say(wa, _text("oi"))
    run = _run()
    await _say(wa, _text("Sair"))
    contact, conversation = _contact(), _conversation()
    assert contact.opted_out_at is not None
    assert conversation.bot_run_id is None
    assert (_run().state, _run().end_reason) == ("stopped", "opted_out") and _run().id == run.id
    [confirmation] = rows(Message, Message.client_key.like("opt-out-%"))
    assert confirmation.direction == "out" and _sent(wa)[-1] == _shown(confirmation)
    with db.session() as s:
        with pytest.raises(AccessError) as refused:
            templates.chosen(s, owner_of, conversation.id, promo.id)
        assert refused.value.code == "template.opted_out"
        assert templates.chosen(s, owner_of, conversation.id, utility.id).id == utility.id
        offered = {
            t["name"]: t["sendable"] for t in templates.choices(s, owner_of, conversation.id)
        }
    assert offered == {"promo": False, "pedido": True}
    # The bot does not send marketing to them either.
    await _say(wa, _text("oferta"))
    assert ("not_sent", "template.opted_out") in [(e["kind"], e["note"]) for e in _run().trail]
    assert _sent(wa)[-1] == "só isso"

    await _say(wa, _text("VOLTAR"))
    assert _contact().opted_out_at is None
    [welcome] = rows(Message, Message.client_key.like("opt-in-%"))
    assert _sent(wa)[-1] == _shown(welcome) != _shown(confirmation)
    with db.session() as s:
        assert templates.chosen(s, owner_of, conversation.id, promo.id).id == promo.id
    kinds = [m.content["kind"] for m in rows(Message, Message.type == "activity")]
    assert kinds.count("opted_out") == 1 and kinds.count("opted_in") == 1
    # "voltar" from someone who never left is an ordinary message.
    await _say(wa, _text("voltar", number=BIA), number=BIA, name="Bia")
    assert not rows(Message, Message.client_key.like("opt-in-%"), Message.id > welcome.id)
    assert _sent(wa, BIA) == ["Seu nome?"]


# Timers ----------------------------------------------------------------------------------------


async def test_a_question_reminds_once_then_takes_its_fallback(wa, owner_of):
    support = _team(wa.organization_id, "Suporte")
    _published(
        owner_of,
        "Lembrete",
        [
            _step(
                "input",
                "q",
                text="Qual o número do pedido?",
                attribute="pedido",
                timeout=30,
                reminder="Ainda está aí?",
                fallback="h",
            ),
            _step("message", "ok", text="Obrigado", next="end"),
            _step("handoff", "h", team_id=support, text="Vou chamar alguém."),
        ],
    )
    await _say(wa, _text("oi"))
    run = _run()
    assert run.state == "pending" and run.wake_at is not None
    assert dt.timedelta(minutes=29) < run.wake_at - utcnow() <= dt.timedelta(minutes=30)
    assert run.next_attempt_at == run.wake_at
    await wa.drain()  # not due yet: nothing happens
    assert _sent(wa) == ["Qual o número do pedido?"]

    _due_now(run.id)
    await wa.drain()
    assert _sent(wa) == ["Qual o número do pedido?", "Ainda está aí?"]
    run = _run()
    assert run.wake_at > utcnow() and run.cursor["reminded"] is True

    _due_now(run.id)
    await wa.drain()
    assert _sent(wa)[-1] == "Vou chamar alguém."
    assert _conversation().team_id == support and _conversation().bot_run_id is None
    assert ("no_answer", "") in [(e["kind"], e["note"]) for e in _run().trail]


async def test_a_wait_step_sleeps_and_replies_meanwhile_are_ignored(wa, owner_of):
    _published(
        owner_of,
        "Espera",
        [
            _step("message", "a", text="Vou verificar."),
            _step("wait", "w", minutes=5),
            _step("message", "b", text="Pronto!"),
        ],
    )
    await _say(wa, _text("oi"))
    await _say(wa, _text("e aí?"))
    run = _run()
    assert run.cursor["waiting"] == "wait" and run.state == "pending"
    assert ("ignored", "e aí?") in [(e["kind"], e["note"]) for e in run.trail]
    _due_now(run.id)
    await wa.drain()
    assert _sent(wa) == ["Vou verificar.", "Pronto!"] and _run().state == "done"
