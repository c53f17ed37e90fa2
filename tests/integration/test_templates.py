"""Template sync against the Meta simulator (paging, statuses, deletions, the webhook's
newer word), and sending a filled-in template from a conversation through the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlmodel import select

from pytake import cli, db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.jobs import templates as template_jobs
from pytake.models import Channel, MessageTemplate, Role, User, utcnow
from pytake.services import templates

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
        assert offered[0]["fields"] == [{"key": "body:1", "label": "1", "kind": "text"}]
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
