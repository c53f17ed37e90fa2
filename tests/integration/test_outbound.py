"""Outbound: agents' messages through the outbox to the Meta simulator, and every way that
can go wrong (limits, retries, permanent errors, lost answers, dead workers)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import secrets
from pathlib import Path

import av
import httpx
import pytest
import redis as redis_lib
import sqlalchemy as sa
from sqlmodel import select

from pytake import channels as adapters
from pytake import db, redisio
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels.whatsapp.adapter import WhatsAppAdapter
from pytake.channels.whatsapp.graph import GraphClient
from pytake.jobs import limits, outbox, runner
from pytake.models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    Message,
    Outbox,
    Role,
    User,
    utcnow,
)
from pytake.sandbox import payloads as p
from pytake.services import explain, outbound

from .conftest import ANA, rows

pytestmark = pytest.mark.usefixtures("whatsapp")


@pytest.fixture
def owner(whatsapp) -> Identity:
    with db.session() as s:
        user = s.exec(select(User).where(User.email == "o@acme.test")).one()
    return Identity(user.id, whatsapp.organization_id, Role.OWNER, "sid", "Owner", user.email, None)


def open_conversation(whatsapp, wa_id: str = ANA, *, window: bool = True) -> int:
    """A customer who wrote recently (or, ``window=False``, more than 24 hours ago)."""
    with db.session() as s:
        contact = Contact(organization_id=whatsapp.organization_id, wa_id=wa_id, name="Ana")
        s.add(contact)
        s.flush()
        last = utcnow() - (dt.timedelta(minutes=5) if window else dt.timedelta(hours=25))
        conversation = Conversation(
            organization_id=whatsapp.organization_id,
            channel_id=whatsapp.channel_id,
            contact_id=contact.id,
            last_inbound_at=last,
            window_expires_at=last + dt.timedelta(hours=24),
        )
        s.add(conversation)
        s.flush()
        return conversation.id


def send(identity, conversation_id, kind="text", content=None, **kw) -> outbound.Accepted:
    kw.setdefault("client_key", secrets.token_hex(8))
    with db.session(write=True) as s:
        return outbound.send(s, identity, conversation_id, kind, content or {"body": "Hello"}, **kw)


def message(message_id: int) -> Message:
    with db.session() as s:
        return s.get(Message, message_id)


def outbox_row(message_id: int) -> Outbox:
    return rows(Outbox, Outbox.message_id == message_id)[0]


def make_due() -> None:
    with db.session() as s:
        s.execute(sa.update(Outbox).values(next_attempt_at=utcnow()))


def configure(channel_id: int, **values) -> None:
    with db.session() as s:
        channel = s.get(Channel, channel_id)
        for key, value in values.items():
            setattr(channel, key, value)


async def inbound_message(whatsapp, wamid: str = "wamid.IN1") -> int:
    await whatsapp.send(p.text("Hi there", sender=ANA, wamid=wamid))
    await whatsapp.drain()
    return rows(Message, Message.external_id == wamid)[0]


# Each type, exactly as Meta documents the request -------------------------------------------


def _sent_without_ids(whatsapp) -> dict:
    body = dict(whatsapp.sim.sent[-1])
    for key in ("wamid", "phone_number_id", "at"):
        body.pop(key)
    return body


async def test_text_is_stored_queued_then_sent_with_link_preview(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    accepted = send(owner, conversation, content={"body": "Track it: https://example.com/t/1"})
    stored = message(accepted.message_id)
    assert (stored.status, stored.direction, stored.sender_user_id) == (
        "queued",
        "out",
        owner.user_id,
    )
    assert outbox_row(stored.id).state == "pending"
    await whatsapp.drain()
    assert _sent_without_ids(whatsapp) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": f"+{ANA}",
        "type": "text",
        "text": {"preview_url": True, "body": "Track it: https://example.com/t/1"},
        "biz_opaque_callback_data": f"pytake-{stored.id}",
    }
    stored = message(accepted.message_id)
    assert stored.status == "sent" and stored.external_id == whatsapp.sim.sent[-1]["wamid"]
    assert stored.sent_at is not None and outbox_row(stored.id).state == "done"


async def test_reply_quotes_the_customer_message_by_its_platform_id(whatsapp, owner):
    quoted = await inbound_message(whatsapp)
    send(owner, quoted.conversation_id, content={"body": "Checking"}, reply_to=quoted.id)
    await whatsapp.drain()
    sent = whatsapp.sim.sent[-1]
    assert sent["context"] == {"message_id": "wamid.IN1"}
    assert sent["text"] == {"preview_url": False, "body": "Checking"}


async def test_reply_to_a_message_of_another_conversation_is_refused(whatsapp, owner):
    quoted = await inbound_message(whatsapp)
    other = open_conversation(whatsapp, "5511987654321")
    with pytest.raises(AccessError) as refused:
        send(owner, other, reply_to=quoted.id)
    assert refused.value.code == "send.message_not_found"


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        (
            "location",
            {"latitude": -23.5, "longitude": -46.6, "name": "Shop", "address": "Av. Paulista"},
            {"latitude": -23.5, "longitude": -46.6, "name": "Shop", "address": "Av. Paulista"},
        ),
        (
            "contacts",
            {"cards": [{"name": {"formatted_name": "Bia Lima"}, "phones": [{"phone": "+5511"}]}]},
            [
                {
                    "name": {"formatted_name": "Bia Lima", "first_name": "Bia"},
                    "phones": [{"phone": "+5511", "type": "CELL"}],
                    "emails": [],
                }
            ],
        ),
        (
            "interactive",
            {
                "kind": "button",
                "header": "Ticket #4411",
                "body": "Did this solve it?",
                "footer": "Acme",
                "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
            },
            {
                "type": "button",
                "body": {"text": "Did this solve it?"},
                "header": {"type": "text", "text": "Ticket #4411"},
                "footer": {"text": "Acme"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                        {"type": "reply", "reply": {"id": "no", "title": "No"}},
                    ]
                },
            },
        ),
        (
            "interactive",
            {
                "kind": "list",
                "body": "What do you need?",
                "button": "Topics",
                "sections": [
                    {
                        "title": "Account",
                        "rows": [
                            {"id": "bill", "title": "Billing", "description": "Invoices"},
                            {"id": "login", "title": "Login"},
                        ],
                    }
                ],
            },
            {
                "type": "list",
                "body": {"text": "What do you need?"},
                "action": {
                    "button": "Topics",
                    "sections": [
                        {
                            "rows": [
                                {"id": "bill", "title": "Billing", "description": "Invoices"},
                                {"id": "login", "title": "Login"},
                            ],
                            "title": "Account",
                        }
                    ],
                },
            },
        ),
    ],
)
async def test_structured_types_match_metas_request_shapes(
    whatsapp, owner, kind, content, expected
):
    send(owner, open_conversation(whatsapp), kind, content)
    await whatsapp.drain()
    sent = whatsapp.sim.sent[-1]
    assert sent["type"] == kind and sent[kind] == expected


async def test_template_is_sent_even_when_the_window_is_closed(whatsapp, owner):
    from .conftest import WABA

    whatsapp.sim.add_template(
        WABA,
        {"name": "ticket_update", "language": "en_US", "category": "UTILITY", "components": []},
    )
    conversation = open_conversation(whatsapp, window=False)
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    send(
        owner,
        conversation,
        "template",
        {"name": "ticket_update", "language": "en-US", "components": components},
    )
    await whatsapp.drain()
    assert whatsapp.sim.sent[-1]["template"] == {
        "name": "ticket_update",
        "language": {"code": "en_US"},
        "components": components,
    }


async def test_reaction_and_its_removal(whatsapp, owner):
    target = await inbound_message(whatsapp)
    send(owner, target.conversation_id, "reaction", {"emoji": "👍", "target": target.id})
    send(owner, target.conversation_id, "reaction", {"emoji": "", "target": target.id})
    await whatsapp.drain()
    reactions = [body["reaction"] for body in whatsapp.sim.sent]
    assert reactions == [
        {"message_id": "wamid.IN1", "emoji": "👍"},
        {"message_id": "wamid.IN1", "emoji": ""},
    ]
    assert all("context" not in body for body in whatsapp.sim.sent)


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("text", {"body": "   "}),
        ("text", {"body": "x" * 4097}),
        (
            "interactive",
            {
                "kind": "button",
                "body": "b",
                "buttons": [{"id": str(i), "title": str(i)} for i in range(4)],
            },
        ),
        (
            "interactive",
            {"kind": "button", "body": "b", "buttons": [{"id": "a", "title": "x" * 21}]},
        ),
        (
            "interactive",
            {
                "kind": "button",
                "body": "b",
                "buttons": [{"id": "a", "title": "Same"}, {"id": "b", "title": "Same"}],
            },
        ),
        (
            "interactive",
            {
                "kind": "list",
                "body": "b",
                "button": "Go",
                "sections": [{"rows": [{"id": str(i), "title": str(i)} for i in range(11)]}],
            },
        ),
        ("location", {"latitude": 91, "longitude": 0}),
        ("location", {"latitude": "nan", "longitude": 0}),
        ("contacts", {"cards": [{"name": {"formatted_name": "No phone"}}]}),
        (
            "template",
            {
                "name": "t",
                "language": "en_US",
                "components": [{"type": "body", "parameters": [{"type": "text", "text": " "}]}],
            },
        ),
        ("order", {}),
        ("nonsense", {}),
    ],
)
async def test_drafts_breaking_metas_rules_are_refused_before_anything_is_stored(
    whatsapp, owner, kind, content
):
    with pytest.raises(AccessError):
        send(owner, open_conversation(whatsapp), kind, content)
    assert rows(Message) == [] and rows(Outbox) == []


# Media: checked, converted, uploaded, sent by id ------------------------------------------------


def _staged(tmp_path: Path, content: bytes, mime: str, name: str) -> outbound.StagedFile:
    path = tmp_path / f"staged-{secrets.token_hex(4)}"
    path.write_bytes(content)
    return outbound.StagedFile(path, mime, name)


async def test_document_is_uploaded_then_sent_by_media_id(whatsapp, owner, tmp_path):
    staged = _staged(tmp_path, b"%PDF-1.4 invoice", "application/pdf", "invoice-4411.pdf")
    accepted = send(
        owner,
        open_conversation(whatsapp),
        "document",
        {"caption": "Invoice", "filename": "invoice-4411.pdf"},
        file=staged,
    )
    await whatsapp.drain()
    (upload,) = whatsapp.sim.uploads
    assert (upload["mime_type"], upload["filename"], upload["file_size"]) == (
        "application/pdf",
        "invoice-4411.pdf",
        16,
    )
    assert whatsapp.sim.sent[-1]["document"] == {
        "id": upload["id"],
        "caption": "Invoice",
        "filename": "invoice-4411.pdf",
    }
    (attachment,) = rows(Attachment, Attachment.message_id == accepted.message_id)
    assert attachment.external_media_id == upload["id"] and attachment.state == "done"


@pytest.mark.parametrize(
    ("kind", "content", "mime", "code"),
    [
        ("image", b"GIF89a", "image/gif", "send.file_type"),
        ("image", b"x" * (5 * 1024 * 1024 + 1), "image/jpeg", "send.file_too_large"),
        ("sticker", b"RIFF" + b"x" * 600_000, "image/webp", "send.file_too_large"),
        ("document", b"<html>", "text/html", "send.file_type"),
        ("image", b"", "image/png", "send.file_empty"),
    ],
)
async def test_files_whatsapp_would_reject_are_refused_before_upload(
    whatsapp, owner, tmp_path, kind, content, mime, code
):
    staged = _staged(tmp_path, content, mime, "file")
    with pytest.raises(AccessError) as refused:
        send(owner, open_conversation(whatsapp), kind, {}, file=staged)
    assert refused.value.code == code
    assert whatsapp.sim.calls["upload"] == 0 and rows(Message) == []


def _webm_tone(path: Path, seconds: float = 1.0) -> None:
    with av.open(str(path), "w", format="webm") as writer:
        stream = writer.add_stream("libopus", rate=48000, layout="stereo")
        frames = int(seconds * 50)
        for i in range(frames):
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            samples = b"".join(
                int(8000 * math.sin(2 * math.pi * 440 * (i * 960 + j) / 48000)).to_bytes(
                    2, "little", signed=True
                )
                * 2
                for j in range(960)
            )
            frame.planes[0].update(samples)
            frame.sample_rate, frame.pts = 48000, i * 960
            for packet in stream.encode(frame):
                writer.mux(packet)
        for packet in stream.encode(None):
            writer.mux(packet)


async def test_browser_voice_note_is_converted_to_ogg_opus_and_sent_as_voice(
    whatsapp, owner, tmp_path
):
    recorded = tmp_path / "recording.webm"
    _webm_tone(recorded)
    staged = outbound.StagedFile(recorded, "audio/webm;codecs=opus", "recording.webm")
    send(owner, open_conversation(whatsapp), "audio", {"voice": True}, file=staged)
    await whatsapp.drain()
    (upload,) = whatsapp.sim.uploads
    assert upload["mime_type"] == "audio/ogg"
    assert whatsapp.sim.sent[-1]["audio"] == {"id": upload["id"], "voice": True}
    stored = whatsapp.sim._media[upload["id"]].content
    converted = tmp_path / "check.ogg"
    converted.write_bytes(stored)
    with av.open(str(converted)) as reader:
        stream = reader.streams.audio[0]
        assert reader.format.name == "ogg" and stream.codec_context.name == "opus"
        assert stream.codec_context.layout.nb_channels == 1


async def test_unreadable_recording_is_refused(whatsapp, owner, tmp_path):
    staged = _staged(tmp_path, b"not audio at all", "audio/webm", "recording.webm")
    with pytest.raises(AccessError) as refused:
        send(owner, open_conversation(whatsapp), "audio", {"voice": True}, file=staged)
    assert refused.value.code == "send.voice_unreadable"


# Idempotency, visibility and the window ------------------------------------------------------


async def test_the_same_client_key_never_creates_a_second_message(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    first = send(owner, conversation, client_key="double-click-1")
    again = send(owner, conversation, client_key="double-click-1")
    assert again.message_id == first.message_id and again.outbox_id is None
    await whatsapp.drain()
    assert len(rows(Message)) == 1 and len(whatsapp.sim.sent) == 1


async def test_concurrent_sends_with_one_key_store_one_message(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    results = await asyncio.gather(
        *(asyncio.to_thread(send, owner, conversation, client_key="reconnect-1") for _ in range(4))
    )
    assert len({r.message_id for r in results}) == 1
    assert len(rows(Message)) == 1 and len(rows(Outbox)) == 1


async def test_free_form_outside_the_window_is_refused_before_any_call(whatsapp, owner):
    conversation = open_conversation(whatsapp, window=False)
    with pytest.raises(AccessError) as refused:
        send(owner, conversation)
    assert refused.value.code == "send.window_closed"
    assert rows(Message) == [] and whatsapp.sim.calls["messages"] == 0


async def test_window_closing_while_queued_fails_the_message_without_calling_meta(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    accepted = send(owner, conversation)
    with db.session() as s:
        s.get(Conversation, conversation).window_expires_at = utcnow() - dt.timedelta(seconds=1)
    await whatsapp.drain()
    stored = message(accepted.message_id)
    assert stored.status == "failed" and stored.error["errors"][0]["code"] == 131047
    assert whatsapp.sim.calls["messages"] == 0
    assert explain.explain(stored.status, stored.error, "en")["retry"] is False


async def test_agents_cannot_send_into_a_conversation_assigned_to_someone_else(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    with db.session() as s:
        s.get(Conversation, conversation).assignee_id = owner.user_id
    agent = Identity(owner.user_id + 999, owner.organization_id, Role.AGENT, "s", "A", "a@x", None)
    for target in (conversation, 10**9, "1", None):
        with pytest.raises(AccessError) as refused:
            send(agent, target)
        assert refused.value.code == "conversation.not_found"
    stranger = Identity(owner.user_id, owner.organization_id + 1, Role.OWNER, "s", "X", "x@x", None)
    with pytest.raises(AccessError):
        send(stranger, conversation)


# Errors and retries ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [131026, 132001, 100, 131047, 131053])
async def test_permanent_errors_fail_at_once_with_an_explained_reason(whatsapp, owner, code):
    whatsapp.sim.fail_next(code)
    accepted = send(owner, open_conversation(whatsapp))
    await whatsapp.drain()
    make_due()
    await whatsapp.drain()
    stored = message(accepted.message_id)
    assert stored.status == "failed" and stored.error["errors"][0]["code"] == code
    assert outbox_row(stored.id).state == "failed" and whatsapp.sim.calls["messages"] == 1
    explained = explain.explain(stored.status, stored.error, "pt-BR")
    assert explained["reason"] and explained["next"] and explained["code"] == str(code)
    assert not explained["reason"].startswith("explain.")


async def test_a_131047_in_the_send_answer_closes_the_window(whatsapp, owner):
    """As the failed-status webhook does: the next free-form text is refused before any
    call, and the composer offers templates only."""
    conversation = open_conversation(whatsapp)
    send(owner, conversation)
    whatsapp.sim.fail_next(131047)
    await whatsapp.drain()
    with db.session() as s:
        assert s.get(Conversation, conversation).window_expires_at <= utcnow()
    with pytest.raises(AccessError) as refused:
        send(owner, conversation, client_key="after-131047")
    assert refused.value.code == "send.window_closed"
    assert whatsapp.sim.calls["messages"] == 1


async def test_an_id_already_another_messages_leaves_this_one_unconfirmed_and_explained(
    whatsapp, owner, monkeypatch
):
    """Meta never reuses a message id, but a stand-in that restarted did: the second send
    must not fail to store (and retry for minutes) but say at once what happened."""
    conversation = open_conversation(whatsapp)
    first = send(owner, conversation, content={"body": "one"})
    await whatsapp.drain()
    reused = message(first.message_id).external_id
    monkeypatch.setattr(p, "new_wamid", lambda: reused)
    second = send(owner, conversation, content={"body": "two"})
    await whatsapp.drain()
    stored = message(second.message_id)
    assert (stored.status, stored.external_id) == ("unknown", None)
    assert outbox_row(stored.id).state == "done"  # never sent again by itself
    told = explain.explain(stored.status, stored.error, "pt-BR")
    assert "já tinha dado a outra mensagem" in told["reason"] and not told["retry"]
    assert message(first.message_id).external_id == reused


async def test_server_error_is_retried_with_backoff_then_sent_once(whatsapp, owner):
    whatsapp.sim.fail_next(131000)  # armed first: the send may be taken as soon as it commits
    accepted = send(owner, open_conversation(whatsapp))
    await whatsapp.drain()
    row = outbox_row(accepted.message_id)
    assert (row.state, row.attempts, message(accepted.message_id).status) == (
        "pending",
        1,
        "queued",
    )
    assert row.next_attempt_at <= utcnow() + dt.timedelta(seconds=outbox.RETRY_BASE_SECONDS * 2)
    make_due()
    await whatsapp.drain()
    assert message(accepted.message_id).status == "sent"
    assert whatsapp.sim.calls["messages"] == 2 and len(whatsapp.sim.sent) == 1


async def test_retries_exhausted_dead_letter_the_message_with_its_error(
    whatsapp, owner, settings_env
):
    settings_env(job_max_attempts="3")
    whatsapp.sim.fail_next(131016, count=5)
    accepted = send(owner, open_conversation(whatsapp))
    for _ in range(4):
        make_due()
        await whatsapp.drain()
    stored = message(accepted.message_id)
    assert outbox_row(stored.id).state == "dead" and whatsapp.sim.calls["messages"] == 3
    assert stored.status == "failed" and stored.error["exhausted"] is True
    assert explain.explain("failed", stored.error, "en")["retry"] is True


async def test_throughput_error_honours_retry_after_and_holds_the_number(whatsapp, owner):
    first = send(owner, open_conversation(whatsapp))
    whatsapp.sim.fail_next(130429, retry_after=7)
    await whatsapp.drain()
    row = outbox_row(first.message_id)
    assert row.state == "pending" and row.next_attempt_at >= utcnow() + dt.timedelta(seconds=6)
    # Another customer on the same number waits for the pause too.
    other = send(owner, open_conversation(whatsapp, "5511987654321"))
    await whatsapp.drain()
    assert whatsapp.sim.calls["messages"] == 1
    assert outbox_row(other.message_id).next_attempt_at >= utcnow() + dt.timedelta(seconds=5)


async def test_a_lone_throughput_error_delays_its_message_but_not_the_number(whatsapp, owner):
    first = send(owner, open_conversation(whatsapp))
    whatsapp.sim.fail_next(130429)  # no Retry-After: our windows held, so Meta's edge jitter
    await whatsapp.drain()
    row = outbox_row(first.message_id)
    assert row.state == "pending" and row.next_attempt_at >= utcnow() + dt.timedelta(seconds=0.9)
    other = send(owner, open_conversation(whatsapp, "5511987654321"))
    await whatsapp.drain()
    assert message(other.message_id).status == "sent"


@pytest.mark.parametrize("shared", [False, True], ids=["embedded", "redis"])
async def test_throughput_errors_for_a_quarter_of_a_window_pause_the_number(
    whatsapp, owner, settings_env, request, shared
):
    if shared:
        settings_env(redis_url=request.getfixturevalue("redis_url"))
    with db.session() as s:
        s.get(Channel, whatsapp.channel_id).rate_limit_per_second = 8  # 2 refusals pause it
    for n in range(2):
        send(owner, open_conversation(whatsapp, f"55119876543{n:02d}"))
    whatsapp.sim.fail_next(130429, count=2)
    await whatsapp.drain()
    assert whatsapp.sim.calls["messages"] == 2
    number = limits.number_window(whatsapp.channel_id, 8)
    assert await limits.limiter().acquire([number], "probe") >= 0.5  # paused for a second or more


async def test_pair_rate_error_backs_off_one_customer_only(whatsapp, owner):
    ana = send(owner, open_conversation(whatsapp))
    whatsapp.sim.fail_next(131056)
    await whatsapp.drain()
    assert outbox_row(ana.message_id).state == "pending"
    bia = send(owner, open_conversation(whatsapp, "5511987654321"))
    await whatsapp.drain()
    assert message(bia.message_id).status == "sent"
    assert message(ana.message_id).status == "queued"


async def test_pair_limit_spaces_messages_to_one_customer(whatsapp, owner):
    with db.session() as s:
        s.get(Channel, whatsapp.channel_id).config = {"pair_limit": 2, "pair_window_seconds": 60}
    conversation = open_conversation(whatsapp)
    accepted = [send(owner, conversation, content={"body": f"m{i}"}) for i in range(3)]
    await whatsapp.drain()
    assert [b["text"]["body"] for b in whatsapp.sim.sent] == ["m0", "m1"]
    held = outbox_row(accepted[2].message_id)
    assert held.state == "pending" and held.attempts == 0  # waiting is not failing
    assert held.next_attempt_at >= utcnow() + dt.timedelta(seconds=50)


async def test_messages_to_one_customer_leave_in_order(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    first = send(owner, conversation, content={"body": "first"})
    send(owner, conversation, content={"body": "second"})
    whatsapp.sim.fail_next(131000)
    await whatsapp.drain()
    assert whatsapp.sim.sent == []  # the second waits for the first
    make_due()
    await whatsapp.drain()
    assert [b["text"]["body"] for b in whatsapp.sim.sent] == ["first", "second"]
    assert message(first.message_id).status == "sent"


async def test_token_error_fails_the_send_and_marks_the_channel_until_it_works(whatsapp, owner):
    conversation = open_conversation(whatsapp)
    failed = send(owner, conversation)
    whatsapp.sim.fail_next(190)
    await whatsapp.drain()
    assert message(failed.message_id).status == "failed"
    assert rows(Channel)[0].token_invalid_at is not None
    assert explain.explain("failed", message(failed.message_id).error, "en")["retry"] is True
    with db.session(write=True) as s:
        outbound.resend(s, owner, failed.message_id)
    await whatsapp.drain()
    assert message(failed.message_id).status == "sent"
    assert rows(Channel)[0].token_invalid_at is None


async def test_resend_after_a_failed_status_is_a_new_call_with_a_new_id(whatsapp, owner):
    accepted = send(owner, open_conversation(whatsapp))
    await whatsapp.drain()
    first_wamid = message(accepted.message_id).external_id
    await whatsapp.statuses(p.status(first_wamid, "failed", ANA, errors=[p.error(131000)]))
    await whatsapp.drain()
    assert message(accepted.message_id).status == "failed"
    with db.session(write=True) as s:
        outbound.resend(s, owner, accepted.message_id)
    await whatsapp.drain()
    stored = message(accepted.message_id)
    assert len(whatsapp.sim.sent) == 2 and stored.external_id != first_wamid
    assert stored.status == "sent"
    with db.session(write=True) as s, pytest.raises(AccessError):
        outbound.resend(s, owner, accepted.message_id)  # delivered messages are not resent


# Lost answers and dead workers -----------------------------------------------------------------


class _Deadline(httpx.AsyncBaseTransport):
    """The client's read timeout, which in-process transports do not enforce."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(self.seconds):
                return await self.inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out", request=request) from None


