"""Meta's webhook bodies: routing, signature, and parsing into normalized events.

Parsing is defensive: every entry, change, message and status is read, an item that cannot be
understood becomes an ``Ignored`` event naming the problem, and the rest of the batch is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pytake import nul
from pytake.channels.base import (
    ChannelError,
    ContactRef,
    DeliveryStatus,
    Event,
    Ignored,
    InboundMessage,
    MediaRef,
    MessageType,
    PayloadError,
    PlatformError,
    Reaction,
    Routing,
    StatusUpdate,
    TemplateStatusUpdate,
)
from pytake.channels.whatsapp import numbers

SIGNATURE_HEADER = "x-hub-signature-256"
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
STATUSES = {
    s.value: s
    for s in (
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.READ,
        DeliveryStatus.PLAYED,
        DeliveryStatus.FAILED,
    )
}
INTERACTIVE = {
    "button_reply": MessageType.BUTTON_REPLY,
    "list_reply": MessageType.LIST_REPLY,
    "nfm_reply": MessageType.FLOW_REPLY,
}
MAX_RAW_CHARS = 20_000  # an unknown object kept for display is capped


_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def signature(headers: Mapping[str, str]) -> str | None:
    """The signature header as sent (capped), or None when there is none."""
    value = headers.get(SIGNATURE_HEADER)
    return value.strip()[:100] if value else None


def signature_valid(body: bytes, signature: str | None, secret: str) -> bool:
    """HMAC-SHA256 of the raw bytes with the app secret, compared in constant time."""
    found = _SIGNATURE.fullmatch(signature or "")
    if found is None or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(found.group(1).lower().encode(), expected)


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _changes(payload: Any) -> Iterator[tuple[dict, str, dict]]:
    """(entry, field, value) for every change of every entry."""
    if not isinstance(payload, dict):
        return
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            yield entry, str(change.get("field") or ""), value if isinstance(value, dict) else {}


def _routed_by_number(field: str) -> bool:
    """Message changes belong to a number; the others (templates…) to the account."""
    return field == "messages"


def _number(value: dict) -> str | None:
    metadata = value.get("metadata")
    number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return str(number) if number else None


def routing(payload: Any) -> Routing:
    found_numbers, found_accounts, customer = set(), set(), None
    for entry, field, value in _changes(payload):
        # Each change is authenticated by the very id it will be applied with.
        number = _number(value) if _routed_by_number(field) else None
        if number:
            found_numbers.add(number)
            if customer is None and (person := _person(value)):
                customer = f"{number}:{person}"
        elif entry.get("id"):
            found_accounts.add(str(entry["id"]))
    return Routing(
        numbers=frozenset(found_numbers), accounts=frozenset(found_accounts), customer=customer
    )


_PEOPLE = (("messages", "from", "from_user_id"), ("statuses", "recipient_id", "recipient_user_id"))


def _person(value: dict) -> str | None:
    """The customer of a change's first message (its sender) or status (its recipient)."""
    for items, wa_id, user_id in _PEOPLE:
        for item in _dicts(value.get(items)):
            found = numbers.normalize(str(item.get(wa_id) or "")) or item.get(user_id)
            if found:
                return str(found)
    return None


def inspect(body: bytes) -> tuple[Routing, str | None]:
    """The channels a body names, and why it cannot be processed (None when it can)."""
    try:
        return routing(load(body)), None
    except PayloadError as exc:
        return Routing(), str(exc)


def load(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"not JSON: {str(exc)[:200]}") from None
    if b"\\u0000" in body:  # JSON can carry a NUL only escaped: the common case costs nothing
        payload = nul.scrub(payload)  # before parsing: ids, names and texts alike
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise PayloadError("not a WhatsApp webhook: no entry list")
    if payload.get("object") not in (None, "whatsapp_business_account"):
        raise PayloadError(f"unexpected object {payload.get('object')!r}")
    return payload


def parse(body: bytes) -> list[Event]:
    payload = load(body)
    events: list[Event] = []
    for entry, field, value in _changes(payload):
        if _routed_by_number(field):
            events.extend(_messages_change(value))
        elif field == "message_template_status_update":
            events.append(_template_status(entry, value))
        else:
            events.append(Ignored(None, field or "(no field)"))
    return events


