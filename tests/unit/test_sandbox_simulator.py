import asyncio
import base64
import collections
import hashlib
import hmac
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from pytake.sandbox import payloads as p
from pytake.sandbox.graph import GraphSimulator
from pytake.sandbox.graph_rules import APP_ID

PNID = "110022334455667"
WABA = "880011223344556"
DISPLAY = "15550001111"
TOKEN = "token-for-110022"
SECRET = "app-secret-110022"
CUSTOMER = "447700900123"
BSUID = "GB.20394857261738495061"
V = "/v26.0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock) -> GraphSimulator:
    simulator = GraphSimulator(clock=clock)
    simulator.add_number(PNID, WABA, DISPLAY, TOKEN, SECRET)
    simulator.add_number("220033445566778", "990022334455667", "15550002222", "other", "s2")
    return simulator


@pytest.fixture
async def graph(sim):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app),
        base_url=sim.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client


def _text(to: str = "+447700900123", **extra) -> dict:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": {"body": "Hi"},
        **extra,
    }


def _error(response: httpx.Response) -> dict:
    error = response.json()["error"]
    assert error["message"] == f"(#{error['code']}) {p.ERRORS[error['code']][0]}"
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert error["fbtrace_id"]
    return error


# Encoding and signature


def test_encode_escapes_slashes_and_non_ascii_as_meta_does():
    payload = {"body": "café 👍 https://example.com/x"}
    body = p.encode(payload)
    assert body == b'{"body":"caf\\u00e9 \\ud83d\\udc4d https:\\/\\/example.com\\/x"}'
    assert json.loads(body) == payload


def test_signature_covers_the_sent_bytes_not_reserialised_json():
    body = p.encode({"text": "äöå / 👍"})
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert p.sign(body, SECRET) == "sha256=" + expected
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert p.sign(reserialised, SECRET) != p.sign(body, SECRET)


async def test_post_webhook_delivers_signed_raw_bytes(sim):
    received: list[tuple[bytes, str]] = []

    async def hook(request: Request) -> Response:
        raw = await request.body()
        signature = request.headers.get("x-hub-signature-256", "")
        received.append((raw, request.headers["content-type"]))
        return Response(
            status_code=200 if hmac.compare_digest(signature, p.sign(raw, SECRET)) else 403
        )

    receiver = Starlette(routes=[Route("/webhook", hook, methods=["POST"])])
    payload = p.envelope(
        p.entry(
            WABA, p.change(p.messages_value(PNID, DISPLAY, [p.text("olá /x", sender=CUSTOMER)]))
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)) as client:
        ok = await sim.post_webhook("http://pytake/webhook", payload, SECRET, client=client)
        forged = await sim.post_webhook(
            "http://pytake/webhook", payload, SECRET, client=client, signature="sha256=" + "0" * 64
        )
        raw = await sim.post_webhook("http://pytake/webhook", b'{"a":1}', SECRET, client=client)
    assert (ok.status_code, forged.status_code, raw.status_code) == (200, 403, 200)
    assert received[0] == (p.encode(payload), "application/json")
    assert b"ol\\u00e1 \\/x" in received[0][0]
    assert received[2][0] == b'{"a":1}'


# Webhook payload builders