async def test_timeout_after_send_is_unknown_not_resent_and_reconciled_by_its_status(
    whatsapp, owner
):
    transport = _Deadline(httpx.ASGITransport(app=whatsapp.sim.app), 0.3)
    async with httpx.AsyncClient(transport=transport) as http:
        adapters.register(WhatsAppAdapter(GraphClient(http)))
        accepted = send(owner, open_conversation(whatsapp))
        whatsapp.sim.timeout_next(delay=2)
        await whatsapp.drain()
    stored = message(accepted.message_id)
    assert stored.status == "unknown" and stored.external_id is None
    assert outbox_row(stored.id).state == "unknown"
    make_due()
    await whatsapp.drain()
    assert len(whatsapp.sim.sent) == 1  # never sent twice on our own
    assert explain.explain("unknown", stored.error, "en")["retry"] is True
    went_out = whatsapp.sim.sent[0]
    await whatsapp.statuses(
        p.status(
            went_out["wamid"],
            "delivered",
            ANA,
            biz_opaque_callback_data=went_out["biz_opaque_callback_data"],
        )
    )
    await whatsapp.drain()
    stored = message(accepted.message_id)
    assert (stored.status, stored.external_id) == ("delivered", went_out["wamid"])
    assert outbox_row(stored.id).state == "done"