def _messages_change(value: dict) -> Iterator[Event]:
    number = _number(value)
    if number is None:
        yield Ignored(None, "messages", problem="no metadata.phone_number_id")
        return
    profiles = _profiles(value.get("contacts"))
    for item in _dicts(value.get("messages")):
        yield _guarded(number, "message", lambda item=item: _message(number, item, profiles))
    for item in _dicts(value.get("statuses")):
        yield _guarded(number, "status", lambda item=item: _status(number, item))
    errors = _errors(value.get("errors"))
    if errors and not value.get("messages"):
        yield ChannelError(number, errors)


def _guarded(number: str, kind: str, build) -> Event:
    try:
        return build()
    except (KeyError, TypeError, ValueError) as exc:
        return Ignored(number, kind, problem=f"malformed {kind}: {exc!r}"[:500])


def _profiles(contacts: Any) -> dict[str, dict]:
    """Sender profiles keyed by every id they can be looked up with."""
    found: dict[str, dict] = {}
    for contact in _dicts(contacts):
        for key in ("wa_id", "user_id"):
            if contact.get(key):
                found[str(contact[key])] = contact
    return found


def _contact(wa_id: Any, user_id: Any, profiles: dict[str, dict]) -> ContactRef:
    profile = profiles.get(str(wa_id or "")) or profiles.get(str(user_id or "")) or {}
    wa_id = wa_id or profile.get("wa_id")
    user_id = user_id or profile.get("user_id")
    details = profile.get("profile") if isinstance(profile.get("profile"), dict) else {}
    external = numbers.phone(str(wa_id)) if wa_id else None
    if wa_id and external is None and not user_id:
        user_id = wa_id  # a user id where the number would have been
    return ContactRef(
        external_id=external or None,
        scoped_id=str(user_id) if user_id else None,
        name=_text(details.get("name"), 200),
        username=_text(details.get("username"), 80),
        aliases=numbers.aliases(external) if external else (),
    )


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


def _time(value: Any) -> dt.datetime:
    """Meta sends Unix seconds as a string; a missing or odd value means 'now'."""
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return dt.datetime.now(dt.UTC)


def _errors(items: Any) -> tuple[PlatformError, ...]:
    found = []
    for item in _dicts(items):
        data = item.get("error_data") if isinstance(item.get("error_data"), dict) else {}
        code = item.get("code")
        found.append(
            PlatformError(
                code=int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
                title=str(item.get("title") or item.get("message") or "")[:300],
                details=str(data.get("details") or "")[:1000],
            )
        )
    return tuple(found)


def _raw(value: Any) -> Any:
    """An unknown object kept as data, unless it is too big to be worth keeping."""
    text = json.dumps(value, ensure_ascii=False)
    return value if len(text) <= MAX_RAW_CHARS else {"truncated": text[:MAX_RAW_CHARS]}


def _message(number: str, item: dict, profiles: dict[str, dict]) -> Event:
    wamid = str(item["id"])
    sender = _contact(item.get("from"), item.get("from_user_id"), profiles)
    if not sender.known:
        raise ValueError("message names no sender (neither from nor from_user_id)")
    sent_at = _time(item.get("timestamp"))
    kind = str(item.get("type") or "")
    body = item.get(kind) if isinstance(item.get(kind), dict) else {}
    if kind == "reaction":
        target = body.get("message_id")
        if not target:
            raise ValueError("reaction without message_id")
        return Reaction(number, wamid, sender, sent_at, str(target), body.get("emoji") or None)

    context = item.get("context") if isinstance(item.get("context"), dict) else {}
    errors = _errors(item.get("errors"))
    message_type, content, media = _content(kind, body, item)
    if context.get("forwarded") or context.get("frequently_forwarded"):
        content["forwarded"] = True
        content["frequently_forwarded"] = bool(context.get("frequently_forwarded"))
    if context.get("referred_product"):
        content["referred_product"] = _raw(context["referred_product"])
    if errors:
        content["errors"] = [error.as_dict() for error in errors]
    new_identity = None
    if message_type is MessageType.SYSTEM:
        # Before Graph API v12 the new number came as ``new_wa_id``; since, as ``wa_id``.
        new_wa_id = body.get("wa_id") or body.get("new_wa_id")
        new_identity = ContactRef(
            external_id=numbers.normalize(str(new_wa_id)) if new_wa_id else None,
            scoped_id=str(body["user_id"]) if body.get("user_id") else None,
        )
    return InboundMessage(
        channel=number,
        external_id=wamid,
        sender=sender,
        sent_at=sent_at,
        type=message_type,
        content=content,
        media=media,
        reply_to=str(context["id"]) if context.get("id") else None,
        errors=errors,
        new_identity=new_identity,
    )


