"""Signed webhooks in, conversations out: every type, exactly once, whatever the faults."""

import asyncio
import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from pytake import cli, db
from pytake.jobs import runner
from pytake.jobs import webhooks as processing
from pytake.models import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    Message,
    MessageTemplate,
    Organization,
    ParkedUpdate,
    WebhookEvent,
    utcnow,
)
from pytake.realtime import signals
from pytake.sandbox import payloads as p
from pytake.services import channels, inbound_statuses, templates, webhooks
from pytake.services.effects import Effects
from tests.integration.conftest import ANA, DISPLAY, PNID, VERIFY, WABA, rows


async def test_verification_handshake(whatsapp):
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    ok = await whatsapp.http.get("/webhooks/whatsapp", params=params)
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    for bad in (
        {"hub.verify_token": "wrong"},
        {"hub.mode": "unsubscribe"},
        {"hub.verify_token": ""},
    ):
        response = await whatsapp.http.get("/webhooks/whatsapp", params={**params, **bad})
        assert response.status_code == 403
    missing = {k: v for k, v in params.items() if k != "hub.verify_token"}
    assert (await whatsapp.http.get("/webhooks/whatsapp", params=missing)).status_code == 403


async def test_text_message_creates_contact_conversation_and_window(whatsapp):
    sent = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    response = await whatsapp.send(
        p.text(
            "Olá! ação/teste 😀", sender=ANA, wamid="wamid.1", timestamp=str(int(sent.timestamp()))
        )
    )
    assert response.status_code == 200
    await whatsapp.drain()
    (contact,) = rows(Contact)
    assert (contact.wa_id, contact.name) == (ANA, "Ana Silva")
    (conversation,) = rows(Conversation)
    assert conversation.status == "open" and conversation.unread_count == 1
    assert conversation.last_inbound_at == sent
    assert conversation.window_expires_at == sent + dt.timedelta(hours=24)
    (message,) = rows(Message)
    assert message.content == {"body": "Olá! ação/teste 😀"} and message.direction == "in"
    assert message.conversation_id == conversation.id and message.sent_at == sent
    (event,) = rows(WebhookEvent)
    assert event.state == "done" and event.attempts == 1


async def test_every_inbound_type_is_stored_typed(whatsapp):
    sim = whatsapp.sim
    items = [
        p.text("hi", sender=ANA),
        p.image(sim.add_media(b"\xff\xd8jpeg", "image/jpeg"), caption="box", sender=ANA),
        p.audio(sim.add_media(b"OggS", "audio/ogg"), voice=True, sender=ANA),
        p.video(sim.add_media(b"mp4", "video/mp4"), sender=ANA),
        p.document(sim.add_media(b"%PDF", "application/pdf"), "a.pdf", sender=ANA),
        p.sticker(sim.add_media(b"RIFFWEBP", "image/webp"), sender=ANA),
        p.location(51.5, -0.1, name="Pickup", sender=ANA),
        p.contacts([{"name": {"formatted_name": "Jo"}}], sender=ANA),
        p.button_reply("yes", "Yes", sender=ANA),
        p.list_reply("billing", "Billing", sender=ANA),
        p.nfm_reply({"rating": "5"}, sender=ANA),
        p.template_button("reopen", "Reopen", sender=ANA),
        p.order("77", [{"product_retailer_id": "S", "quantity": 1}], sender=ANA),
        p.unsupported("poll_creation", sender=ANA),
        p.unknown("hologram", {"x": 1}, sender=ANA),
    ]
    assert (await whatsapp.send(*items)).status_code == 200
    await whatsapp.drain()
    types = [m.type for m in rows(Message)]
    assert types == [
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "button_reply",
        "list_reply",
        "flow_reply",
        "template_button",
        "order",
        "unsupported",
        "unsupported",
    ]
    assert len(rows(Conversation)) == 1 and rows(Conversation)[0].unread_count == 15
    assert [a.state for a in rows(Attachment)] == ["done"] * 5