async def test_connection_refused_is_retried_because_nothing_left(whatsapp, owner):
    class Refused(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=Refused()) as http:
        adapters.register(WhatsAppAdapter(GraphClient(http)))
        accepted = send(owner, open_conversation(whatsapp))
        await whatsapp.drain()
    row = outbox_row(accepted.message_id)
    assert (row.state, row.attempts) == ("pending", 1)
    adapters.register(
        WhatsAppAdapter(
            GraphClient(httpx.AsyncClient(transport=httpx.ASGITransport(app=whatsapp.sim.app)))
        )
    )
    make_due()
    await whatsapp.drain()
    assert message(accepted.message_id).status == "sent"


async def test_worker_killed_mid_send_is_unknown_and_never_duplicated(whatsapp, owner):
    accepted = send(owner, open_conversation(whatsapp))
    row_id = outbox_row(accepted.message_id).id
    assert outbox._claim(row_id)  # the worker committed 'sending', called Meta, and died
    await whatsapp.drain()
    assert whatsapp.sim.calls["messages"] == 0  # nobody else picks a 'sending' row
    assert outbox.recover_stuck(dt.timedelta(0)).conversations
    stored = message(accepted.message_id)
    assert stored.status == "unknown" and outbox_row(stored.id).state == "unknown"
    make_due()
    await whatsapp.drain()
    assert whatsapp.sim.calls["messages"] == 0
    with db.session(write=True) as s:
        outbound.resend(s, owner, accepted.message_id)  # the agent decides
    await whatsapp.drain()
    assert message(accepted.message_id).status == "sent" and len(whatsapp.sim.sent) == 1