def _content(kind: str, body: dict, item: dict) -> tuple[MessageType, dict, MediaRef | None]:
    if kind == "text" and isinstance(body.get("body"), str):
        content = {"body": body["body"]}
        if isinstance(item.get("referral"), dict):
            content["referral"] = _raw(item["referral"])
        return MessageType.TEXT, content, None
    if kind in MEDIA_KINDS and body.get("id"):
        media = MediaRef(
            media_id=str(body["id"]),
            mime_type=_text(body.get("mime_type"), 120),
            sha256=_text(body.get("sha256"), 128),
            filename=_text(body.get("filename"), 255),
        )
        content = {
            key: body[key]
            for key in ("caption", "filename", "voice", "animated")
            if body.get(key) not in (None, "")
        }
        return MessageType(kind), content, media
    if kind == "location" and "latitude" in body and "longitude" in body:
        content = {"latitude": float(body["latitude"]), "longitude": float(body["longitude"])}
        content.update({k: str(body[k]) for k in ("name", "address", "url") if body.get(k)})
        return MessageType.LOCATION, content, None
    if kind == "contacts" and _dicts(item.get("contacts")):
        return MessageType.CONTACTS, {"cards": _raw(_dicts(item["contacts"]))}, None
    if kind == "interactive":
        reply_kind = body.get("type")
        reply = body.get(reply_kind) if isinstance(body.get(reply_kind), dict) else None
        if reply_kind in INTERACTIVE and reply is not None:
            return INTERACTIVE[reply_kind], _interactive(reply_kind, reply), None
    if kind == "button" and body:
        return (
            MessageType.TEMPLATE_BUTTON,
            {"payload": str(body.get("payload") or ""), "text": str(body.get("text") or "")},
            None,
        )
    if kind == "order" and body:
        return (
            MessageType.ORDER,
            {
                "catalog_id": str(body.get("catalog_id") or ""),
                "text": str(body.get("text") or ""),
                "items": _raw(_dicts(body.get("product_items"))),
            },
            None,
        )
    if kind == "system" and body:
        return (
            MessageType.SYSTEM,
            {
                "body": str(body.get("body") or ""),
                "kind": str(body.get("type") or ""),
            },
            None,
        )
    # Unsupported, unknown, or a known type whose body is missing: kept and shown as such.
    unsupported = body.get("type") if kind == "unsupported" else kind
    return MessageType.UNSUPPORTED, {"kind": str(unsupported or "unknown"), "raw": _raw(item)}, None


def _interactive(kind: str, reply: dict) -> dict:
    if kind == "nfm_reply":
        raw = reply.get("response_json")
        try:
            response = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            response = raw
        return {
            "name": str(reply.get("name") or ""),
            "body": str(reply.get("body") or ""),
            "response": _raw(response),
        }
    content = {"id": str(reply.get("id") or ""), "title": str(reply.get("title") or "")}
    if reply.get("description"):
        content["description"] = str(reply["description"])
    return content


def _status(number: str, item: dict) -> StatusUpdate | Ignored:
    status = STATUSES.get(str(item.get("status")))
    if status is None:
        return Ignored(number, f"status {item.get('status')!r}")
    recipient = None
    if item.get("recipient_id") or item.get("recipient_user_id"):
        wa_id = numbers.normalize(str(item.get("recipient_id") or "")) or None
        user_id = item.get("recipient_user_id")
        recipient = ContactRef(external_id=wa_id, scoped_id=str(user_id) if user_id else None)
    return StatusUpdate(
        channel=number,
        message_id=str(item["id"]),
        status=status,
        at=_time(item.get("timestamp")),
        recipient=recipient,
        errors=_errors(item.get("errors")),
        reference=_text(item.get("biz_opaque_callback_data"), 512),
    )


def _template_status(entry: dict, value: dict) -> Event:
    name, event = value.get("message_template_name"), value.get("event")
    if not name or not event:
        return Ignored(None, "message_template_status_update", problem="no template name/event")
    template_id = value.get("message_template_id")
    return TemplateStatusUpdate(
        account=str(entry.get("id") or ""),
        template_id=str(template_id) if template_id is not None else None,
        name=str(name),
        language=normalize_language(str(value.get("message_template_language") or "")),
        status=str(event).upper(),
        reason=_text(value.get("reason"), 300),
        category=_text(value.get("message_template_category"), 40),
        at=_time(entry.get("time")),
    )


def normalize_language(code: str) -> str:
    """Meta writes ``en_US`` in templates and sometimes ``en-US`` in webhooks."""
    return code.replace("-", "_")
