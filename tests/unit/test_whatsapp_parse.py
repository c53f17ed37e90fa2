"""Meta's webhook bodies into normalized events: every type of the reference, defensively."""

import datetime as dt
import hashlib
import json

import pytest

from pytake.channels.base import (
    ChannelError,
    DeliveryStatus,
    Ignored,
    InboundMessage,
    MessageType,
    PayloadError,
    Reaction,
    StatusUpdate,
    TemplateStatusUpdate,
)
from pytake.channels.whatsapp import numbers, webhook
from pytake.sandbox import payloads as p
from pytake.services import webhooks

PNID, DISPLAY, WABA = "110022334455667", "15550001111", "880011223344556"
ANA = "447700900123"


def body(*messages, contacts=None, field="messages") -> bytes:
    contacts = contacts if contacts is not None else [p.profile(ANA, "Ana Silva", "GB.2039")]
    value = p.messages_value(PNID, DISPLAY, list(messages), contacts)
    return p.encode(p.envelope(p.entry(WABA, p.change(value, field))))


def one(*messages, **kwargs):
    events = webhook.parse(body(*messages, **kwargs))
    assert len(events) == 1
    return events[0]


def test_text_with_sender_profile_bsuid_and_time():
    event = one(
        p.text(
            "Olá, ação/teste 😀",
            sender=ANA,
            sender_user_id="GB.2039",
            timestamp="1767225600",
            wamid="wamid.A",
        )
    )
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.external_id, event.type) == (PNID, "wamid.A", MessageType.TEXT)
    assert event.content == {"body": "Olá, ação/teste 😀"}
    assert event.sender.external_id == ANA and event.sender.scoped_id == "GB.2039"
    assert event.sender.name == "Ana Silva"
    assert event.sent_at == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_ad_referral_reply_and_forwarded_flags():
    referral = {"source_url": "https://fb.me/x", "source_type": "ad", "ctwa_clid": "abc"}
    event = one(
        p.text(
            "from an ad", referral=referral, sender=ANA, context=p.reply_context("wamid.Q", DISPLAY)
        )
    )
    assert event.content["referral"]["ctwa_clid"] == "abc"
    assert event.reply_to == "wamid.Q"
    forwarded = one(p.text("fw", sender=ANA, context=p.forwarded_context(frequently=True)))
    assert forwarded.content["forwarded"] and forwarded.content["frequently_forwarded"]
    assert forwarded.reply_to is None


@pytest.mark.parametrize(
    ("builder", "kind", "extra"),
    [
        (
            lambda: p.image("m1", caption="Damaged box", sender=ANA),
            MessageType.IMAGE,
            {"caption": "Damaged box"},
        ),
        (lambda: p.audio("m2", voice=True, sender=ANA), MessageType.AUDIO, {"voice": True}),
        (
            lambda: p.video("m3", caption="Unboxing", sender=ANA),
            MessageType.VIDEO,
            {"caption": "Unboxing"},
        ),
        (
            lambda: p.document("m4", "invoice.pdf", caption="inv", sender=ANA),
            MessageType.DOCUMENT,
            {"filename": "invoice.pdf", "caption": "inv"},
        ),
        (
            lambda: p.sticker("m5", animated=True, sender=ANA),
            MessageType.STICKER,
            {"animated": True},
        ),
    ],
)
def test_media_types_name_their_media_never_a_url(builder, kind, extra):
    event = one(builder())
    assert event.type is kind
    assert event.media is not None and event.media.media_id.startswith("m")
    assert event.media.mime_type
    assert extra.items() <= event.content.items()
    assert "url" not in json.dumps(event.content)  # the payload's URL is never kept or used


def test_location_contacts_and_order():
    place = one(p.location(51.5, -0.11, name="Pickup", address="Westminster", sender=ANA))
    assert place.content == {
        "latitude": 51.5,
        "longitude": -0.11,
        "name": "Pickup",
        "address": "Westminster",
    }
    card = {"name": {"formatted_name": "Jo Brown"}, "phones": [{"phone": "+44 7700 900456"}]}
    shared = one(p.contacts([card], sender=ANA))
    assert shared.type is MessageType.CONTACTS and shared.content["cards"] == [card]
    item = {"product_retailer_id": "SKU", "quantity": 2, "item_price": 19.99, "currency": "GBP"}
    cart = one(p.order("77", [item], "Gift wrap", sender=ANA))
    assert cart.content == {"catalog_id": "77", "text": "Gift wrap", "items": [item]}


