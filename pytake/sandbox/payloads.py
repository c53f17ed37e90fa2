"""Webhook payloads shaped and encoded the way Meta sends them (see the WhatsApp reference §3).

Pure functions, so tests, benchmarks and the sandbox all feed PyTake the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Required, TypedDict, Unpack

ERRORS_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (title, details, HTTP status of the synchronous Graph error)
ERRORS: dict[int, tuple[str, str, int]] = {
    100: (
        "Invalid parameter",
        "Object with ID does not exist, cannot be loaded due to missing permissions, "
        "or does not support this operation.",
        400,
    ),
    10: ("Application does not have permission for this action", "Permission denied.", 403),
    190: ("Error validating access token", "Session has expired.", 401),
    200: ("Permissions error", "The access token lacks a permission for this object.", 403),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached.", 429),
    131000: ("Something went wrong", "Message failed to send because of an unknown error.", 500),
    131016: ("Service unavailable", "A service is temporarily unavailable.", 503),
    131008: ("Required parameter is missing", "The request is missing a required parameter.", 400),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid.", 400),
    131026: (
        "Message undeliverable",
        "Message failed to send because the recipient cannot receive it.",
        400,
    ),
    131030: (
        "Recipient phone number not in allowed list",
        "Recipient phone number not in allowed list: "
        "Add recipient phone number to recipient list and try again.",
        400,
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
        400,
    ),
    131051: ("Message type unknown", "Message type is currently not supported.", 400),
    131053: ("Media upload error", "Unable to upload the media used in the message.", 400),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from this phone number to the same recipient "
        "in a short period of time.",
        400,
    ),
    132001: (
        "Template name does not exist in the translation",
        "The template does not exist in this language or is not approved.",
        400,
    ),
    132015: ("Template is Paused", "The template is paused because of low quality.", 400),
    132016: ("Template is Disabled", "The template is disabled because of low quality.", 400),
}


def new_wamid() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def unix_now() -> str:
    return str(int(time.time()))


def encode(payload: dict) -> bytes:
    """Meta escapes non-ASCII and ``/``; a receiver that re-serialises gets other bytes."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode()