async def test_statuses_racing_the_send_answer_are_applied(whatsapp, owner):
    accepted = send(owner, open_conversation(whatsapp))
    await whatsapp.drain()
    wamid = message(accepted.message_id).external_id
    await whatsapp.statuses(p.status(wamid, "read", ANA), p.status(wamid, "delivered", ANA))
    await whatsapp.drain()
    stored = message(accepted.message_id)
    assert stored.status == "read" and stored.read_at is not None


# Rate limits ----------------------------------------------------------------------------------


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


async def _flood(whatsapp, owner, count: int) -> None:
    with db.session() as s:
        s.get(Channel, whatsapp.channel_id).rate_limit_per_second = 10
    for i in range(count):
        send(owner, open_conversation(whatsapp, f"44770090{i:04d}"), content={"body": str(i)})


@pytest.fixture(params=[False, True], ids=["embedded", "redis"])
async def limiter(request, settings_env):
    shared = request.param
    settings_env(redis_url=request.getfixturevalue("redis_url") if shared else None)
    limits._local = limits.LocalLimiter()
    return limits.limiter()


async def test_an_answered_call_counts_once(limiter):
    window = [limits.Window("number:test", 2, 1.0)]
    assert await limiter.acquire(window, "a") == 0.0
    await limiter.settle(window, "a")
    assert await limiter.acquire(window, "b") == 0.0
    assert 0.5 < await limiter.acquire(window, "c") <= 1.0


