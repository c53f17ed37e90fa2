"""What the conversation view draws, and who may fetch a message's file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pytake import db
from pytake.auth import sessions
from pytake.auth.errors import AccessError
from pytake.models import Attachment, Conversation, Message, Role, User
from pytake.sandbox import payloads as p
from pytake.services import accounts, thread

from .conftest import ANA, rows

PASSWORD = "correct horse 1"


def _cookie(email: str) -> str:
    with db.session() as s:
        ticket = accounts.sign_in(s, email=email, password=PASSWORD, ip=None, user_agent=None)[1]
    with db.session() as s:
        return f"{sessions.COOKIE_NAME}={sessions.redeem_ticket(s, ticket)}"


def _identity(email: str):
    cookie = _cookie(email)
    with db.session() as s:
        return sessions.resolve(s, sessions.parse_cookie_header(cookie))


async def _conversation_with_media(whatsapp) -> int:
    media_id = whatsapp.sim.add_media(b"\xff\xd8\xff fake jpeg", "image/jpeg")
    await whatsapp.send(
        p.text("Oi", sender=ANA, wamid="wamid.A"),
        p.image(media_id, sender=ANA, caption="the label", wamid="wamid.B"),
        p.location(-23.56, -46.65, sender=ANA, name="Loja", wamid="wamid.C"),
        p.text("reply", sender=ANA, wamid="wamid.D", context={"id": "wamid.A"}),
        p.reaction("wamid.A", "❤️", sender=ANA, wamid="wamid.E"),
    )
    await whatsapp.drain()
    return rows(Conversation)[0].id


async def test_page_draws_each_kind_with_its_details(whatsapp):
    conversation = await _conversation_with_media(whatsapp)
    owner = _identity("o@acme.test")
    with db.session() as s:
        bubbles, more = thread.page(s, owner, conversation, "pt-BR")
    assert more is False
    by_text = {b["id"]: b for b in bubbles}
    assert [b["type"] for b in bubbles] == ["text", "image", "location", "text"]  # reaction apart
    first, image, place, reply = bubbles
    assert first["reactions"] == ["❤️"] and first["can_react"] and first["can_reply"]
    assert image["media_url"].startswith("/media/") and image["text"] == "the label"
    assert place["map_url"].startswith("https://www.openstreetmap.org/?mlat=-23.56")
    assert place["text"] == "Loja"
    assert thread.preview("location", {"name": "Loja"}, "pt-BR") == "📍 Localização Loja"
    assert reply["has_quote"] and reply["quote"] == "Oi"
    assert len(by_text) == 4 and all(b["day"] for b in bubbles)


@contextlib.contextmanager
def _selects() -> Iterator[list[str]]:
    """The SELECTs sent inside the block."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(" ".join(statement.split()))

    engine = db.get_engine()
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)


async def test_a_page_of_plain_texts_looks_up_nothing_else(whatsapp):
    await whatsapp.send(p.text("a", sender=ANA, wamid="wamid.1"), p.text("b", sender=ANA))
    await whatsapp.drain()
    owner = _identity("o@acme.test")
    conversation = rows(Conversation)[0].id
    with _selects() as statements, db.session() as s:
        bubbles, _ = thread.page(s, owner, conversation, "en")
    assert [b["text"] for b in bubbles] == ["a", "b"]
    # The messages (with the visibility rule and their senders) and the notes: no files or
    # quotes to find.
    assert [sql.split(" FROM ")[1].split()[0] for sql in statements] == ["message", "note"]
    with db.session() as s:
        s.execute(sa.delete(Message))
    with db.session() as s:
        assert thread.page(s, owner, conversation, "en") == ([], False)  # seen, and empty


async def test_older_pages_load_before_the_oldest_shown(whatsapp):
    await whatsapp.send(*[p.text(f"m{i}", sender=ANA, wamid=f"wamid.{i}") for i in range(60)])
    await whatsapp.drain()
    owner = _identity("o@acme.test")
    conversation = rows(Conversation)[0].id
    with db.session() as s:
        latest, more = thread.page(s, owner, conversation, "en")
        older, more_still = thread.page(s, owner, conversation, "en", before=latest[0]["id"])
    assert more and len(latest) == thread.PAGE and latest[-1]["text"] == "m59"
    assert not more_still and [b["text"] for b in older] == [f"m{i}" for i in range(10)]


async def test_agents_only_read_what_they_may_see(whatsapp):
    conversation = await _conversation_with_media(whatsapp)
    with db.session() as s:
        accounts.add_user(
            s,
            organization_id=whatsapp.organization_id,
            email="agent@acme.test",
            name="Agent",
            password=PASSWORD,
            role=Role.AGENT,
        )
        owner_id = s.exec(select(User.id).where(User.email == "o@acme.test")).one()
        s.get(Conversation, conversation).assignee_id = owner_id
    agent = _identity("agent@acme.test")
    with db.session() as s, pytest.raises(AccessError):
        thread.page(s, agent, conversation, "en")


async def test_media_route_serves_files_only_to_those_who_may_see_them(whatsapp):
    conversation = await _conversation_with_media(whatsapp)
    (attachment,) = rows(Attachment)
    url = f"/media/{attachment.id}"
    owner = _cookie("o@acme.test")
    response = await whatsapp.http.get(url, headers={"Cookie": owner})
    assert response.status_code == 200 and response.content == b"\xff\xd8\xff fake jpeg"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    for headers in ({}, {"Cookie": "pytake_session=forged"}):
        assert (await whatsapp.http.get(url, headers=headers)).status_code == 404
    for bad in ("/media/999999", "/media/abc", "/media/" + "9" * 30):
        assert (await whatsapp.http.get(bad, headers={"Cookie": owner})).status_code == 404
    with db.session() as s:
        accounts.add_user(
            s,
            organization_id=whatsapp.organization_id,
            email="agent@acme.test",
            name="Agent",
            password=PASSWORD,
            role=Role.AGENT,
        )
        owner_id = s.exec(select(User.id).where(User.email == "o@acme.test")).one()
        s.get(Conversation, conversation).assignee_id = owner_id
    agent = _cookie("agent@acme.test")
    assert (await whatsapp.http.get(url, headers={"Cookie": agent})).status_code == 404
    with db.session() as s:
        message = s.exec(select(Message).where(Message.external_id == "wamid.B")).one()
        assert message.conversation_id == conversation


async def test_inbox_rows_carry_the_last_message_in_one_query(whatsapp):
    from pytake.services import inbox

    await whatsapp.send(p.text("first", sender=ANA, wamid="wamid.1"))
    media_id = whatsapp.sim.add_media(b"\xff\xd8\xff", "image/jpeg")
    await whatsapp.send(
        p.image(media_id, sender="5511987654321", wamid="wamid.2"),
        p.reaction("wamid.1", "👍", sender=ANA, wamid="wamid.3"),
        contacts=[p.profile("5511987654321", "Bia"), p.profile(ANA, "Ana")],
    )
    await whatsapp.drain()
    owner = _identity("o@acme.test")
    with _selects() as statements, db.session() as s:
        rows = inbox.page(s, owner, inbox.Query(), language="en")[0]
    assert len(statements) == 1  # no query per row
    by_name = {row["contact"]: row for row in rows}
    assert by_name["Bia"]["preview"] == "📷 Photo"
    assert by_name["Bia"]["number"] == "+55 11 98765-4321"  # as people write it
    assert by_name["Ana"]["preview"] == "first"  # a reaction is not a last message
    assert by_name["Ana"]["unread"] == 1 and by_name["Ana"]["window_open"]