def test_envelope_of_a_text_matches_the_reference_layout():
    message = p.text(
        "Hi, is my order shipped?",
        sender=CUSTOMER,
        sender_user_id=BSUID,
        wamid="wamid.ABC",
        timestamp="1767225600",
    )
    value = p.messages_value(PNID, DISPLAY, [message], [p.profile(CUSTOMER, "Ana Silva", BSUID)])
    assert p.envelope(p.entry(WABA, p.change(value))) == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": DISPLAY, "phone_number_id": PNID},
                            "contacts": [
                                {
                                    "profile": {"name": "Ana Silva"},
                                    "wa_id": CUSTOMER,
                                    "user_id": BSUID,
                                }
                            ],
                            "messages": [
                                {
                                    "from": CUSTOMER,
                                    "from_user_id": BSUID,
                                    "id": "wamid.ABC",
                                    "timestamp": "1767225600",
                                    "type": "text",
                                    "text": {"body": "Hi, is my order shipped?"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def test_generated_ids_and_timestamps_look_like_metas():
    message = p.text("x", sender=CUSTOMER)
    assert message["id"].startswith("wamid.") and len(message["id"]) > 30
    assert message["id"] != p.text("x", sender=CUSTOMER)["id"]
    assert message["timestamp"].isdigit()


def test_username_sender_has_no_phone_keys():
    message = p.text("hello", sender=None, sender_user_id=BSUID)
    assert "from" not in message and message["from_user_id"] == BSUID
    assert p.profile(None, "Ana S.", BSUID, "@ana.s") == {
        "profile": {"name": "Ana S.", "username": "@ana.s"},
        "user_id": BSUID,
    }


def test_contexts_and_referral():
    reply = p.text("Yes", sender=CUSTOMER, context=p.reply_context("wamid.OUT", DISPLAY))
    assert reply["context"] == {"from": DISPLAY, "id": "wamid.OUT"}
    assert p.forwarded_context() == {"forwarded": True}
    assert p.forwarded_context(frequently=True) == {"frequently_forwarded": True}
    ad = p.text("From the ad", sender=CUSTOMER, referral={"source_type": "ad", "ctwa_clid": "c1"})
    assert ad["referral"]["source_type"] == "ad" and ad["text"] == {"body": "From the ad"}


def test_media_builders():
    photo = p.image("912345678901234", caption="Damaged box", url="https://x/y", sender=CUSTOMER)
    assert photo["type"] == "image"
    assert photo["image"]["id"] == "912345678901234" and photo["image"]["caption"] == "Damaged box"
    assert photo["image"]["mime_type"] == "image/jpeg" and photo["image"]["url"] == "https://x/y"
    assert len(base64.b64decode(photo["image"]["sha256"])) == 32
    assert "caption" not in p.image("1", sender=CUSTOMER)["image"]
    voice = p.audio("2", sender=CUSTOMER)["audio"]
    assert voice["voice"] is True and voice["mime_type"] == "audio/ogg; codecs=opus"
    assert p.audio("2", voice=False, sender=CUSTOMER)["audio"]["voice"] is False
    assert p.video("3", sender=CUSTOMER)["video"]["mime_type"] == "video/mp4"
    invoice = p.document("4", "invoice.pdf", caption="my invoice", sender=CUSTOMER)["document"]
    assert invoice["filename"] == "invoice.pdf" and invoice["mime_type"] == "application/pdf"
    sticker = p.sticker("5", sender=CUSTOMER)["sticker"]
    assert sticker["animated"] is False and sticker["mime_type"] == "image/webp"


def test_location_contacts_and_order_builders():
    assert p.location(51.5, -0.12, sender=CUSTOMER)["location"] == {
        "latitude": 51.5,
        "longitude": -0.12,
    }
    place = p.location(51.5, -0.12, name="Pickup", address="Road 1", sender=CUSTOMER)["location"]
    assert place["name"] == "Pickup" and place["address"] == "Road 1" and "url" not in place
    card = {"name": {"formatted_name": "Jo Brown"}, "phones": [{"phone": "+44 7700 900456"}]}
    assert p.contacts([card], sender=CUSTOMER)["contacts"] == [card]
    item = {"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 19.99, "currency": "GBP"}
    cart = p.order("771122334455667", [item], sender=CUSTOMER)
    assert cart["order"] == {"catalog_id": "771122334455667", "text": "", "product_items": [item]}


def test_interactive_and_button_builders():
    button = p.button_reply("ticket-close", "Close ticket", sender=CUSTOMER)
    assert button["type"] == "interactive"
    assert button["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "ticket-close", "title": "Close ticket"},
    }
    row = p.list_reply("topic_billing", "Billing", sender=CUSTOMER)["interactive"]
    assert row["list_reply"] == {"id": "topic_billing", "title": "Billing"}
    flow = p.nfm_reply({"flow_token": "csat-1", "rating": "5"}, sender=CUSTOMER)["interactive"]
    assert flow["type"] == "nfm_reply" and flow["nfm_reply"]["name"] == "flow"
    assert isinstance(flow["nfm_reply"]["response_json"], str)
    assert json.loads(flow["nfm_reply"]["response_json"]) == {"flow_token": "csat-1", "rating": "5"}
    quick = p.template_button("reopen:4411", "Reopen ticket", sender=CUSTOMER)
    assert quick["type"] == "button" and quick["button"] == {
        "payload": "reopen:4411",
        "text": "Reopen ticket",
    }


def test_reaction_removal_has_no_emoji_key():
    added = p.reaction("wamid.OUT", "👍", sender=CUSTOMER)["reaction"]
    removed = p.reaction("wamid.OUT", None, sender=CUSTOMER)["reaction"]
    assert added == {"message_id": "wamid.OUT", "emoji": "👍"}
    assert removed == {"message_id": "wamid.OUT"}


def test_system_message_comes_without_contacts():
    message = p.system(
        "User changed number", "447700900999", sender=CUSTOMER, previous_user_id=BSUID
    )
    value = p.messages_value(PNID, DISPLAY, [message])
    assert "contacts" not in value
    assert message["system"] == {
        "body": "User changed number",
        "wa_id": "447700900999",
        "type": "user_changed_number",
        "previous_user_id": BSUID,
    }


def test_unsupported_and_unknown_types():
    message = p.unsupported(sender=CUSTOMER)
    assert message["type"] == "unsupported" and message["unsupported"] == {"type": "poll_creation"}
    assert message["errors"][0]["code"] == 131051
    assert message["errors"][0]["error_data"]["details"]
    future = p.unknown("hologram", {"frames": 3}, sender=CUSTOMER)
    assert future["type"] == "hologram" and future["hologram"] == {"frames": 3}


def test_statuses_and_errors():
    failed = p.status("wamid.OUT", "failed", CUSTOMER, errors=[p.error(131047)])
    assert failed["status"] == "failed" and "pricing" not in failed
    assert failed["errors"][0]["title"] == "Re-engagement message"
    assert set(failed["errors"][0]) == {"code", "title", "message", "error_data", "href"}
    pricing = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}
    sent = p.status(
        "wamid.OUT",
        "sent",
        None,
        recipient_user_id=BSUID,
        pricing=pricing,
        biz_opaque_callback_data="msg=55",
    )
    assert "recipient_id" not in sent and sent["recipient_user_id"] == BSUID
    assert sent["pricing"] == pricing and sent["biz_opaque_callback_data"] == "msg=55"
    value = p.statuses_value(PNID, DISPLAY, [sent])
    assert value["statuses"] == [sent] and value["metadata"]["phone_number_id"] == PNID
    errors = p.errors_value(PNID, DISPLAY, [p.error(131000, details="Unsupported webhook payload")])
    assert errors["errors"][0]["error_data"] == {"details": "Unsupported webhook payload"}


def test_template_status_update_has_time_and_no_metadata():
    value = p.template_status_value(
        "PAUSED", 1690000000000123, "ticket_update", "en_US", other_info={"title": "FIRST_PAUSE"}
    )
    wrapped = p.entry(WABA, p.change(value, "message_template_status_update"), time=1767227000)
    assert wrapped["time"] == 1767227000
    assert wrapped["changes"][0]["field"] == "message_template_status_update"
    assert "metadata" not in value and "messaging_product" not in value
    assert value["message_template_id"] == 1690000000000123 and value["reason"] == "NONE"
    assert value["other_info"] == {"title": "FIRST_PAUSE"}


# Sending


async def test_send_text_answers_metas_success_shape(sim, graph):
    response = await graph.post(f"{V}/{PNID}/messages", json=_text("+44 7700 900123"))
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+44 7700 900123", "wa_id": CUSTOMER}]
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert sim.sent[-1]["wamid"] == wamid and sim.sent[-1]["text"] == {"body": "Hi"}
    assert sim.sent[-1]["phone_number_id"] == PNID
    assert sim.calls["messages"] == 1


@pytest.mark.parametrize(
    ("to", "wa_id"),
    [
        ("+55 (11) 98765-4321", "551187654321"),
        ("+55 11 3456-7890", "551134567890"),
        ("+52 55 1234 5678", "5215512345678"),
        ("+5215512345678", "5215512345678"),
    ],
)
async def test_brazil_and_mexico_wa_id_differs_from_input(graph, to, wa_id):
    response = await graph.post(f"{V}/{PNID}/messages", json=_text(to))
    assert response.json()["contacts"] == [{"input": to, "wa_id": wa_id}]


async def test_send_to_a_bsuid_answers_user_id_without_wa_id(graph):
    body = _text()
    del body["to"]
    response = await graph.post(f"{V}/{PNID}/messages", json={**body, "recipient": BSUID})
    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": BSUID, "user_id": BSUID}]


async def test_mark_as_read_with_typing_indicator(sim, graph):
    response = await graph.post(
        f"{V}/{PNID}/messages",
        json={
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.IN",
            "typing_indicator": {"type": "text"},
        },
    )
    assert response.json() == {"success": True}
    assert sim.read_marks == ["wamid.IN"] and sim.sent == []


def _without(key: str) -> dict:
    body = _text()
    del body[key]
    return body


def _interactive(action: dict, kind: str) -> dict:
    return _text(
        type="interactive", interactive={"type": kind, "body": {"text": "?"}, "action": action}
    )


BUTTON = {"type": "reply", "reply": {"id": "b", "title": "B"}}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (_without("messaging_product"), 131008, "messaging_product"),
        (_text(messaging_product="sms"), 131009, "messaging_product"),
        (_without("to"), 131008, "to"),
        (_without("type"), 131008, "type"),
        (_without("text"), 131008, "text"),
        (_text(type="hologram"), 131009, "type"),
        (_text(text={"body": "x" * 4097}), 131009, "text.body"),
        (_text(type="image", image={"caption": "no id"}), 131008, "image.id"),
        (_interactive({"buttons": [BUTTON] * 4}, "button"), 131009, "buttons"),
        (
            _interactive({"button": "Go", "sections": [{"rows": [{"id": "r"}] * 11}]}, "list"),
            131009,
            "list rows",
        ),
        (_text(type="reaction", reaction={"emoji": "👍"}), 131008, "reaction.message_id"),
    ],
)
async def test_send_validation_errors(sim, graph, body, code, field):
    response = await graph.post(f"{V}/{PNID}/messages", json=body)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == code and field in error["error_data"]["details"]
    assert sim.sent == []


async def test_text_of_exactly_4096_and_three_buttons_are_accepted(graph):
    long_text = await graph.post(f"{V}/{PNID}/messages", json=_text(text={"body": "x" * 4096}))
    buttons = await graph.post(
        f"{V}/{PNID}/messages", json=_interactive({"buttons": [BUTTON] * 3}, "button")
    )
    assert (long_text.status_code, buttons.status_code) == (200, 200)


def _template(name: str, code: str = "en_US") -> dict:
    return _text(type="template", template={"name": name, "language": {"code": code}})


async def test_template_sends_need_a_known_approved_template(sim, graph):
    unknown = await graph.post(f"{V}/{PNID}/messages", json=_template("ticket_update"))
    assert _error(unknown)["code"] == 132001
    sim.add_template(WABA, {"name": "ticket_update", "language": "en_US", "components": []})
    assert (await graph.post(f"{V}/{PNID}/messages", json=_template("ticket_update"))).is_success
    other_language = await graph.post(
        f"{V}/{PNID}/messages", json=_template("ticket_update", "pt_BR")
    )
    assert _error(other_language)["code"] == 132001
    sim.set_template_status(WABA, "ticket_update", "en_US", "paused")
    paused = await graph.post(f"{V}/{PNID}/messages", json=_template("ticket_update"))
    assert _error(paused)["code"] == 132015
    no_language = _text(type="template", template={"name": "ticket_update"})
    missing = await graph.post(f"{V}/{PNID}/messages", json=no_language)
    assert _error(missing)["code"] == 131008


async def test_created_template_is_pending_until_approved(sim, graph):
    created = await graph.post(
        f"{V}/{WABA}/message_templates",
        json={
            "name": "order_ready",
            "language": "en_US",
            "category": "utility",
            "components": [{"type": "body", "text": "Order {{1}} is ready."}],
        },
    )
    assert created.json()["status"] == "PENDING" and created.json()["category"] == "UTILITY"
    pending = await graph.post(f"{V}/{PNID}/messages", json=_template("order_ready"))
    assert _error(pending)["code"] == 132001
    template_id = sim.set_template_status(WABA, "order_ready", "en_US", "APPROVED")
    assert template_id == created.json()["id"]
    assert (await graph.post(f"{V}/{PNID}/messages", json=_template("order_ready"))).is_success


# Authentication and addressing


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer wrong"}, {"Authorization": ""}])
async def test_wrong_or_missing_token_is_error_190(sim, graph, headers):
    response = await graph.post(f"{V}/{PNID}/messages", json=_text(), headers=headers)
    assert response.status_code == 401
    error = _error(response)
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert sim.sent == []


async def test_another_numbers_token_is_refused(graph):
    response = await graph.post(
        f"{V}/{PNID}/messages", json=_text(), headers={"Authorization": "Bearer other"}
    )
    assert response.status_code == 401


async def test_unknown_number_is_error_100_subcode_33(graph):
    response = await graph.post(f"{V}/999/messages", json=_text())
    assert response.status_code == 400
    error = _error(response)
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert "'999'" in error["error_data"]["details"]


@pytest.mark.parametrize("version", ["v26", "latest", "v26.1"])
async def test_malformed_api_version_is_error_100(graph, version):
    response = await graph.post(f"/{version}/{PNID}/messages", json=_text())
    assert response.status_code == 400 and _error(response)["code"] == 100


async def test_any_vnn_version_is_accepted(graph):
    assert (await graph.post(f"/v19.0/{PNID}/messages", json=_text())).is_success


# Injected failures


@pytest.mark.parametrize(("code", "http_status"), [(131047, 400), (130429, 429), (190, 401)])
async def test_fail_next_answers_the_error_then_recovers(sim, graph, code, http_status):
    sim.fail_next(code, count=2)
    for _ in range(2):
        response = await graph.post(f"{V}/{PNID}/messages", json=_text())
        assert response.status_code == http_status
        error = _error(response)
        assert error["code"] == code
        assert error["error_data"]["details"] == p.ERRORS[code][1]
    assert (await graph.post(f"{V}/{PNID}/messages", json=_text())).is_success
    assert sim.calls["messages"] == 3 and len(sim.sent) == 1


async def test_fail_next_only_hits_its_own_path(sim, graph):
    sim.fail_next(131000, path="upload")
    assert (await graph.post(f"{V}/{PNID}/messages", json=_text())).is_success
    response = await graph.post(f"{V}/{PNID}/media", data={"messaging_product": "whatsapp"})
    assert response.status_code == 500 and _error(response)["code"] == 131000


def test_fail_next_refuses_unknown_codes_and_paths(sim):
    with pytest.raises(ValueError, match="ERRORS"):
        sim.fail_next(123)
    with pytest.raises(ValueError, match="path"):
        sim.fail_next(131000, path="everything")


async def test_timeout_next_stalls_past_a_client_timeout(sim, graph):
    sim.timeout_next(path="messages", delay=0.5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(graph.post(f"{V}/{PNID}/messages", json=_text()), 0.05)
    assert len(sim.sent) == 1  # carried out although its answer never came
    assert (await graph.post(f"{V}/{PNID}/messages", json=_text())).is_success
    assert len(sim.sent) == 2


async def test_chaos_fails_calls_at_random_in_the_shares_asked(sim, graph):
    sim.chaos({130429: 0.2, 131000: 0.1}, timeouts=0.1, delay=0.01, seed=7)
    sim.fail_next(190)  # a queued fault still comes first
    statuses = collections.Counter()
    for _ in range(400):
        response = await graph.post(f"{V}/{PNID}/messages", json=_text())
        statuses[response.json()["error"]["code"] if response.is_error else 200] += 1
    assert statuses[190] == 1
    assert 60 <= statuses[130429] <= 100 and 25 <= statuses[131000] <= 55
    # Stalled calls are carried out and answered late: they count among the 200s.
    assert 240 <= statuses[200] <= 310 and len(sim.sent) == statuses[200]
    sim.chaos({})
    assert (await graph.post(f"{V}/{PNID}/messages", json=_text())).is_success


def test_chaos_refuses_unknown_codes_and_impossible_shares(sim):
    with pytest.raises(ValueError, match="ERRORS"):
        sim.chaos({123: 0.1})
    with pytest.raises(ValueError, match="at most 1"):
        sim.chaos({130429: 0.8}, timeouts=0.3)
    with pytest.raises(ValueError, match="at least 0"):
        sim.chaos({130429: -0.1})
    with pytest.raises(ValueError, match="path"):
        sim.chaos({130429: 0.1}, path="everything")


# Media


async def _upload(graph, content: bytes, mime_type: str) -> httpx.Response:
    return await graph.post(
        f"{V}/{PNID}/media",
        data={"messaging_product": "whatsapp", "type": mime_type},
        files={"file": ("upload.bin", content, mime_type)},
    )


async def test_media_upload_url_and_download(sim, graph):
    content = b"\xff\xd8\xff fake jpeg"
    uploaded = await _upload(graph, content, "image/jpeg")
    assert uploaded.status_code == 200
    media_id = uploaded.json()["id"]
    assert sim.uploads[-1]["id"] == media_id and sim.uploads[-1]["file_size"] == len(content)
    info = (await graph.get(f"{V}/{media_id}", params={"phone_number_id": PNID})).json()
    assert info["url"].startswith(f"{sim.base_url}/_media/")
    assert info["mime_type"] == "image/jpeg" and info["file_size"] == len(content)
    assert info["sha256"] == base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert info["id"] == media_id and info["messaging_product"] == "whatsapp"
    download = await graph.get(info["url"])
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "image/jpeg"


async def test_download_needs_the_token(sim, graph):
    media_id = sim.add_media(b"OggS voice", "audio/ogg")
    url = (await graph.get(f"{V}/{media_id}")).json()["url"]
    assert (await graph.get(url, headers={"Authorization": ""})).status_code == 401
    assert (await graph.get(url, headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await graph.get(url)).content == b"OggS voice"


async def test_expired_url_is_404_and_a_fresh_one_works(sim, graph, clock):
    media_id = sim.add_media(b"pdf bytes", "application/pdf")
    first = (await graph.get(f"{V}/{media_id}")).json()["url"]
    second = (await graph.get(f"{V}/{media_id}")).json()["url"]
    assert first != second
    sim.expire_media_urls()
    assert (await graph.get(first)).status_code == 404
    fresh = (await graph.get(f"{V}/{media_id}")).json()["url"]
    assert (await graph.get(fresh)).content == b"pdf bytes"
    clock.now += 301
    assert (await graph.get(fresh)).status_code == 404


async def test_fail_next_on_downloads_answers_bare_statuses(sim, graph):
    media_id = sim.add_media(b"x", "image/png")
    url = (await graph.get(f"{V}/{media_id}")).json()["url"]
    sim.fail_next(404, path="media_download")
    sim.fail_next(131000, path="media_download")
    assert (await graph.get(url)).status_code == 404
    assert (await graph.get(url)).status_code == 500
    assert (await graph.get(url)).status_code == 200
    assert sim.calls["media_download"] == 3


async def test_unknown_and_deleted_media_are_error_100(sim, graph):
    media_id = sim.add_media(b"x", "image/png")
    assert (await graph.delete(f"{V}/{media_id}")).json() == {"success": True}
    response = await graph.get(f"{V}/{media_id}")
    assert response.status_code == 400
    assert (_error(response)["code"], _error(response)["error_subcode"]) == (100, 33)


@pytest.mark.parametrize(
    ("mime_type", "size"),
    [
        ("image/gif", 10),
        ("application/zip", 10),
        ("image/jpeg", 5 * 1024 * 1024 + 1),
        ("image/webp", 500 * 1024 + 1),
    ],
)
async def test_upload_rejects_unsupported_type_or_size(sim, graph, mime_type, size):
    response = await _upload(graph, b"x" * size, mime_type)
    assert response.status_code == 400 and _error(response)["code"] == 131053
    assert sim.uploads == []


async def test_upload_accepts_opus_voice_notes_and_needs_a_file(graph):
    assert (await _upload(graph, b"OggS", "audio/ogg; codecs=opus")).is_success
    response = await graph.post(f"{V}/{PNID}/media", data={"messaging_product": "whatsapp"})
    assert _error(response)["code"] == 131008


# Templates


async def test_templates_page_with_cursors_and_meta_upper_case(sim, graph):
    for name in ("alpha", "beta", "gamma"):
        sim.add_template(
            WABA,
            {
                "name": name,
                "language": "en_US",
                "category": "utility",
                "components": [
                    {"type": "header", "format": "text", "text": "Hi"},
                    {"type": "buttons", "buttons": [{"type": "quick_reply", "text": "OK"}]},
                ],
            },
        )
    first = (await graph.get(f"{V}/{WABA}/message_templates", params={"limit": 2})).json()
    assert [t["name"] for t in first["data"]] == ["alpha", "beta"]
    template = first["data"][0]
    assert (template["category"], template["status"], template["parameter_format"]) == (
        "UTILITY",
        "APPROVED",
        "POSITIONAL",
    )
    assert template["components"][0] == {"type": "HEADER", "format": "TEXT", "text": "Hi"}
    assert template["components"][1]["buttons"][0]["type"] == "QUICK_REPLY"
    assert template["id"].isdigit()
    assert first["paging"]["next"].startswith(f"{sim.base_url}{V}/{WABA}/message_templates?")
    second = (await graph.get(first["paging"]["next"])).json()
    assert [t["name"] for t in second["data"]] == ["gamma"]
    assert "next" not in second["paging"]
    assert second["paging"]["cursors"]["before"] != first["paging"]["cursors"]["before"]


async def test_create_template_validates_and_lists(graph):
    body = {
        "name": "ticket_update",
        "language": "en_US",
        "category": "Marketing",
        "components": [{"type": "body", "text": "Hi {{1}}"}],
    }
    created = await graph.post(f"{V}/{WABA}/message_templates", json=body)
    assert created.json() == {
        "id": created.json()["id"],
        "status": "PENDING",
        "category": "MARKETING",
    }
    listed = (await graph.get(f"{V}/{WABA}/message_templates")).json()["data"]
    assert listed[0]["components"] == [{"type": "BODY", "text": "Hi {{1}}"}]
    for wrong in ({"name": "Ticket Update"}, {"category": "promo"}, {"components": "body"}, {}):
        response = await graph.post(f"{V}/{WABA}/message_templates", json={**body, **wrong})
        assert _error(response)["code"] == 131009


async def test_templates_need_a_token_of_that_waba(graph):
    response = await graph.get(
        f"{V}/{WABA}/message_templates", headers={"Authorization": "Bearer other"}
    )
    assert response.status_code == 401
    unknown = await graph.get(f"{V}/123/message_templates")
    assert _error(unknown)["code"] == 100


# Media header examples (the Resumable Upload API) and template edits

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 56


async def _example(graph) -> str:
    """A PNG through both steps; its handle."""
    query = {"file_name": "sale.png", "file_length": len(PNG), "file_type": "image/png"}
    session = (await graph.post(f"{V}/{APP_ID}/uploads", params=query)).json()["id"]
    answer = await graph.post(
        f"{V}/{session}",
        content=PNG,
        headers={"Authorization": f"OAuth {TOKEN}", "file_offset": "0"},
    )
    return answer.json()["h"]


def _promo(handle: str | None, header_format: str = "IMAGE", **extra) -> dict:
    header: dict = {"type": "HEADER", "format": header_format}
    if handle is not None:
        header["example"] = {"header_handle": [handle]}
    return {
        "name": "spring_sale",
        "language": "en_US",
        "category": "MARKETING",
        "components": [header, {"type": "BODY", "text": "Our sale starts today."}],
        **extra,
    }


async def test_an_uploaded_example_gives_a_handle_a_media_header_can_name(sim, graph):
    session = (
        await graph.post(
            f"{V}/{APP_ID}/uploads",
            params={"file_name": "sale.png", "file_length": len(PNG), "file_type": "image/png"},
        )
    ).json()["id"]
    assert session.startswith("upload:") and "?sig=" in session  # Meta's ids carry a sig
    answer = await graph.post(
        f"{V}/{session}",
        content=PNG,
        headers={"Authorization": f"OAuth {TOKEN}", "file_offset": "0"},
    )
    handle = answer.json()["h"]
    assert sim.examples[handle].content == PNG and sim.examples[handle].mime_type == "image/png"
    created = await graph.post(f"{V}/{WABA}/message_templates", json=_promo(handle))
    assert created.json()["status"] == "PENDING"
    listed = (await graph.get(f"{V}/{WABA}/message_templates")).json()["data"][0]
    assert listed["components"][0]["example"] == {"header_handle": [handle]}


@pytest.mark.parametrize(
    "handle", [None, "4::bm90LWEtaGFuZGxl"], ids=["no example", "unknown handle"]
)
async def test_a_media_header_without_a_known_handle_is_refused(graph, handle):
    refused = await graph.post(f"{V}/{WABA}/message_templates", json=_promo(handle))
    assert _error(refused)["code"] == 131009


async def test_a_header_cannot_name_an_example_of_another_kind(graph):
    handle = await _example(graph)
    refused = await graph.post(f"{V}/{WABA}/message_templates", json=_promo(handle, "VIDEO"))
    assert "VIDEO" in _error(refused)["error_data"]["details"]


async def test_upload_sessions_check_the_app_token_and_file(graph):
    query = {"file_name": "a.png", "file_length": 10, "file_type": "image/png"}
    assert _error(await graph.post(f"{V}/999/uploads", params=query))["code"] == 100
    no_token = await graph.post(
        f"{V}/{APP_ID}/uploads", params=query, headers={"Authorization": ""}
    )
    assert no_token.status_code == 401
    by_query = await graph.post(
        f"{V}/{APP_ID}/uploads",
        params={**query, "access_token": TOKEN},
        headers={"Authorization": ""},
    )
    assert by_query.json()["id"].startswith("upload:")  # as Meta's guide passes it
    for wrong in ({"file_type": "image/gif"}, {"file_length": 0}, {"file_name": ""}):
        response = await graph.post(f"{V}/{APP_ID}/uploads", params={**query, **wrong})
        assert _error(response)["code"] == 100


async def test_upload_data_needs_oauth_offset_zero_the_length_and_the_sig(graph):
    query = {"file_name": "a.png", "file_length": len(PNG), "file_type": "image/png"}
    session = (await graph.post(f"{V}/{APP_ID}/uploads", params=query)).json()["id"]
    oauth = {"Authorization": f"OAuth {TOKEN}", "file_offset": "0"}
    bearer = await graph.post(
        f"{V}/{session}", content=PNG, headers={**oauth, "Authorization": f"Bearer {TOKEN}"}
    )
    assert bearer.status_code == 401
    no_offset = await graph.post(
        f"{V}/{session}", content=PNG, headers={"Authorization": f"OAuth {TOKEN}"}
    )
    assert "file_offset" in _error(no_offset)["error_data"]["details"]
    short = await graph.post(f"{V}/{session}", content=PNG[:-1], headers=oauth)
    assert "Expected 64 bytes, got 63" in _error(short)["error_data"]["details"]
    forged = await graph.post(f"{V}/{session.split('?')[0]}?sig=forged", content=PNG, headers=oauth)
    assert _error(forged)["code"] == 100
    assert (await graph.post(f"{V}/{session}", content=PNG, headers=oauth)).json()["h"]
    again = await graph.post(f"{V}/{session}", content=PNG, headers=oauth)
    assert _error(again)["code"] == 100  # a finished session is gone


async def test_only_approved_rejected_or_paused_templates_are_edited(sim, graph):
    template_id = sim.add_template(WABA, _promo(await _example(graph), status="PENDING"))
    body = {"components": [{"type": "BODY", "text": "Our sale starts tomorrow."}]}
    pending = await graph.post(f"{V}/{template_id}", json=body)
    assert "PENDING" in _error(pending)["error_data"]["details"]
    for status in ("REJECTED", "PAUSED", "REJECTED"):  # unlimited edits when not approved
        sim.set_template_status(WABA, "spring_sale", "en_US", status)
        assert (await graph.post(f"{V}/{template_id}", json=body)).json() == {"success": True}
        (listed,) = (await graph.get(f"{V}/{WABA}/message_templates")).json()["data"]
        assert listed["status"] == "PENDING"  # in review again
        assert listed["components"] == [{"type": "BODY", "text": "Our sale starts tomorrow."}]
    assert sim.template_edits[template_id] == []
    unknown = await graph.post(f"{V}/123456", json=body)
    assert _error(unknown)["code"] == 100
    other = await graph.post(
        f"{V}/{template_id}", json=body, headers={"Authorization": "Bearer other"}
    )
    assert other.status_code == 401


async def test_an_approved_template_is_edited_once_a_day_ten_times_a_month(sim, graph, clock):
    template_id = sim.add_template(WABA, _promo(await _example(graph)))
    body = {"components": [{"type": "BODY", "text": "Our sale starts today."}]}
    locked = await graph.post(f"{V}/{template_id}", json={**body, "category": "UTILITY"})
    assert "category" in _error(locked)["error_data"]["details"]
    for day in range(10):
        sim.set_template_status(WABA, "spring_sale", "en_US", "APPROVED")
        assert (await graph.post(f"{V}/{template_id}", json=body)).is_success, day
        sim.set_template_status(WABA, "spring_sale", "en_US", "APPROVED")
        too_soon = await graph.post(f"{V}/{template_id}", json=body)
        assert "once in 24 hours" in _error(too_soon)["error_data"]["details"]
        clock.now += 86_400
    eleventh = await graph.post(f"{V}/{template_id}", json=body)
    assert "10 times in 30 days" in _error(eleventh)["error_data"]["details"]
    clock.now += 20 * 86_400  # the first edits leave the 30 days
    assert (await graph.post(f"{V}/{template_id}", json=body)).is_success
    rejected_may_change_category = sim.add_template(
        WABA, {**_promo(await _example(graph)), "name": "other", "status": "REJECTED"}
    )
    changed = await graph.post(
        f"{V}/{rejected_may_change_category}", json={**body, "category": "UTILITY"}
    )
    assert changed.is_success
    assert sim.find_template(WABA, "other", "en_US")["category"] == "UTILITY"


# The number and its account, as a connection test asks about them


async def test_phone_number_answers_the_fields_asked_for(sim, graph):
    fields = "display_phone_number,verified_name,quality_rating,throughput,platform_type"
    response = await graph.get(f"{V}/{PNID}", params={"fields": fields})
    assert response.json() == {
        "id": PNID,
        "display_phone_number": DISPLAY,
        "verified_name": "PyTake Sandbox",
        "quality_rating": "GREEN",
        "throughput": {"level": "STANDARD"},
        "platform_type": "CLOUD_API",
    }
    assert sim.calls["phone_number"] == 1 and sim.calls["media_url"] == 0
    everything = (await graph.get(f"{V}/{PNID}")).json()
    assert everything["code_verification_status"] == "VERIFIED"
    assert everything["name_status"] == "APPROVED"
    wrong_field = await graph.get(f"{V}/{PNID}", params={"fields": "display_phone_number,nope"})
    assert _error(wrong_field)["code"] == 100


async def test_phone_number_unknown_id_is_100_33_and_a_wrong_token_190(graph):
    unknown = await graph.get(f"{V}/120000000000999", params={"fields": "verified_name"})
    assert unknown.status_code == 400
    assert (_error(unknown)["code"], _error(unknown)["error_subcode"]) == (100, 33)
    wrong = await graph.get(f"{V}/{PNID}", headers={"Authorization": "Bearer expired"})
    assert wrong.status_code == 401
    assert (_error(wrong)["code"], _error(wrong)["error_subcode"]) == (190, 463)


async def test_phone_number_faults_can_be_injected(sim, graph):
    sim.fail_next(200, path="phone_number")
    response = await graph.get(f"{V}/{PNID}")
    assert response.status_code == 403 and _error(response)["code"] == 200
    assert (await graph.get(f"{V}/{PNID}")).is_success


async def test_a_fault_for_one_number_leaves_the_others_sends_alone(sim, graph):
    """The sandbox arms faults per number: one organization's scenario must not fail
    another's sends."""
    other = "330044556677889"
    sim.add_number(other, WABA, "15550003333", TOKEN, SECRET, "Second")
    sim.fail_next(131000, node=PNID)
    sim.timeout_next(node=PNID, delay=0.01)
    assert (await graph.post(f"{V}/{other}/messages", json=_text())).is_success
    refused = await graph.post(f"{V}/{PNID}/messages", json=_text())
    assert _error(refused)["code"] == 131000
    assert (await graph.post(f"{V}/{other}/messages", json=_text())).is_success
    assert (await graph.post(f"{V}/{PNID}/messages", json=_text())).is_success  # late, though


async def test_account_lists_its_numbers_a_page_at_a_time(sim, graph):
    sim.add_number("330044556677889", WABA, "15550003333", TOKEN, SECRET, "Second")
    first = (await graph.get(f"{V}/{WABA}/phone_numbers", params={"limit": 1})).json()
    assert first["data"][0]["id"] == PNID and first["data"][0]["display_phone_number"] == DISPLAY
    assert first["paging"]["next"].startswith(f"{sim.base_url}{V}/{WABA}/phone_numbers?")
    second = (await graph.get(first["paging"]["next"])).json()
    assert second["data"][0]["verified_name"] == "Second" and "next" not in second["paging"]
    only_ids = (await graph.get(f"{V}/{WABA}/phone_numbers", params={"fields": "id"})).json()
    assert only_ids["data"] == [{"id": PNID}, {"id": "330044556677889"}]
    other = await graph.get(f"{V}/990022334455667/phone_numbers")
    assert other.status_code == 401 and _error(other)["code"] == 190  # another WABA's token
    assert _error(await graph.get(f"{V}/123456/phone_numbers"))["code"] == 100


async def test_subscribed_apps_until_the_account_is_unsubscribed(sim, graph):
    url = f"{V}/{WABA}/subscribed_apps"
    listed = (await graph.get(url)).json()["data"]
    assert [app["whatsapp_business_api_data"]["name"] for app in listed] == ["PyTake"]
    sim.unsubscribe(WABA)
    assert (await graph.get(url)).json() == {"data": []}
    assert (await graph.post(url)).json() == {"success": True}
    assert len((await graph.get(url)).json()["data"]) == 1
    assert (await graph.delete(url)).json() == {"success": True}
    assert (await graph.get(url)).json() == {"data": []}
    assert sim.calls["subscribed_apps"] == 6
    assert _error(await graph.get(f"{V}/123456/subscribed_apps"))["code"] == 100


# Mounting


async def test_urls_follow_base_url_under_a_mount():
    sim = GraphSimulator("http://pytake.test/sandbox/graph")
    sim.add_number(PNID, WABA, DISPLAY, TOKEN, SECRET)
    for name in ("one", "two"):
        sim.add_template(WABA, {"name": name, "language": "en_US"})
    media_id = sim.add_media(b"bytes", "image/png")
    app = Starlette(routes=[Mount("/sandbox/graph", app=sim.app)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=sim.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        url = (await client.get(f"{V}/{media_id}")).json()["url"]
        assert (await client.get(url)).content == b"bytes"
        page = (await client.get(f"{V}/{WABA}/message_templates?limit=1")).json()
        assert (await client.get(page["paging"]["next"])).json()["data"][0]["name"] == "two"