async def test_a_slow_call_holds_its_slot_until_its_answer_leaves_the_window(limiter):
    window = [limits.Window("number:test", 1, 0.5)]
    assert await limiter.acquire(window, "slow") == 0.0
    await asyncio.sleep(0.6)  # past its grant's window, still unanswered
    assert 0 < await limiter.acquire(window, "next") <= 0.5
    await limiter.settle(window, "slow")  # it may have reached Meta only now
    assert 0.3 < await limiter.acquire(window, "next") <= 0.5
    await asyncio.sleep(0.55)
    assert await limiter.acquire(window, "next") == 0.0


async def test_a_call_held_up_is_logged_when_it_left(limiter):
    window = [limits.Window("number:test", 1, 0.5)]
    assert await limiter.acquire(window, "held") == 0.0
    await asyncio.sleep(0.6)
    await limiter.settle(window, "held", ago=0.3)  # it left 0.3 s after its grant
    assert 0 < await limiter.acquire(window, "next") <= 0.25


async def test_number_limit_holds_in_every_second_with_one_embedded_worker(
    whatsapp, owner, settings_env
):
    settings_env(redis_url=None)
    await _flood(whatsapp, owner, 35)
    task = asyncio.create_task(runner.run_local(runner.JOBS["outbox"]))
    try:
        async with asyncio.timeout(30):
            while len(whatsapp.sim.sent) < 35:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert _busiest_second([b["at"] for b in whatsapp.sim.sent]) <= 10