def sign(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(*entries: dict) -> dict:
    return {"object": "whatsapp_business_account", "entry": list(entries)}


def entry(waba_id: str, *changes: dict, time: int | None = None) -> dict:
    item: dict[str, Any] = {"id": waba_id}
    if time is not None:
        item["time"] = time
    item["changes"] = list(changes)
    return item


def change(value: dict, field: str = "messages") -> dict:
    return {"value": value, "field": field}


def _value(phone_number_id: str, display_number: str, **arrays: list[dict]) -> dict:
    metadata = {"display_phone_number": display_number, "phone_number_id": phone_number_id}
    return {"messaging_product": "whatsapp", "metadata": metadata, **arrays}


def messages_value(
    phone_number_id: str,
    display_number: str,
    messages: list[dict],
    contacts: list[dict] | None = None,
) -> dict:
    """``contacts`` is left out when None, as in system messages."""
    if contacts is None:
        return _value(phone_number_id, display_number, messages=messages)
    return _value(phone_number_id, display_number, contacts=contacts, messages=messages)


def statuses_value(phone_number_id: str, display_number: str, statuses: list[dict]) -> dict:
    return _value(phone_number_id, display_number, statuses=statuses)


def errors_value(phone_number_id: str, display_number: str, errors: list[dict]) -> dict:
    return _value(phone_number_id, display_number, errors=errors)


def template_status_value(
    event: str,
    template_id: int,
    name: str,
    language: str,
    reason: str | None = "NONE",
    category: str = "UTILITY",
    **extra: Any,
) -> dict:
    """The ``message_template_status_update`` value: no messaging_product, no metadata."""
    return {
        "event": event,
        "message_template_id": template_id,
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
        "message_template_category": category,
        **extra,
    }


def profile(
    wa_id: str | None,
    name: str | None,
    user_id: str | None = None,
    username: str | None = None,
) -> dict:
    """A ``value.contacts[]`` item; username users may come without wa_id (reference §10)."""
    names = _present(name=name, username=username)
    item = {"profile": names} if names else {}
    return item | _present(wa_id=wa_id, user_id=user_id)


def _present(**fields: Any) -> dict:
    return {key: value for key, value in fields.items() if value is not None}


class Origin(TypedDict, total=False):
    """Who sent an inbound message, and what it answers; every message builder takes these."""

    sender: Required[str | None]
    sender_user_id: str | None
    wamid: str | None
    timestamp: str | None
    context: dict | None


def _message(kind: str, content: Any, origin: Origin) -> dict:
    item = _present(
        context=origin.get("context"),
        **{"from": origin["sender"], "from_user_id": origin.get("sender_user_id")},
    )
    item["id"] = origin.get("wamid") or new_wamid()
    item["timestamp"] = origin.get("timestamp") or unix_now()
    item["type"] = kind
    item[kind] = content
    return item


def reply_context(wamid: str, from_number: str) -> dict:
    return {"from": from_number, "id": wamid}


def forwarded_context(frequently: bool = False) -> dict:
    return {"frequently_forwarded": True} if frequently else {"forwarded": True}


def text(body: str, *, referral: dict | None = None, **origin: Unpack[Origin]) -> dict:
    item = _message("text", {"body": body}, origin)
    return item | _present(referral=referral)


def _media(
    kind: str,
    media_id: str,
    mime_type: str,
    sha256: str | None,
    url: str | None,
    origin: Origin,
    **fields: Any,
) -> dict:
    digest = sha256 or base64.b64encode(hashlib.sha256(media_id.encode()).digest()).decode()
    content = {"mime_type": mime_type, "sha256": digest, "id": media_id}
    return _message(kind, content | _present(url=url, **fields), origin)


def image(
    media_id: str,
    *,
    mime_type: str = "image/jpeg",
    caption: str | None = None,
    sha256: str | None = None,
    url: str | None = None,
    **origin: Unpack[Origin],
) -> dict:
    return _media("image", media_id, mime_type, sha256, url, origin, caption=caption)


def audio(
    media_id: str,
    *,
    voice: bool = True,
    mime_type: str = "audio/ogg; codecs=opus",
    sha256: str | None = None,
    url: str | None = None,
    **origin: Unpack[Origin],
) -> dict:
    return _media("audio", media_id, mime_type, sha256, url, origin, voice=voice)


def video(
    media_id: str,
    *,
    mime_type: str = "video/mp4",
    caption: str | None = None,
    sha256: str | None = None,
    url: str | None = None,
    **origin: Unpack[Origin],
) -> dict:
    return _media("video", media_id, mime_type, sha256, url, origin, caption=caption)


def document(
    media_id: str,
    filename: str,
    *,
    mime_type: str = "application/pdf",
    caption: str | None = None,
    sha256: str | None = None,
    url: str | None = None,
    **origin: Unpack[Origin],
) -> dict:
    return _media(
        "document", media_id, mime_type, sha256, url, origin, caption=caption, filename=filename
    )


def sticker(
    media_id: str,
    *,
    animated: bool = False,
    mime_type: str = "image/webp",
    sha256: str | None = None,
    url: str | None = None,
    **origin: Unpack[Origin],
) -> dict:
    return _media("sticker", media_id, mime_type, sha256, url, origin, animated=animated)


def location(
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    url: str | None = None,
    **origin: Unpack[Origin],
) -> dict:
    """A shared position has only coordinates; a chosen place adds name, address and url."""
    place = _present(name=name, address=address, url=url)
    return _message("location", {"latitude": latitude, "longitude": longitude} | place, origin)


def contacts(cards: list[dict], **origin: Unpack[Origin]) -> dict:
    """Shared vCards, not the sender (that is ``value.contacts``, see ``profile``)."""
    return _message("contacts", cards, origin)


def _interactive(kind: str, reply: dict, origin: Origin) -> dict:
    return _message("interactive", {"type": kind, kind: reply}, origin)


def button_reply(id: str, title: str, **origin: Unpack[Origin]) -> dict:
    return _interactive("button_reply", {"id": id, "title": title}, origin)


def list_reply(
    id: str, title: str, description: str | None = None, **origin: Unpack[Origin]
) -> dict:
    reply = {"id": id, "title": title} | _present(description=description)
    return _interactive("list_reply", reply, origin)


def nfm_reply(
    response: dict, *, name: str = "flow", body: str = "Sent", **origin: Unpack[Origin]
) -> dict:
    """A completed WhatsApp Flow; Meta sends the answers as a JSON string, not an object."""
    answers = json.dumps(response, separators=(",", ":"))
    return _interactive("nfm_reply", {"name": name, "body": body, "response_json": answers}, origin)


def template_button(payload: str, text: str, **origin: Unpack[Origin]) -> dict:
    return _message("button", {"payload": payload, "text": text}, origin)


def reaction(message_id: str, emoji: str | None, **origin: Unpack[Origin]) -> dict:
    """``emoji=None`` is a removal: Meta then leaves the key out."""
    return _message("reaction", {"message_id": message_id} | _present(emoji=emoji), origin)


def order(catalog_id: str, items: list[dict], text: str = "", **origin: Unpack[Origin]) -> dict:
    cart = {"catalog_id": catalog_id, "text": text, "product_items": items}
    return _message("order", cart, origin)


def system(
    body: str,
    new_wa_id: str | None,
    *,
    type: str = "user_changed_number",
    user_id: str | None = None,
    previous_user_id: str | None = None,
    before_v12: bool = False,
    **origin: Unpack[Origin],
) -> dict:
    """An identity change; wrap it with ``messages_value`` without contacts, as Meta does.
    ``before_v12``: the new number as API versions before 12 named it (``new_wa_id``)."""
    number = {"new_wa_id" if before_v12 else "wa_id": new_wa_id}
    event = {"body": body} | _present(
        **number, type=type, user_id=user_id, previous_user_id=previous_user_id
    )
    return _message("system", event, origin)


def unsupported(kind: str = "poll_creation", **origin: Unpack[Origin]) -> dict:
    item = _message("unsupported", {"type": kind}, origin)
    item["errors"] = [error(131051)]
    return item


def unknown(type_name: str, body: dict, **origin: Unpack[Origin]) -> dict:
    """A type Meta may add later; PyTake must still store it."""
    return _message(type_name, body, origin)


def status(
    wamid: str,
    status: str,
    recipient_id: str | None,
    *,
    timestamp: str | None = None,
    errors: list[dict] | None = None,
    recipient_user_id: str | None = None,
    pricing: dict | None = None,
    biz_opaque_callback_data: str | None = None,
) -> dict:
    item = {"id": wamid, "status": status, "timestamp": timestamp or unix_now()}
    return item | _present(
        recipient_id=recipient_id,
        recipient_user_id=recipient_user_id,
        biz_opaque_callback_data=biz_opaque_callback_data,
        pricing=pricing,
        errors=errors,
    )


def error(code: int, title: str | None = None, details: str | None = None) -> dict:
    """The webhook error shape; title and details default to Meta's for a code in ERRORS."""
    if title is None or details is None:
        known_title, known_details, _ = ERRORS[code]
        title, details = title or known_title, details or known_details
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERRORS_HREF,
    }