def test_interactive_replies_and_template_button():
    button = one(p.button_reply("ticket-close", "Close ticket", sender=ANA))
    assert (button.type, button.content) == (
        MessageType.BUTTON_REPLY,
        {"id": "ticket-close", "title": "Close ticket"},
    )
    row = one(p.list_reply("topic_billing", "Billing", "Invoices", sender=ANA))
    assert row.type is MessageType.LIST_REPLY and row.content["description"] == "Invoices"
    flow = one(p.nfm_reply({"flow_token": "csat", "rating": "5"}, sender=ANA))
    assert flow.type is MessageType.FLOW_REPLY and flow.content["response"]["rating"] == "5"
    template = one(p.template_button("reopen:4411", "Reopen ticket", sender=ANA))
    assert template.type is MessageType.TEMPLATE_BUTTON
    assert template.content == {"payload": "reopen:4411", "text": "Reopen ticket"}


def test_reaction_added_and_removed():
    added = one(p.reaction("wamid.T", "👍", sender=ANA))
    removed = one(p.reaction("wamid.T", None, sender=ANA))
    assert isinstance(added, Reaction) and added.emoji == "👍" and added.target_id == "wamid.T"
    assert removed.emoji is None
    assert one(p.reaction("wamid.T", "", sender=ANA)).emoji is None


@pytest.mark.parametrize("before_v12", [False, True])
def test_system_number_change_has_no_contacts(before_v12):
    change = p.system("changed", "447700900999", sender=ANA, before_v12=before_v12)
    event = one(change, contacts=[])
    assert event.type is MessageType.SYSTEM and event.content["kind"] == "user_changed_number"
    assert event.new_identity.external_id == "447700900999"
    assert event.sender.external_id == ANA and event.sender.name is None


def test_unsupported_unknown_and_bodiless_types_are_kept():
    unsupported = one(p.unsupported("poll_creation", sender=ANA))
    assert unsupported.type is MessageType.UNSUPPORTED
    assert unsupported.content["kind"] == "poll_creation"
    assert unsupported.errors[0].code == 131051
    unknown = one(p.unknown("hologram", {"beam": 1}, sender=ANA))
    assert unknown.type is MessageType.UNSUPPORTED and unknown.content["kind"] == "hologram"
    assert unknown.content["raw"]["hologram"] == {"beam": 1}
    # pywa's real-world case: interactive type with no interactive body, errors beside it.
    bare = one({"from": ANA, "id": "wamid.B", "timestamp": "1", "type": "interactive"})
    assert bare.type is MessageType.UNSUPPORTED


def test_username_user_without_phone_number():
    contacts = [p.profile(None, "Ana S.", user_id="GB.2039", username="@ana.s")]
    event = one(p.text("hello", sender=None, sender_user_id="GB.2039"), contacts=contacts)
    assert event.sender.external_id is None and event.sender.scoped_id == "GB.2039"
    assert event.sender.username == "@ana.s" and event.sender.name == "Ana S."


def test_statuses_with_errors_and_unknown_status():
    failed = p.status("wamid.F", "failed", ANA, errors=[p.error(131047)])
    value = p.statuses_value(
        PNID,
        DISPLAY,
        [p.status("wamid.S", "read", ANA), failed, p.status("wamid.X", "teleported", ANA)],
    )
    events = webhook.parse(p.encode(p.envelope(p.entry(WABA, p.change(value)))))
    read, fail, odd = events
    assert isinstance(read, StatusUpdate) and read.status is DeliveryStatus.READ
    assert fail.status is DeliveryStatus.FAILED and fail.errors[0].code == 131047
    assert isinstance(odd, Ignored)


def test_value_errors_template_status_and_unknown_fields():
    errors = p.errors_value(PNID, DISPLAY, [p.error(131000)])
    template = p.template_status_value("PAUSED", 1690000000000123, "ticket_update", "en-US")
    payload = p.envelope(
        p.entry(
            WABA,
            p.change(errors),
            p.change(template, "message_template_status_update"),
            p.change({"anything": 1}, "account_update"),
            time=1767227000,
        )
    )
    channel_error, status, ignored = webhook.parse(p.encode(payload))
    assert isinstance(channel_error, ChannelError) and channel_error.errors[0].code == 131000
    assert isinstance(status, TemplateStatusUpdate)
    assert status.at == dt.datetime.fromtimestamp(1767227000, dt.UTC)
    assert (status.account, status.name, status.language, status.status) == (
        WABA,
        "ticket_update",
        "en_US",
        "PAUSED",
    )
    assert isinstance(ignored, Ignored) and ignored.kind == "account_update"


def test_batch_of_entries_changes_messages_and_statuses_is_read_whole():
    def change(n):
        messages = [p.text(f"m{n}-{i}", sender=ANA) for i in range(3)]
        return p.change(p.messages_value(PNID, DISPLAY, messages, [p.profile(ANA, "Ana")]))

    statuses = p.change(p.statuses_value(PNID, DISPLAY, [p.status("wamid.S", "sent", ANA)]))
    payload = p.envelope(p.entry(WABA, change(1), change(2)), p.entry(WABA, change(3), statuses))
    events = webhook.parse(p.encode(payload))
    assert len(events) == 10
    assert sum(isinstance(e, InboundMessage) for e in events) == 9