async def test_number_limit_holds_across_redis_workers(whatsapp, owner, settings_env, redis_url):
    settings_env(redis_url=redis_url)
    await _flood(whatsapp, owner, 35)
    job = runner.JOBS["outbox"]
    workers = [asyncio.create_task(runner.run_redis(job)) for _ in range(2)]
    try:
        await asyncio.sleep(0.2)
        await runner.enqueue("outbox", [row.id for row in rows(Outbox)])
        async with asyncio.timeout(30):
            while len(whatsapp.sim.sent) < 35:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    assert len(whatsapp.sim.sent) == 35
    assert _busiest_second([b["at"] for b in whatsapp.sim.sent]) <= 10


class _Slow(httpx.AsyncBaseTransport):
    """Meta taking ``seconds`` to answer: many sends are in flight at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.seconds)
        return await self.inner.handle_async_request(request)


async def test_a_process_keeps_within_its_redis_connections_with_every_send_in_flight(
    whatsapp, owner, settings_env, redis_url
):
    """Every outbox slot once blocked on a connection of its own: 80 per process."""
    settings_env(redis_url=redis_url, redis_max_connections="12")
    slow = httpx.AsyncClient(transport=_Slow(httpx.ASGITransport(app=whatsapp.sim.app), 0.5))
    adapters.register(WhatsAppAdapter(GraphClient(slow)))
    with db.session() as s:
        s.get(Channel, whatsapp.channel_id).rate_limit_per_second = 1000
    for i in range(150):
        send(owner, open_conversation(whatsapp, f"4477009{i:05d}"), content={"body": str(i)})
    name = f"pytake-{os.getpid()}"
    watcher = redis_lib.Redis.from_url(redis_url)
    # Earlier tests' event loops left clients of their own in this process: only clients
    # opened from now on count, and the blocking pool starts again to be counted whole.
    redisio._blocking.cache_clear()
    earlier = {c["id"] for c in watcher.client_list() if c["name"] == name}
    peak = 0
    task = asyncio.create_task(runner.serve())  # every job, as a job process runs them
    try:
        await asyncio.sleep(0.3)
        await runner.enqueue("outbox", [row.id for row in rows(Outbox)])
        async with asyncio.timeout(60):
            while len(whatsapp.sim.sent) < 150:
                clients = await asyncio.to_thread(watcher.client_list)
                mine = [c for c in clients if c["name"] == name and c["id"] not in earlier]
                peak = max(peak, len(mine))
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redisio.close()
        await slow.aclose()
        watcher.close()
    assert len({b["text"]["body"] for b in whatsapp.sim.sent}) == 150
    assert len(runner.JOBS) <= peak <= 12  # each job's reader, and never past the bound


async def test_sends_wait_when_the_shared_limiter_is_unreachable(whatsapp, owner, settings_env):
    settings_env(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    accepted = send(owner, open_conversation(whatsapp))
    await outbox.deliver(outbox_row(accepted.message_id).id)
    row = outbox_row(accepted.message_id)
    assert whatsapp.sim.calls["messages"] == 0  # fail closed
    assert (row.state, row.attempts) == ("pending", 0) and row.next_attempt_at > utcnow()


# Read receipts and typing ----------------------------------------------------------------------


async def test_opening_a_conversation_marks_the_latest_message_read_once(whatsapp, owner):
    quoted = await inbound_message(whatsapp)
    with db.session(write=True) as s:
        target = outbound.read_receipt(s, owner, quoted.conversation_id)
    assert target == (whatsapp.channel_id, "wamid.IN1")
    await outbox.mark_read(*target)
    assert whatsapp.sim.read_marks == ["wamid.IN1"]
    with db.session(write=True) as s:
        assert outbound.read_receipt(s, owner, quoted.conversation_id) is None  # already read
    await outbox.mark_read(*target, typing=True)
    assert whatsapp.sim.typing == ["wamid.IN1"]
