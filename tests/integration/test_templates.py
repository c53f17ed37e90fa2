"""Template sync against the Meta simulator (paging, statuses, deletions, the webhook's
newer word), creating (media headers with their uploaded example) and editing where Meta
allows, and sending a filled-in template from a conversation through the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time

import pytest
from sqlmodel import select

from pytake import cli, db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.jobs import templates as template_jobs
from pytake.models import Channel, MessageTemplate, Role, User, utcnow
from pytake.sandbox import payloads as p
from pytake.sandbox.graph_rules import APP_ID
from pytake.services import channels, templates
from pytake.services.outbound import StagedFile

from .conftest import WABA, rows
from .test_outbound import open_conversation, send


def _template(n: int, **extra) -> dict:
    return {
        "name": f"notice_{n:03d}",
        "language": "pt_BR",
        "category": "utility",
        "components": [{"type": "body", "text": f"Aviso {n}: olá {{{{1}}}}"}],
        **extra,
    }


@pytest.fixture
def owner(whatsapp) -> Identity:
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "o@acme.test")).one()
    return Identity(user.id, whatsapp.organization_id, Role.OWNER, "s", "Owner", user.email, None)


def stored() -> dict[str, MessageTemplate]:
    return {t.name: t for t in rows(MessageTemplate, MessageTemplate.account_id == WABA)}


async def test_sync_follows_every_page_and_marks_what_meta_dropped(whatsapp):
    for n in range(130):  # more than one page of 100
        whatsapp.sim.add_template(WABA, _template(n))
    whatsapp.sim.add_template(WABA, _template(900, status="REJECTED", rejected_reason="SCAM"))
    results = await template_jobs.sync(whatsapp.organization_id)
    assert results == {WABA: {"added": 131, "updated": 0, "deleted": 0}}
    found = stored()
    assert len(found) == 131 and found["notice_007"].language == "pt_BR"
    assert found["notice_007"].category == "UTILITY" and found["notice_007"].status == "APPROVED"
    assert (found["notice_900"].status, found["notice_900"].rejected_reason) == ("REJECTED", "SCAM")

    whatsapp.sim._templates[WABA] = [
        t for t in whatsapp.sim._templates[WABA] if t["name"] != "notice_000"
    ]
    assert (await template_jobs.sync(whatsapp.organization_id))[WABA]["deleted"] == 1
    assert stored()["notice_000"].status == "DELETED"
    with db.session() as s:
        channel = s.get(Channel, whatsapp.channel_id)
        assert channel.config["templates_synced_at"] and not channel.config["templates_error"]
        assert templates.accounts_to_sync(s, due_only=True) == []  # synced: not due again


async def test_a_status_webhook_newer_than_the_fetch_wins(whatsapp):
    whatsapp.sim.add_template(WABA, _template(1, status="PENDING"))
    await template_jobs.sync(whatsapp.organization_id)
    with db.session(write=True) as s:  # the approval webhook arrived after the list was fetched
        row = s.exec(select(MessageTemplate).where(MessageTemplate.name == "notice_001")).one()
        row.status, row.status_at = "APPROVED", utcnow() + dt.timedelta(minutes=1)
    await template_jobs.sync(whatsapp.organization_id)  # the list still says PENDING
    assert stored()["notice_001"].status == "APPROVED"


async def test_a_rejected_token_is_reported_not_raised(whatsapp):
    whatsapp.sim.fail_next(190, path="templates")
    results = await template_jobs.sync(whatsapp.organization_id)
    assert "190" in results[WABA]
    with db.session() as s:
        assert "190" in s.get(Channel, whatsapp.channel_id).config["templates_error"]


async def test_picking_filling_and_sending_a_template_with_the_window_closed(whatsapp, owner):
    whatsapp.sim.add_template(WABA, _template(1))
    whatsapp.sim.add_template(WABA, _template(2, status="PAUSED"))
    await template_jobs.sync(whatsapp.organization_id)
    conversation = open_conversation(whatsapp, window=False)
    with db.session() as s:
        offered = templates.choices(s, owner, conversation)
        assert [(c["name"], c["sendable"]) for c in offered] == [
            ("notice_001", True),
            ("notice_002", False),
        ]
        assert offered[0]["fields"] == [
            {"key": "body:1", "label": "1", "kind": "text", "optional": False, "card": 0}
        ]
        assert templates.suggested(s, owner, conversation)["name"] == "Ana"
        content = templates.content_for(s, owner, conversation, offered[0]["id"], {"body:1": "Ana"})
        with pytest.raises(AccessError):  # paused
            templates.content_for(s, owner, conversation, offered[1]["id"], {"body:1": "Ana"})
        with pytest.raises(AccessError):  # not a template of this number's account
            templates.content_for(s, owner, conversation, 10**9, {"body:1": "Ana"})
    send(owner, conversation, "template", content)
    await whatsapp.drain()
    assert whatsapp.sim.sent[-1]["template"] == {
        "name": "notice_001",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    }


async def test_only_admins_sync_and_the_cli_reports_each_account(whatsapp, owner, capsys):
    agent = Identity(owner.user_id, owner.organization_id, Role.AGENT, "s", "A", "a@x", None)
    with pytest.raises(AccessError):
        templates.may_sync(agent)
    assert templates.may_sync(owner) == owner.organization_id
    whatsapp.sim.add_template(WABA, _template(5))
    # The CLI runs its own event loop, as it does in a terminal.
    assert await asyncio.to_thread(cli.main, ["template", "sync", "--org", "Acme"]) == 0
    assert f"{WABA}: 1 added" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["template", "sync", "--org", "Nope"]) == 1


DRAFT = {
    "name": "order_ready",
    "category": "utility",
    "language": "pt_BR",
    "body": "Olá {{1}}, seu pedido está pronto.",
    "examples": {"1": "Ana"},
}


async def test_admins_submit_a_template_that_waits_for_review_then_delete_it(whatsapp, owner):
    template_id = await template_jobs.submit(owner, whatsapp.channel_id, DRAFT)
    row = stored()["order_ready"]
    assert (row.id, row.status, row.category, row.language) == (
        template_id,
        "PENDING",
        "UTILITY",
        "pt_BR",
    )
    (at_meta,) = [t for t in whatsapp.sim._templates[WABA] if t["name"] == "order_ready"]
    assert at_meta["components"][0]["example"] == {"body_text": [["Ana"]]}
    assert row.external_id == at_meta["id"]

    with pytest.raises(AccessError) as twice:  # Meta refuses the same name and language
        await template_jobs.submit(owner, whatsapp.channel_id, DRAFT)
    assert (
        twice.value.code == "template.refused" and "already exists" in twice.value.params["reason"]
    )

    await template_jobs.delete(owner, template_id)
    assert stored()["order_ready"].status == "DELETED"
    assert not [t for t in whatsapp.sim._templates[WABA] if t["name"] == "order_ready"]
    with pytest.raises(AccessError):
        await template_jobs.delete(owner, template_id)  # already gone


async def test_agents_and_strangers_cannot_create_or_delete(whatsapp, owner):
    agent = Identity(owner.user_id, owner.organization_id, Role.AGENT, "s", "A", "a@x", None)
    stranger = Identity(owner.user_id, owner.organization_id + 1, Role.OWNER, "s", "X", "x@x", None)
    for who_ in (agent, stranger):
        with pytest.raises(AccessError):
            await template_jobs.submit(who_, whatsapp.channel_id, DRAFT)
    for bad in (None, "1", 10**6):
        with pytest.raises(AccessError):
            await template_jobs.submit(owner, bad, DRAFT)
    with pytest.raises(AccessError):
        await template_jobs.submit(owner, whatsapp.channel_id, {**DRAFT, "name": "Bad Name"})
    assert whatsapp.sim._templates[WABA] == []  # nothing reached Meta
    whatsapp.sim.add_template(WABA, _template(3, status="DISABLED"))
    await template_jobs.sync(whatsapp.organization_id)
    with pytest.raises(AccessError) as kept:
        await template_jobs.delete(owner, stored()["notice_003"].id)
    assert kept.value.code == "template.disabled_kept"
    with pytest.raises(AccessError):
        await template_jobs.delete(agent, stored()["notice_003"].id)


async def test_the_customers_language_comes_first(whatsapp, owner):
    from pytake.models import Contact, Conversation

    for language in ("en_US", "es", "pt_BR"):
        whatsapp.sim.add_template(WABA, {**_template(1), "language": language})
    await template_jobs.sync(whatsapp.organization_id)
    conversation = open_conversation(whatsapp)
    with db.session() as s:
        assert [c["language"] for c in templates.choices(s, owner, conversation)] == [
            "en_US",
            "es",
            "pt_BR",
        ]
    with db.session(write=True) as s:
        contact = s.get(Contact, s.get(Conversation, conversation).contact_id)
        contact.attributes = {"Idioma": "pt-BR"}
    with db.session() as s:
        offered = templates.choices(s, owner, conversation)
    assert [c["language"] for c in offered] == ["pt_BR", "en_US", "es"]


# Media headers (an example uploaded with the Resumable Upload API), and editing ------------

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 120
PROMO = {
    "name": "spring_sale",
    "category": "marketing",
    "language": "pt_BR",
    "header_format": "image",
    "body": "Olá {{1}}, a promoção de primavera começou.",
    "examples": {"1": "Ana"},
}


def _staged(tmp_path, content: bytes = PNG, mime: str = "image/png") -> StagedFile:
    path = tmp_path / "sale.png"
    path.write_bytes(content)
    return StagedFile(path, mime, "sale.png")


def _set_app(owner: Identity, channel_id: int, app: str = APP_ID) -> None:
    with db.session(write=True) as s:
        channels.update(s, owner, channel_id, {"app_id": app})


_REVIEWS = itertools.count(1)


async def _approve(whatsapp, name: str, event: str = "APPROVED") -> None:
    """Meta's review outcome, by the status webhook as Meta sends it (each one later than
    the last, as reviews follow submissions)."""
    template_id = whatsapp.sim.set_template_status(WABA, name, "pt_BR", event)
    value = p.template_status_value(event, int(template_id), name, "pt_BR")
    change = p.change(value, "message_template_status_update")
    at = int(time.time()) + next(_REVIEWS)
    await whatsapp.post(p.envelope(p.entry(WABA, change, time=at)))
    await whatsapp.drain()
    assert stored()[name].status == event


async def test_a_media_header_uploads_its_example_then_names_its_handle(whatsapp, owner, tmp_path):
    with pytest.raises(AccessError) as no_app:
        await template_jobs.submit(owner, whatsapp.channel_id, PROMO, _staged(tmp_path))
    assert no_app.value.code == "template.app_id_missing"
    assert "Settings → Channels" in no_app.value.message("en")
    with db.session() as s:
        assert templates.accounts(s, owner)[0]["has_app"] is False
    with pytest.raises(AccessError) as bad_app, db.session(write=True) as s:
        channels.update(s, owner, whatsapp.channel_id, {"app_id": "my-app"})
    assert bad_app.value.code == "channel.bad_meta_id"
    _set_app(owner, whatsapp.channel_id)
    with db.session() as s:
        assert channels.overview(s, owner)[0]["app_id"] == APP_ID
        assert templates.accounts(s, owner)[0]["has_app"] is True
    gif = _staged(tmp_path, b"GIF89a", "image/gif")
    with pytest.raises(AccessError) as wrong_type:
        await template_jobs.submit(owner, whatsapp.channel_id, PROMO, gif)
    assert wrong_type.value.code == "template_draft.example_type"
    with pytest.raises(AccessError) as missing:
        await template_jobs.submit(owner, whatsapp.channel_id, PROMO)
    assert missing.value.code == "template_draft.example_file_missing"
    assert whatsapp.sim.calls["app_upload"] == 0  # nothing reached Meta

    whatsapp.sim.fail_next(190, path="app_upload")
    with pytest.raises(AccessError) as refused:
        await template_jobs.submit(owner, whatsapp.channel_id, PROMO, _staged(tmp_path))
    assert refused.value.code == "template.example_refused"

    template_id = await template_jobs.submit(owner, whatsapp.channel_id, PROMO, _staged(tmp_path))
    (handle,) = whatsapp.sim.examples
    assert whatsapp.sim.examples[handle].content == PNG
    (at_meta,) = whatsapp.sim._templates[WABA]
    header = {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}}
    assert at_meta["components"][0] == header
    row = stored()["spring_sale"]
    assert (row.id, row.status, row.components[0]) == (template_id, "PENDING", header)


async def test_an_edit_goes_back_to_review_and_an_approved_one_waits_a_day(whatsapp, owner):
    template_id = await template_jobs.submit(owner, whatsapp.channel_id, DRAFT)
    with pytest.raises(AccessError) as pending:
        await template_jobs.edit(owner, template_id, DRAFT)
    assert pending.value.code == "template.not_editable"
    assert "In review" in pending.value.message("en")
    await _approve(whatsapp, "order_ready")
    with db.session() as s:
        values = templates.edit_draft(s, owner, template_id)
    assert values["body"] == DRAFT["body"] and values["examples"] == {"1": "Ana"}
    assert (values["name"], values["category"], values["category_locked"]) == (
        "order_ready",
        "utility",
        True,
    )

    with pytest.raises(AccessError) as locked:
        await template_jobs.edit(owner, template_id, {**DRAFT, "category": "marketing"})
    assert locked.value.code == "template.category_locked"
    with pytest.raises(AccessError) as style:
        await template_jobs.edit(
            owner, template_id, {**DRAFT, "body": "Oi {{nome}}, pronto.", "examples": {"nome": "A"}}
        )
    assert style.value.code == "template.variables_kept"
    assert whatsapp.sim.calls["template_edit"] == 0

    edited = {**DRAFT, "name": "renamed", "body": "Olá {{1}}, seu pedido ficou pronto."}
    await template_jobs.edit(owner, template_id, edited)
    (at_meta,) = whatsapp.sim._templates[WABA]
    assert at_meta["name"] == "order_ready"  # name and language stay
    assert at_meta["components"] == [
        {
            "type": "BODY",
            "text": "Olá {{1}}, seu pedido ficou pronto.",
            "example": {"body_text": [["Ana"]]},
        }
    ]
    row = stored()["order_ready"]
    assert (row.status, row.components, len(row.approved_edits)) == (
        "PENDING",
        at_meta["components"],
        1,
    )

    await _approve(whatsapp, "order_ready")
    calls = whatsapp.sim.calls["template_edit"]
    with pytest.raises(AccessError) as again:
        await template_jobs.edit(owner, template_id, DRAFT)
    assert again.value.code == "template.edit_once_a_day"
    assert "try again in 24 h" in again.value.message("en")
    assert whatsapp.sim.calls["template_edit"] == calls  # told before Meta is asked

    with db.session(write=True) as s:  # a day later, at PyTake and at Meta
        row = s.get(MessageTemplate, template_id)
        day_ago = dt.datetime.fromisoformat(row.approved_edits[0]) - dt.timedelta(hours=25)
        row.approved_edits = [day_ago.isoformat()]
    whatsapp.sim.clock = lambda: time.time() + 25 * 3600
    await template_jobs.edit(owner, template_id, DRAFT)
    assert len(stored()["order_ready"].approved_edits) == 2


async def test_rejected_templates_are_edited_freely_category_included(whatsapp, owner):
    template_id = await template_jobs.submit(owner, whatsapp.channel_id, DRAFT)
    await _approve(whatsapp, "order_ready", "REJECTED")
    await template_jobs.edit(owner, template_id, {**DRAFT, "category": "marketing"})
    assert stored()["order_ready"].category == "MARKETING"
    assert whatsapp.sim._templates[WABA][0]["category"] == "MARKETING"
    await _approve(whatsapp, "order_ready", "REJECTED")
    await template_jobs.edit(owner, template_id, {**DRAFT, "category": "marketing"})
    row = stored()["order_ready"]
    assert (row.status, row.approved_edits) == ("PENDING", [])  # no limit for rejected ones


async def test_meta_still_refuses_an_edit_made_elsewhere_within_the_day(whatsapp, owner):
    whatsapp.sim.add_template(WABA, _template(7))
    await template_jobs.sync(whatsapp.organization_id)
    row = stored()["notice_007"]
    whatsapp.sim.template_edits[row.external_id] = [time.time()]  # in WhatsApp Manager
    draft = {**DRAFT, "name": "notice_007", "body": "Aviso 7: olá {{1}}, tudo certo."}
    with pytest.raises(AccessError) as refused:
        await template_jobs.edit(owner, row.id, draft)
    assert refused.value.code == "template.refused"
    assert "once in 24 hours" in refused.value.params["reason"]
    assert stored()["notice_007"].status == "APPROVED"


async def test_a_media_template_keeps_its_example_unless_a_new_one_is_given(
    whatsapp, owner, tmp_path
):
    _set_app(owner, whatsapp.channel_id)
    template_id = await template_jobs.submit(owner, whatsapp.channel_id, PROMO, _staged(tmp_path))
    await _approve(whatsapp, "spring_sale", "REJECTED")
    with db.session() as s:
        values = templates.edit_draft(s, owner, template_id)
    (handle,) = whatsapp.sim.examples
    assert (values["header_format"], values["header_handle"]) == ("image", handle)
    await template_jobs.edit(owner, template_id, {**PROMO, "header_handle": handle})
    assert whatsapp.sim.calls["app_upload"] == 2  # the session and the bytes, once
    await _approve(whatsapp, "spring_sale", "REJECTED")
    await template_jobs.edit(owner, template_id, PROMO, _staged(tmp_path, PNG + b"new"))
    (new,) = set(whatsapp.sim.examples) - {handle}
    assert stored()["spring_sale"].components[0]["example"] == {"header_handle": [new]}


async def test_an_authentication_template_from_submit_to_a_sent_code(whatsapp, owner):
    draft = {
        "name": "login_code",
        "category": "authentication",
        "language": "pt_BR",
        "body": "A custom text Meta would refuse",
        "auth": {"otp": "copy_code", "security": True, "expiry": "10"},
    }
    template_id = await template_jobs.submit(owner, whatsapp.channel_id, draft)
    (at_meta,) = [t for t in whatsapp.sim._templates[WABA] if t["name"] == "login_code"]
    assert at_meta["components"][-1]["buttons"][0]["type"] == "URL"  # listed as Meta lists it
    await _approve(whatsapp, "login_code")
    conversation = open_conversation(whatsapp, window=False)
    with db.session() as s:
        (choice,) = templates.choices(s, owner, conversation)
        assert choice["sendable"] and [f["key"] for f in choice["fields"]] == ["code"]
        content = templates.content_for(s, owner, conversation, template_id, {"code": "482913"})
    assert content["preview"].startswith("482913 is your verification code. For your security")
    send(owner, conversation, "template", content)
    await whatsapp.drain()
    assert whatsapp.sim.sent[-1]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "482913"}],
        },
    ]
    await template_jobs.sync(whatsapp.organization_id)  # Meta's own text replaces PyTake's
    with db.session() as s:
        content = templates.content_for(s, owner, conversation, template_id, {"code": "1"})
    assert content["preview"].startswith("*1* is your verification code.")


async def test_a_limited_time_offer_and_a_location_header_reach_meta(whatsapp, owner):
    offer = {
        "name": "black_friday",
        "category": "marketing",
        "language": "pt_BR",
        "body": "Olá {{1}}, 20% em tudo até domingo!",
        "examples": {"1": "Ana"},
        "offer": {"enabled": True, "text": "Só hoje!", "expires": True},
        "buttons": [
            {"type": "copy_code", "example": "BF20"},
            {"type": "url", "text": "Comprar", "url": "https://ex.com/bf"},
        ],
    }
    pickup = {
        "name": "pickup_here",
        "category": "utility",
        "language": "pt_BR",
        "header_format": "location",
        "body": "Seu pedido {{1}} está pronto para retirada.",
        "examples": {"1": "#12"},
    }
    offer_id = await template_jobs.submit(owner, whatsapp.channel_id, offer)
    pickup_id = await template_jobs.submit(owner, whatsapp.channel_id, pickup)
    for name in ("black_friday", "pickup_here"):
        await _approve(whatsapp, name)
    conversation = open_conversation(whatsapp, window=False)
    ends = (utcnow() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    values = {"offer:expires": ends, "body:1": "Ana", "button:0": "BF20"}
    place = {"header:latitude": "-23.56", "header:longitude": "-46.65", "body:1": "#12"}
    with db.session() as s:
        sends = [
            templates.content_for(s, owner, conversation, offer_id, values),
            templates.content_for(s, owner, conversation, pickup_id, place),
        ]
    for content in sends:
        send(owner, conversation, "template", content)
        await whatsapp.drain()
    offered, located = (m["template"]["components"] for m in whatsapp.sim.sent[-2:])
    assert offered[0]["type"] == "limited_time_offer"
    assert (
        offered[0]["parameters"][0]["limited_time_offer"]["expiration_time_ms"] > time.time() * 1000
    )
    assert offered[-1] == {
        "type": "button",
        "sub_type": "copy_code",
        "index": "0",
        "parameters": [{"type": "coupon_code", "coupon_code": "BF20"}],
    }
    assert located[0]["parameters"] == [
        {"type": "location", "location": {"latitude": -23.56, "longitude": -46.65}}
    ]


async def test_a_carousel_uploads_each_cards_example_and_sends_each_cards_media(
    whatsapp, owner, tmp_path
):
    def card(n: int) -> dict:
        return {
            "body": f"Quarto {n} por {{{{1}}}}",
            "examples": {"1": "R$ 300"},
            "buttons": [{"type": "quick_reply", "text": "Quero este"}],
        }

    draft = {
        "name": "quartos_verao",
        "category": "marketing",
        "language": "pt_BR",
        "body": "Olá {{1}}, veja os quartos:",
        "examples": {"1": "Ana"},
        "carousel": {"enabled": True, "format": "image", "cards": [card(1), card(2)]},
    }
    _set_app(owner, whatsapp.channel_id)
    with pytest.raises(AccessError) as missing:  # the second card has no example file
        await template_jobs.submit(owner, whatsapp.channel_id, draft, cards={0: _staged(tmp_path)})
    assert missing.value.code == "template_draft.example_file_missing"
    other = tmp_path / "b"
    other.mkdir()
    files = {0: _staged(tmp_path), 1: _staged(other, PNG + b"2")}
    await template_jobs.submit(owner, whatsapp.channel_id, draft, cards=files)
    (at_meta,) = [t for t in whatsapp.sim._templates[WABA] if t["name"] == "quartos_verao"]
    carousel = at_meta["components"][1]
    handles = [c["components"][0]["example"]["header_handle"][0] for c in carousel["cards"]]
    assert [whatsapp.sim.examples[h].content for h in handles] == [PNG, PNG + b"2"]

    await _approve(whatsapp, "quartos_verao")
    conversation = open_conversation(whatsapp, window=False)
    values = {"body:1": "Ana"}
    for n in range(2):
        values |= {
            f"card:{n}:header:link": f"https://cdn.ex.com/{n}.jpg",
            f"card:{n}:body:1": "R$ 1",
        }
    with db.session() as s:
        template_id = stored()["quartos_verao"].id
        content = templates.content_for(s, owner, conversation, template_id, values)
    send(owner, conversation, "template", content)
    await whatsapp.drain()
    sent = whatsapp.sim.sent[-1]["template"]["components"]
    assert [c["card_index"] for c in sent[1]["cards"]] == [0, 1]
    assert sent[1]["cards"][1]["components"][0]["parameters"][0]["image"] == {
        "link": "https://cdn.ex.com/1.jpg"
    }


async def test_a_media_header_sent_as_a_file_is_uploaded_and_named_by_its_id(
    whatsapp, owner, tmp_path
):
    from pytake.services import thread

    whatsapp.sim.add_template(
        WABA,
        _template(
            7,
            components=[
                {"type": "HEADER", "format": "IMAGE"},
                {"type": "BODY", "text": "Olá {{1}}, seu boleto."},
            ],
        ),
    )
    whatsapp.sim.add_template(WABA, _template(8))
    await template_jobs.sync(whatsapp.organization_id)
    conversation = open_conversation(whatsapp, window=False)
    with db.session() as s:
        with_media, text_only = stored()["notice_007"].id, stored()["notice_008"].id
        content = templates.content_for(
            s, owner, conversation, with_media, {"body:1": "Ana"}, header_file=True
        )
        with pytest.raises(AccessError) as no_header:  # a file for a template without media
            templates.content_for(
                s, owner, conversation, text_only, {"body:1": "A"}, header_file=True
            )
        assert no_header.value.code == "send.file_unexpected"
    with pytest.raises(AccessError) as needs_link:  # neither a link nor a file
        send(
            owner,
            conversation,
            "template",
            {**content, "components": content["components"][1:]},
            file=_staged(tmp_path),
        )
    assert needs_link.value.code == "send.file_unexpected"
    accepted = send(owner, conversation, "template", content, file=_staged(tmp_path))
    await whatsapp.drain()
    (upload,) = whatsapp.sim.uploads
    header = whatsapp.sim.sent[-1]["template"]["components"][0]
    assert header == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"id": upload["id"]}}],
    }
    with db.session() as s:
        bubbles, _ = thread.page(s, owner, conversation, "en")
    (bubble,) = [b for b in bubbles if b["id"] == accepted.message_id]
    assert (bubble["media_kind"], bubble["media_state"]) == ("image", "done")
    assert bubble["media_url"].startswith("/media/")


async def test_a_product_template_sends_an_item_of_the_numbers_catalog(whatsapp, owner):
    draft = {
        "name": "produto_do_dia",
        "category": "marketing",
        "language": "pt_BR",
        "header_format": "product",
        "body": "Olá {{1}}, separamos este para você.",
        "examples": {"1": "Ana"},
        "buttons": [{"type": "spm", "text": "Ver produto"}],
    }
    await template_jobs.submit(owner, whatsapp.channel_id, draft)
    await _approve(whatsapp, "produto_do_dia")
    conversation = open_conversation(whatsapp, window=False)
    values = {"header:product": "SKU-42", "body:1": "Ana"}
    template_id = stored()["produto_do_dia"].id
    with db.session() as s, pytest.raises(AccessError) as no_catalog:
        templates.content_for(s, owner, conversation, template_id, values)
    assert no_catalog.value.code == "template.catalog_missing"
    with db.session(write=True) as s:
        channels.update(s, owner, whatsapp.channel_id, {"catalog_id": "1928374655"})
        assert channels.overview(s, owner)[0]["catalog_id"] == "1928374655"
    with db.session() as s:
        content = templates.content_for(s, owner, conversation, template_id, values)
    send(owner, conversation, "template", content)
    await whatsapp.drain()
    header = whatsapp.sim.sent[-1]["template"]["components"][0]
    assert header["parameters"][0]["product"] == {
        "product_retailer_id": "SKU-42",
        "catalog_id": "1928374655",
    }
    shelf = {  # product cards: the catalog shows each, no example file to upload
        **draft,
        "name": "vitrine",
        "header_format": "none",
        "buttons": [],
        "carousel": {
            "enabled": True,
            "format": "product",
            "cards": [{"buttons": [{"type": "spm", "text": "Ver"}]}] * 2,
        },
    }
    await template_jobs.submit(owner, whatsapp.channel_id, shelf)
    (at_meta,) = [t for t in whatsapp.sim._templates[WABA] if t["name"] == "vitrine"]
    cards = at_meta["components"][-1]["cards"]
    assert [c["components"][0] for c in cards] == [{"type": "HEADER", "format": "PRODUCT"}] * 2
    assert whatsapp.sim.calls["app_upload"] == 0