def test_a_malformed_item_does_not_hide_the_rest():
    good = p.text("fine", sender=ANA)
    events = webhook.parse(body({"type": "text", "text": {"body": "no id"}, "from": ANA}, good))
    assert isinstance(events[0], Ignored) and "malformed" in events[0].problem
    assert isinstance(events[1], InboundMessage)


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"object":"page","entry":[]}', b"\xff"])
def test_unparsable_bodies_raise_payload_error(raw):
    with pytest.raises(PayloadError):
        webhook.parse(raw)


def test_routing_names_numbers_and_template_accounts():
    template = p.template_status_value("APPROVED", 1, "t", "en_US")
    payload = p.envelope(
        p.entry(WABA, p.change(template, "message_template_status_update")),
        p.entry(WABA, p.change(p.messages_value(PNID, DISPLAY, [], None))),
    )
    routing = webhook.routing(json.loads(p.encode(payload)))
    assert routing.numbers == {PNID} and routing.accounts == {WABA}
    assert routing.customer is None  # neither a message nor a status


def test_a_customer_is_kept_as_a_pseudonym_only_the_secret_key_links(settings_env):
    settings_env(secret_key="k" * 40)
    key = webhooks.customer_key(f"{PNID}:{ANA}")
    assert key == webhooks.customer_key(f"{PNID}:{ANA}") != webhooks.customer_key(f"{PNID}:1")
    assert key != hashlib.sha256(f"{PNID}:{ANA}".encode()).hexdigest()[:32]
    settings_env(secret_key="z" * 40)
    assert webhooks.customer_key(f"{PNID}:{ANA}") != key
    assert webhooks.customer_key(None) is None


def test_routing_names_the_first_customer_a_message_or_status_concerns():
    def customer(value: dict) -> str | None:
        return webhook.routing(
            json.loads(p.encode(p.envelope(p.entry(WABA, p.change(value)))))
        ).customer

    texts = [p.text("oi", sender="55 (11) 99999-0000"), p.text("e aí", sender="5511988887777")]
    assert customer(p.messages_value(PNID, DISPLAY, texts, None)) == f"{PNID}:5511999990000"
    status = p.status("wamid.x", "read", ANA)
    assert customer(p.statuses_value(PNID, DISPLAY, [status])) == f"{PNID}:{ANA}"
    nameless = p.messages_value(PNID, DISPLAY, [{"id": "wamid.y", "type": "text"}], None)
    assert customer(nameless) is None


def test_signature_is_checked_over_the_raw_bytes():
    raw = body(p.text("ação / 😀 @ <b>", sender=ANA))
    assert b"\\/" in raw and b"\\u00e7" in raw
    headers = {"x-hub-signature-256": p.sign(raw, "s3cret")}
    assert webhook.signature_valid(raw, headers["x-hub-signature-256"], "s3cret")
    assert not webhook.signature_valid(raw, headers["x-hub-signature-256"], "other")
    reserialized = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert not webhook.signature_valid(reserialized, headers["x-hub-signature-256"], "s3cret")
    assert not webhook.signature_valid(raw, None, "s3cret")
    assert not webhook.signature_valid(raw, "sha1=abc", "s3cret")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("5511987654321", ("551187654321",)),
        ("551187654321", ("5511987654321",)),
        ("551133334444", ()),  # a landline has no ninth digit
        ("5215512345678", ("525512345678",)),
        ("525512345678", ("5215512345678",)),
        ("5491123456789", ("541123456789",)),
        ("+44 7700 900123", ()),
    ],
)
def test_number_aliases_for_brazil_mexico_argentina(number, expected):
    assert numbers.aliases(number) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5511987654321", "5511987654321"),
        ("+55 (11) 98765-4321", "5511987654321"),
        ("BR.99887766554433221100", None),  # a user id, not a number
        ("99887766554433221100", None),  # more digits than E.164 allows
        ("12345", None),
        ("", None),
    ],
)
def test_only_phone_numbers_are_taken_as_phone_numbers(value, expected):
    assert numbers.phone(value) == expected


def test_a_send_answer_naming_a_user_id_where_the_number_goes_stores_no_number():
    from pytake.channels.whatsapp.adapter import recipient

    bsuid = "BR.99887766554433221100"
    found = recipient({"contacts": [{"input": bsuid, "wa_id": bsuid}]})
    assert (found.external_id, found.scoped_id) == (None, bsuid)
    found = recipient({"contacts": [{"input": "+5511987654321", "wa_id": "5511987654321"}]})
    assert (found.external_id, found.scoped_id) == ("5511987654321", None)
    both = recipient({"contacts": [{"wa_id": "5511987654321", "user_id": bsuid}]})
    assert (both.external_id, both.scoped_id) == ("5511987654321", bsuid)
    assert recipient({}).external_id is None and recipient({"contacts": ["x"]}).scoped_id is None