async def test_batched_post_applies_every_item_once(whatsapp):
    def change(tag):
        messages = [p.text(f"{tag}-{i}", sender=ANA, wamid=f"wamid.{tag}.{i}") for i in range(3)]
        return p.change(p.messages_value(PNID, DISPLAY, messages, [p.profile(ANA, "Ana")]))

    payload = p.envelope(
        p.entry(WABA, change("a"), change("b")), p.entry(WABA, change("c"), change("d"))
    )
    assert (await whatsapp.post(payload)).status_code == 200
    await whatsapp.drain()
    assert len(rows(Message)) == 12


async def test_the_same_post_three_times_concurrently_is_one_message(whatsapp):
    body = p.encode(
        p.envelope(
            p.entry(
                WABA,
                p.change(
                    p.messages_value(
                        PNID,
                        DISPLAY,
                        [p.text("once", sender=ANA, wamid="wamid.once")],
                        [p.profile(ANA, "Ana")],
                    )
                ),
            )
        )
    )
    responses = await asyncio.gather(*(whatsapp.post(body) for _ in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200]
    await whatsapp.drain()
    # Re-sent with different bytes (Meta re-batches): the item is still applied once.
    await whatsapp.send(
        p.text("once", sender=ANA, wamid="wamid.once"), p.text("new", sender=ANA, wamid="wamid.new")
    )
    await whatsapp.drain()
    assert [m.external_id for m in rows(Message)] == ["wamid.once", "wamid.new"]
    assert rows(Conversation)[0].unread_count == 2
    assert len(rows(WebhookEvent)) == 2


async def test_concurrent_workers_apply_an_event_once(whatsapp):
    await whatsapp.send(*(p.text(str(i), sender=ANA) for i in range(5)))
    (event,) = rows(WebhookEvent)
    # Two workers race on the same row (a reclaim racing a slow consumer).
    await asyncio.gather(*(asyncio.to_thread(processing.process, [event.id]) for _ in range(3)))
    assert len(rows(Message)) == 5 and rows(Conversation)[0].unread_count == 5


async def test_a_batch_applies_each_event_once_and_reads_settings_once(whatsapp):
    customers = [ANA, "5511912345678", "5511987654321"]
    for n in range(6):
        sender = customers[n % 3]
        await whatsapp.send(p.text(f"msg {n}", sender=sender), contacts=[p.profile(sender, "C")])
    events = [event.id for event in rows(WebhookEvent)]
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(db.get_engine(), "before_cursor_execute", seen)
    try:
        effects = processing.process(events)
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", seen)
    assert {e.state for e in rows(WebhookEvent)} == {"done"}
    assert len(rows(Contact)) == 3 and len(effects.conversations) == 3
    assert sorted(c.unread_count for c in rows(Conversation)) == [2, 2, 2]
    assert sorted(m.content["body"] for m in rows(Message)) == [f"msg {n}" for n in range(6)]
    # The organization's flows, queue and the members' devices: read once for the batch.
    for table in ("flow", "membership", "push_device", "organization"):
        reads = [s for s in statements if s.startswith("SELECT") and f" FROM {table} " in s + " "]
        assert len(reads) <= 1, (table, reads)
    assert processing.process(events) is None  # nothing left to do: applied once


async def test_a_batch_applies_customers_in_one_order_and_each_ones_messages_in_theirs(whatsapp):
    """Concurrent batches then lock the same rows in the same order (no deadlocks)."""
    bruno, ana = "5511988887777", "5511911112222"
    for sender, text in ((bruno, "B1"), (ana, "A1"), (bruno, "B2"), (ana, "A2")):
        await whatsapp.send(p.text(text, sender=sender), contacts=[p.profile(sender, text)])
    processing.process([event.id for event in rows(WebhookEvent)])
    assert [m.content["body"] for m in rows(Message)] == ["A1", "A2", "B1", "B2"]


async def test_a_batch_asks_once_what_every_message_asks_and_keeps_the_answers_current(whatsapp):
    """Stored already? Updates parked for it? One query each for the whole batch; a
    redelivery inside the batch and a reaction before its message still come out right."""
    await whatsapp.send(p.text("stored before", sender=ANA, wamid="wamid.old"))
    await whatsapp.drain()
    sent = [
        p.text("stored before", sender=ANA, wamid="wamid.old", timestamp="1800000000"),
        p.text("once", sender=ANA, wamid="wamid.x"),
        p.text("once", sender=ANA, wamid="wamid.x", timestamp="1800000001"),  # Meta again
        p.reaction("wamid.y", "🎉", sender=ANA),  # before its message
        p.text("reacted to", sender=ANA, wamid="wamid.y"),
        *(p.text(f"more {n}", sender=ANA, wamid=f"wamid.more.{n}") for n in range(4)),
    ]
    for message in sent:
        await whatsapp.send(message)
    events = [e.id for e in rows(WebhookEvent) if e.state == "pending"]
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(db.get_engine(), "before_cursor_execute", seen)
    try:
        processing.process(events)
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", seen)
    bodies = [m.content.get("body") for m in rows(Message) if m.type == "text"]
    assert bodies == ["stored before", "once", "reacted to", *(f"more {n}" for n in range(4))]
    (reacted,) = rows(Message, Message.external_id == "wamid.y")
    assert reacted.reactions["contact"]["emoji"] == "🎉"
    (conversation,) = rows(Conversation)
    assert conversation.unread_count == 7  # each message counted once, the reaction not
    parked_reads = [s for s in statements if s.startswith("SELECT") and "FROM parked_update" in s]
    known_reads = [s for s in statements if s.startswith("SELECT message.id FROM message")]
    # The batch's read, the reaction's check before parking, and the message it waited for.
    assert len(parked_reads) == 3, parked_reads
    assert known_reads == []


async def test_a_customers_webhooks_apply_in_arrival_order_whichever_worker_has_them(whatsapp):
    """A worker given a customer's later webhooks waits for a worker applying that customer
    (PostgreSQL), then applies the earlier ones nobody has applied first."""
    bruno = "5511988887777"
    for sender, text in ((ANA, "A1"), (bruno, "B1"), (ANA, "A2"), (ANA, "A3"), (ANA, "A4")):
        await whatsapp.send(p.text(text, sender=sender), contacts=[p.profile(sender, text)])
    a1, b1, a2, a3, a4 = (event.id for event in rows(WebhookEvent))
    assert rows(WebhookEvent)[0].customer == webhooks.customer_key(f"{PNID}:{ANA}")
    assert ANA not in {event.customer for event in rows(WebhookEvent)}  # a digest only

    with db.get_engine().connect() as holder:
        processing._one_worker_per_customer(Session(holder), [a1])  # a worker applying Ana
        later = asyncio.create_task(asyncio.to_thread(processing.process, [a3, a4]))
        await asyncio.sleep(0.5)
        processing.process([b1])  # nobody waits for another customer's worker
        if db.get_engine().dialect.name != "sqlite":  # SQLite: one writer at a time anyway
            assert not later.done()  # waiting for Ana's worker
            assert [m.content["body"] for m in rows(Message)] == ["B1"]
        holder.rollback()  # it let go without applying A1
    await later
    ana_s = [m.content["body"] for m in rows(Message) if m.content["body"] != "B1"]
    assert ana_s == ["A1", "A2", "A3", "A4"]
    assert processing.process([a1, a2]) is None  # applied once, by the later batch
    assert {event.state for event in rows(WebhookEvent)} == {"done"}


async def test_interleaved_batches_of_one_customer_keep_its_order_and_never_deadlock(whatsapp):
    for round_ in range(3):
        for n in range(4):
            await whatsapp.send(p.text(f"{round_}.{n}", sender=ANA))
        first, second, third, fourth = [e.id for e in rows(WebhookEvent)][-4:]
        async with asyncio.timeout(20):
            await asyncio.gather(
                asyncio.to_thread(processing.process, [first, third]),
                asyncio.to_thread(processing.process, [second, fourth]),
            )
        assert [m.content["body"] for m in rows(Message)][-4:] == [
            f"{round_}.{n}" for n in range(4)
        ]
    assert {event.state for event in rows(WebhookEvent)} == {"done"}


async def test_a_failing_item_retries_its_own_event_not_the_batch(whatsapp):
    """A database refusal (here a trigger) inside one item of a batch: the batch, run
    without savepoints, fails as a whole; the runner then applies its events one at a time,
    each item in its own savepoint."""
    if db.get_engine().dialect.name == "sqlite":
        refuse = [
            "CREATE TRIGGER refuse BEFORE INSERT ON message WHEN NEW.external_id = 'wamid.bad' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = ["DROP TRIGGER refuse"]
    else:
        refuse = [
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.external_id = "
            "'wamid.bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON message FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
        drop = ["DROP TRIGGER refuse ON message", "DROP FUNCTION refuse()"]
    with db.get_engine().begin() as conn:
        for statement in refuse:
            conn.execute(sa.text(statement))
    try:
        for wamid in ("wamid.a", "wamid.bad", "wamid.c"):
            await whatsapp.send(p.text(wamid, sender=ANA, wamid=wamid))
        events = [event.id for event in rows(WebhookEvent)]
        with pytest.raises(sa.exc.DBAPIError, match="refused"):
            processing.process(events)
        assert rows(Message) == []  # nothing of the batch kept
        await runner.handle_many(runner.JOBS["webhook"], events)
    finally:
        with db.get_engine().begin() as conn:
            for statement in drop:
                conn.execute(sa.text(statement))
    good, bad, other = rows(WebhookEvent)
    assert (good.state, other.state) == ("done", "done")
    assert (bad.state, bad.attempts) == ("pending", 1) and "refused" in bad.error
    assert bad.next_attempt_at > utcnow()
    assert [m.external_id for m in rows(Message)] == ["wamid.a", "wamid.c"]
    with db.session() as s:  # its retry comes: applied after the others, once
        s.get(WebhookEvent, bad.id).next_attempt_at = utcnow()
    await whatsapp.drain()
    assert [m.external_id for m in rows(Message)] == ["wamid.a", "wamid.c", "wamid.bad"]
    assert rows(Conversation)[0].unread_count == 3


async def test_a_new_customer_racing_on_two_workers_is_one_contact_and_conversation(whatsapp):
    for n in range(4):  # four separate POSTs from a customer nobody has seen yet
        await whatsapp.send(
            p.text(f"part {n}", sender="5511912345678"),
            contacts=[p.profile("5511912345678", "Caio")],
        )
    events = [event.id for event in rows(WebhookEvent)]
    await asyncio.gather(*(asyncio.to_thread(processing.process, [e]) for e in events))
    assert len(rows(Contact)) == 1
    (conversation,) = rows(Conversation)
    assert conversation.unread_count == 4 and len(rows(Message)) == 4
    assert {e.state for e in rows(WebhookEvent)} == {"done"}


async def test_statuses_are_monotonic_whatever_their_order(whatsapp):
    await _outbound(whatsapp, "wamid.out")
    for status in ("read", "delivered", "sent", "delivered"):
        await whatsapp.statuses(p.status("wamid.out", status, ANA))
    await whatsapp.drain()
    (message,) = rows(Message, Message.external_id == "wamid.out")
    assert message.status == "read"
    assert message.read_at and message.delivered_at and message.sent_at


async def test_failed_is_terminal_and_131047_closes_the_window(whatsapp):
    await whatsapp.send(p.text("hi", sender=ANA))
    await whatsapp.drain()
    await _outbound(whatsapp, "wamid.f")
    failed = p.status("wamid.f", "failed", ANA, errors=[p.error(131047)])
    await whatsapp.statuses(failed)
    await whatsapp.statuses(p.status("wamid.f", "delivered", ANA))
    await whatsapp.drain()
    (message,) = rows(Message, Message.external_id == "wamid.f")
    assert message.status == "failed"
    assert message.error["errors"][0]["code"] == 131047
    conversation = rows(Conversation)[0]
    assert conversation.window_expires_at <= dt.datetime.now(dt.UTC)


async def test_status_before_its_message_is_parked_then_applied(whatsapp):
    await whatsapp.statuses(p.status("wamid.later", "delivered", ANA))
    await whatsapp.drain()
    assert rows(WebhookEvent)[0].state == "done"
    await _outbound(whatsapp, "wamid.later")
    (message,) = rows(Message, Message.external_id == "wamid.later")
    assert message.status == "delivered"


async def test_an_update_parked_while_its_message_was_being_stored_is_applied(whatsapp):
    await whatsapp.statuses(p.status("wamid.race", "read", ANA))
    await whatsapp.drain()
    # The message's id was recorded by a transaction that could not see the parked status.
    await _outbound(whatsapp, "wamid.race", recorded_by_outbox=False)
    with db.session() as s:
        effects = Effects()
        assert inbound_statuses.apply_waiting(s, effects) == 1
    assert rows(Message, Message.external_id == "wamid.race")[0].status == "read"
    assert rows(ParkedUpdate) == []


async def test_a_nul_in_what_a_customer_sends_is_stored_visibly_not_lost(whatsapp):
    """PostgreSQL refuses U+0000 in text and jsonb: the message used to fail every retry.
    Each NUL is kept as U+FFFD, in texts, names and titles alike; the raw body is kept."""
    await whatsapp.send(
        p.text("a\u0000b", sender=ANA),
        p.button_reply("yes\u0000", "Si\u0000m", sender=ANA),
        contacts=[p.profile(ANA, "Ana\u0000 Silva")],
    )
    await whatsapp.drain()
    assert {(e.state, e.error) for e in rows(WebhookEvent)} == {("done", None)}
    assert b"\\u0000" in rows(WebhookEvent)[0].body  # as Meta sent it
    text, button = rows(Message)
    assert text.content["body"] == "a\ufffdb"
    stored = json.dumps(button.content, ensure_ascii=False)
    assert "\x00" not in stored and "Si\ufffdm" in stored
    assert rows(Contact)[0].name == "Ana\ufffd Silva"


async def test_reactions_apply_to_their_message_in_any_order(whatsapp):
    await whatsapp.send(p.text("target", sender=ANA, wamid="wamid.t"))
    await whatsapp.send(p.reaction("wamid.t", "👍", sender=ANA, timestamp="2000000000"))
    await whatsapp.drain()
    assert rows(Message, Message.external_id == "wamid.t")[0].reactions["contact"]["emoji"] == "👍"
    # An older reaction arriving late does not replace the newer one; a newer removal does.
    await whatsapp.send(p.reaction("wamid.t", "❤️", sender=ANA, timestamp="1900000000"))
    await whatsapp.drain()
    assert rows(Message, Message.external_id == "wamid.t")[0].reactions["contact"]["emoji"] == "👍"
    await whatsapp.send(p.reaction("wamid.t", None, sender=ANA, timestamp="2000000100"))
    await whatsapp.drain()
    assert rows(Message, Message.external_id == "wamid.t")[0].reactions["contact"]["emoji"] is None
    # …and the older reaction replayed after the removal does not come back.
    await whatsapp.send(p.reaction("wamid.t", "😡", sender=ANA, timestamp="2000000050"))
    await whatsapp.drain()
    assert rows(Message, Message.external_id == "wamid.t")[0].reactions["contact"]["emoji"] is None
    # Reaction to a message not stored yet waits for it.
    await whatsapp.send(p.reaction("wamid.future", "🎉", sender=ANA))
    await whatsapp.drain()
    await whatsapp.send(p.text("arrives late", sender=ANA, wamid="wamid.future"))
    await whatsapp.drain()
    (late,) = rows(Message, Message.external_id == "wamid.future")
    assert late.reactions["contact"]["emoji"] == "🎉"


async def test_bsuid_only_contact_then_number_revealed(whatsapp):
    contacts = [p.profile(None, "Ana S.", user_id="GB.20394857261738495061", username="@ana.s")]
    await whatsapp.send(
        p.text("hello", sender=None, sender_user_id="GB.20394857261738495061"), contacts=contacts
    )
    await whatsapp.drain()
    (contact,) = rows(Contact)
    assert contact.wa_id is None and contact.bsuid == "GB.20394857261738495061"
    assert contact.username == "@ana.s"
    revealed = [p.profile(ANA, "Ana S.", user_id="GB.20394857261738495061")]
    await whatsapp.send(
        p.text("my number", sender=ANA, sender_user_id="GB.20394857261738495061"), contacts=revealed
    )
    await whatsapp.drain()
    (contact,) = rows(Contact)
    assert contact.wa_id == ANA
    assert len(rows(Conversation)) == 1


async def test_brazilian_ninth_digit_is_one_customer(whatsapp):
    await whatsapp.send(
        p.text("a", sender="5511987654321"), contacts=[p.profile("5511987654321", "Bia")]
    )
    await whatsapp.send(
        p.text("b", sender="551187654321"), contacts=[p.profile("551187654321", "Bia")]
    )
    await whatsapp.drain()
    assert len(rows(Contact)) == 1 and len(rows(Conversation)) == 1


@pytest.mark.parametrize("before_v12", [False, True])
async def test_system_number_change_moves_the_contact(whatsapp, before_v12):
    await whatsapp.send(p.text("hi", sender=ANA))
    change = p.system("changed", "447700900999", sender=ANA, before_v12=before_v12)
    await whatsapp.send(change, contacts=[])
    await whatsapp.drain()
    (contact,) = rows(Contact)
    assert contact.wa_id == "447700900999" and contact.attributes["previous_wa_id"] == ANA
    assert [m.type for m in rows(Message)] == ["text", "system"]


async def test_resolved_conversation_reopens_within_the_window_else_a_new_one(whatsapp):
    await whatsapp.send(p.text("first", sender=ANA))
    await whatsapp.drain()
    _resolve(dt.timedelta(hours=1))
    await whatsapp.send(p.text("again", sender=ANA))
    await whatsapp.drain()
    assert [c.status for c in rows(Conversation)] == ["open"]
    _resolve(dt.timedelta(days=3))
    await whatsapp.send(p.text("much later", sender=ANA))
    await whatsapp.drain()
    assert [c.status for c in rows(Conversation)] == ["resolved", "open"]
    # The organization chooses the window: with 0, a resolved conversation stays resolved.
    assert cli.main(["org", "set", "--org", "Acme", "--reopen-hours", "0"]) == 0
    assert cli.main(["org", "set", "--org", "Acme", "--reopen-hours", "9999"]) == 1
    _resolve(dt.timedelta(minutes=1))
    await whatsapp.send(p.text("just after", sender=ANA))
    await whatsapp.drain()
    assert [c.status for c in rows(Conversation)] == ["resolved", "resolved", "open"]


async def test_template_status_updates_apply_in_meta_time_order(whatsapp):
    _template(whatsapp.organization_id, "ticket_update")

    async def update(event: str, time: int, **extra) -> None:
        value = p.template_status_value(event, 1, "ticket_update", "en-US", **extra)
        change = p.change(value, "message_template_status_update")
        await whatsapp.post(p.envelope(p.entry(WABA, change, time=time)))
        await whatsapp.drain()

    with db.session(write=True) as s:  # fetched from Meta a moment ago
        channel = s.get(Channel, whatsapp.channel_id)
        channel.config = {**(channel.config or {}), templates.SYNCED_AT: utcnow().isoformat()}

    def synced() -> bool:
        return templates.SYNCED_AT in (rows(Channel)[0].config or {})

    await update("REJECTED", 1767227000, reason="SCAM")
    (template,) = rows(MessageTemplate)
    assert (template.status, template.rejected_reason) == ("REJECTED", "SCAM")
    assert synced()
    await update("PAUSED", 1767226000)  # delayed, older than what we know
    assert rows(MessageTemplate)[0].status == "REJECTED"
    await update("APPROVED", 1767228000)
    assert (rows(MessageTemplate)[0].status, rows(MessageTemplate)[0].rejected_reason) == (
        "APPROVED",
        None,
    )
    assert not synced()  # due: the next sync brings what Meta approved


async def test_value_errors_and_unknown_fields_are_acknowledged_and_recorded(whatsapp):
    errors = p.change(p.errors_value(PNID, DISPLAY, [p.error(131000)]))
    unknown = p.change({"whatever": True}, "account_update")
    assert (await whatsapp.post(p.envelope(p.entry(WABA, errors, unknown)))).status_code == 200
    await whatsapp.drain()
    assert rows(WebhookEvent)[0].state == "done"
    assert rows(Channel)[0].last_error.startswith("131000")


async def test_signatures_missing_wrong_or_over_reserialized_json_write_nothing(whatsapp):
    body = p.encode(
        p.envelope(
            p.entry(
                WABA,
                p.change(
                    p.messages_value(PNID, DISPLAY, [p.text("ação \\/ 😀", sender=ANA)], None)
                ),
            )
        )
    )
    missing = await whatsapp.http.post("/webhooks/whatsapp", content=body)
    assert missing.status_code == 401
    wrong = await whatsapp.post(body, secret="not-the-secret")
    assert wrong.status_code == 403
    reserialized = json.dumps(json.loads(body), ensure_ascii=False).encode()
    forged = await whatsapp.post(reserialized, signature=p.sign(body, "app-secret-1"))
    assert forged.status_code == 403
    assert rows(WebhookEvent) == []


async def test_oversized_body_is_refused_before_reading_it(whatsapp, settings_env):
    settings_env(webhook_max_bytes=str(64 * 1024))
    big = p.text("x" * (70 * 1024), sender=ANA)
    response = await whatsapp.send(big)
    assert response.status_code == 413
    assert rows(WebhookEvent) == []


async def test_malformed_json_with_a_valid_signature_is_quarantined(whatsapp):
    response = await whatsapp.post(b'{"object":"whatsapp_business_account","entry":[{')
    assert response.status_code == 200
    (event,) = rows(WebhookEvent)
    assert event.state == "quarantined" and "JSON" in event.error
    # An authentic body naming a number we do not have is kept too, for an admin to replay.
    other = p.envelope(
        p.entry(
            WABA, p.change(p.messages_value("999999999", DISPLAY, [p.text("hi", sender=ANA)], None))
        )
    )
    assert (await whatsapp.post(other)).status_code == 200
    assert rows(WebhookEvent)[1].state == "quarantined"
    await whatsapp.drain()
    assert rows(Message) == []


async def test_database_down_answers_503_then_recovers(whatsapp, settings_env, environment):
    message = p.text("kept", sender=ANA, wamid="wamid.kept")
    settings_env(database_url="postgresql://nobody@127.0.0.1:1/none")
    assert (await whatsapp.send(message)).status_code == 503  # Meta will retry
    settings_env(database_url=environment)
    assert (await whatsapp.send(message)).status_code == 200
    await whatsapp.drain()
    assert [m.external_id for m in rows(Message)] == ["wamid.kept"]


async def test_a_database_that_cannot_store_answers_503_in_bounded_time(
    whatsapp, settings_env, environment
):
    """A lock held elsewhere (a stuck transaction, a migration) must not hang Meta's POST:
    past ``PYTAKE_WEBHOOK_STORE_SECONDS`` it gets 503 and retries."""
    settings_env(webhook_store_seconds="1")
    message = p.text("waited", sender=ANA, wamid="wamid.waited")
    engine = sa.create_engine(environment)
    with engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            holder.exec_driver_sql("LOCK TABLE webhook_event IN EXCLUSIVE MODE")
        else:
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # the one writer SQLite lets in
        started = time.monotonic()
        assert (await whatsapp.send(message)).status_code == 503
        assert time.monotonic() - started < 4
        holder.rollback()
    engine.dispose()
    assert (await whatsapp.send(message)).status_code == 200  # Meta's retry is stored
    await whatsapp.drain()
    assert [m.external_id for m in rows(Message)] == ["wamid.waited"]


async def test_agents_are_signalled_after_the_commit(whatsapp):
    received = []

    async def listen():
        async for change in signals.subscribe():
            received.append(change)
            return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.05)  # subscribed before anything is published
    await whatsapp.send(p.text("ping", sender=ANA))
    await whatsapp.drain()
    await asyncio.wait_for(listener, 5)
    (conversation,) = rows(Conversation)
    assert received == [signals.ConversationChanged(whatsapp.organization_id, conversation.id)]


async def _outbound(whatsapp, wamid: str, *, recorded_by_outbox: bool = True) -> None:
    """An agent's message as the outbox will store it (the outbound issue sends it)."""
    if not rows(Conversation):
        await whatsapp.send(p.text("hi", sender=ANA))
        await whatsapp.drain()
    (conversation,) = rows(Conversation)
    with db.session() as s:
        s.add(
            Message(
                organization_id=whatsapp.organization_id,
                conversation_id=conversation.id,
                channel_id=whatsapp.channel_id,
                direction="out",
                type="text",
                content={"body": "hello"},
                external_id=wamid,
                status="queued",
            )
        )
        s.flush()
        if recorded_by_outbox:  # the outbox applies what waited for the id it records
            inbound_statuses.apply_parked(s, whatsapp.channel_id, wamid, Effects())


def _template(organization_id: int, name: str) -> None:
    with db.session() as s:
        s.add(
            MessageTemplate(
                organization_id=organization_id,
                account_id=WABA,
                name=name,
                language="en_US",
                category="UTILITY",
                status="APPROVED",
            )
        )


def _resolve(ago: dt.timedelta) -> None:
    with db.session() as s:
        s.execute(
            sa.update(Conversation).values(
                status="resolved", resolved_at=dt.datetime.now(dt.UTC) - ago
            )
        )


def _second_tenant(number: str, waba: str, secret: str) -> int:
    """Another organization with its own number and app."""
    with db.session() as s:
        other = Organization(name="Rival", slug="rival")
        s.add(other)
        s.flush()
        channels.add_whatsapp(
            s,
            organization_id=other.id,
            phone_number_id=number,
            waba_id=waba,
            display_number="+1 555 0199",
            access_token="tok",
            app_secret=secret,
            verify_token="rival-verify",
        )
        return other.id


async def test_a_tenant_cannot_sign_events_for_another_tenants_account(whatsapp):
    _second_tenant("130000000000001", "990000000000001", "rival-secret")
    _template(whatsapp.organization_id, "promo")
    # The rival names its own number in metadata but Acme's account in the entry.
    value = p.template_status_value("DISABLED", 7, "promo", "en_US")
    value["metadata"] = {"display_phone_number": "15550199", "phone_number_id": "130000000000001"}
    forged = p.envelope(p.entry(WABA, p.change(value, "message_template_status_update")))
    assert (await whatsapp.post(forged, secret="rival-secret")).status_code == 403
    await whatsapp.drain()
    assert rows(MessageTemplate)[0].status == "APPROVED"


async def test_a_quarantined_body_is_checked_again_when_replayed(whatsapp):
    _second_tenant("130000000000001", "990000000000001", "rival-secret")
    target = "140000000000004"  # a number nobody has connected yet
    value = p.messages_value(target, DISPLAY, [p.text("forged", sender=ANA)], None)
    body = p.envelope(p.entry(WABA, p.change(value)))
    assert (await whatsapp.post(body, secret="rival-secret")).status_code == 200
    assert rows(WebhookEvent)[0].state == "quarantined"
    with db.session() as s:  # Acme connects that number with its own app
        channels.add_whatsapp(
            s,
            organization_id=whatsapp.organization_id,
            phone_number_id=target,
            waba_id=WABA,
            display_number="+1 555 0100",
            access_token="t",
            app_secret="app-secret-1",
            verify_token="verify-token-2",
        )
    assert webhooks.retry() == [rows(WebhookEvent)[0].id]
    await whatsapp.drain()
    assert rows(Message) == []
    (event,) = rows(WebhookEvent)
    assert event.state == "quarantined" and "not signed by the app" in event.error


async def test_hostile_headers_and_bodies_get_clear_answers(whatsapp):
    body = p.encode(
        p.envelope(
            p.entry(
                WABA, p.change(p.messages_value(PNID, DISPLAY, [p.text("x", sender=ANA)], None))
            )
        )
    )
    for signature in (b"sha256=\xc3\xa9" + b"0" * 62, b"sha256=zz", b"sha1=" + b"0" * 40):
        response = await whatsapp.http.post(
            "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": signature}
        )
        assert response.status_code == 403
    nested = b"[" * 100_000 + b"]" * 100_000
    assert (await whatsapp.post(nested)).status_code == 200  # authentic, kept, not crashing
    (event,) = rows(WebhookEvent)
    assert event.state == "quarantined" and "not JSON" in event.error
