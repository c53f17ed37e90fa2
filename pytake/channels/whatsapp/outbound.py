"""Outbound messages as Meta's ``/messages`` request bodies, and Meta's limits on them.

``check`` runs when an agent sends (so a bad draft is refused at once, with the reason) and
``body`` when the sender worker calls the API; both read the stored content shapes, which are
the same as for inbound messages where a type exists in both directions.
"""

from __future__ import annotations

import math
import re

from pytake.auth.errors import AccessError
from pytake.channels.base import MEDIA_TYPES, MessageType, OutboundMessage

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_LINK = 2000
MAX_FILENAME = 240
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_INTERACTIVE_BODY = 1024
MAX_LIST_BODY = 4096
MAX_FOOTER = 60
MAX_HEADER = 60
MAX_LIST_ROWS = 10
MAX_SECTIONS = 10
MAX_SECTION_TITLE = 24
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_CONTACT_CARDS = 10
MAX_TEMPLATE_PARAMETER = 1024
URL = re.compile(r"https?://\S+", re.IGNORECASE)
CAPTIONED = frozenset({MessageType.IMAGE, MessageType.VIDEO, MessageType.DOCUMENT})


def _text(content: dict, key: str, limit: int, *, required: bool = False) -> str:
    value = content.get(key)
    if value is None or value == "":
        if required:
            raise AccessError("send.field_required", field=key)
        return ""
    if not isinstance(value, str):
        raise AccessError("send.field_invalid", field=key)
    if len(value) > limit:
        raise AccessError("send.field_too_long", field=key, limit=limit)
    return value


def _ids_unique(items: list[dict], field: str) -> None:
    seen = [item[field] for item in items]
    if len(set(seen)) != len(seen):
        raise AccessError("send.duplicate_choice", field=field)


def _choices(items: object, *, limit: int, id_limit: int, title_limit: int, described: bool):
    if not isinstance(items, list) or not items:
        raise AccessError("send.field_required", field="options")
    checked = []
    for item in items:
        if not isinstance(item, dict):
            raise AccessError("send.field_invalid", field="options")
        row = {
            "id": _text(item, "id", id_limit, required=True),
            "title": _text(item, "title", title_limit, required=True),
        }
        if described and item.get("description"):
            row["description"] = _text(item, "description", MAX_ROW_DESCRIPTION)
        checked.append(row)
    if len(checked) > limit:
        raise AccessError("send.too_many_choices", limit=limit)
    return checked


def check(kind: str, content: dict) -> dict:
    """The content an agent composed, validated against Meta's rules and normalized."""
    if not isinstance(content, dict):
        raise AccessError("send.field_invalid", field="content")
    try:
        message_type = MessageType(kind)
    except ValueError:
        raise AccessError("send.type_unsupported", kind=str(kind)[:40]) from None
    if message_type is MessageType.TEXT:
        body = _text(content, "body", MAX_TEXT, required=True)
        if not body.strip():
            raise AccessError("send.field_required", field="body")
        return {"body": body, "preview_url": bool(URL.search(body))}
    if message_type in MEDIA_TYPES:
        checked: dict = {}
        if message_type in CAPTIONED and content.get("caption"):
            checked["caption"] = _text(content, "caption", MAX_CAPTION)
        if message_type is MessageType.DOCUMENT and content.get("filename"):
            checked["filename"] = _text(content, "filename", MAX_FILENAME)
        if message_type is MessageType.AUDIO and content.get("voice"):
            checked["voice"] = True
        if content.get("link"):  # a public file WhatsApp fetches itself (chatbot flows)
            link = _text(content, "link", MAX_LINK)
            if not link.startswith("https://"):
                raise AccessError("send.field_invalid", field="link")
            checked["link"] = link
        return checked
    if message_type is MessageType.LOCATION:
        return _location(content)
    if message_type is MessageType.CONTACTS:
        return {"cards": _cards(content.get("cards"))}
    if message_type is MessageType.INTERACTIVE:
        return _interactive(content)
    if message_type is MessageType.REACTION:
        emoji = content.get("emoji") or None
        if emoji is not None and (not isinstance(emoji, str) or len(emoji) > 16):
            raise AccessError("send.field_invalid", field="emoji")
        return {"emoji": emoji, "target": _text(content, "target", 160, required=True)}
    if message_type is MessageType.TEMPLATE:
        return _template(content)
    raise AccessError("send.type_unsupported", kind=message_type.value)


def _location(content: dict) -> dict:
    try:
        latitude, longitude = float(content["latitude"]), float(content["longitude"])
    except (KeyError, TypeError, ValueError):
        raise AccessError("send.field_invalid", field="latitude/longitude") from None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise AccessError("send.field_invalid", field="latitude/longitude")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise AccessError("send.field_invalid", field="latitude/longitude")
    checked = {"latitude": latitude, "longitude": longitude}
    for key in ("name", "address"):
        if content.get(key):
            checked[key] = _text(content, key, 1000)
    return checked


def _cards(cards: object) -> list[dict]:
    if not isinstance(cards, list) or not cards:
        raise AccessError("send.field_required", field="cards")
    if len(cards) > MAX_CONTACT_CARDS:
        raise AccessError("send.too_many_choices", limit=MAX_CONTACT_CARDS)
    checked = []
    for card in cards:
        if not isinstance(card, dict) or not isinstance(card.get("name"), dict):
            raise AccessError("send.field_invalid", field="cards")
        name = _text(card["name"], "formatted_name", 200, required=True)
        phones = [
            {"phone": _text(p, "phone", 40, required=True), "type": str(p.get("type") or "CELL")}
            | ({"wa_id": str(p["wa_id"])[:32]} if p.get("wa_id") else {})
            for p in card.get("phones") or []
            if isinstance(p, dict)
        ]
        emails = [
            {"email": _text(e, "email", 200, required=True), "type": str(e.get("type") or "WORK")}
            for e in card.get("emails") or []
            if isinstance(e, dict)
        ]
        if not phones and not emails:
            raise AccessError("send.field_required", field="phones")
        first = card["name"].get("first_name") or name.split(" ", 1)[0]
        checked.append(
            {
                "name": {"formatted_name": name, "first_name": str(first)[:100]},
                "phones": phones,
                "emails": emails,
            }
        )
    return checked


def _interactive(content: dict) -> dict:
    kind = content.get("kind")
    checked: dict = {"kind": kind}
    if content.get("header"):
        checked["header"] = _text(content, "header", MAX_HEADER)
    if content.get("footer"):
        checked["footer"] = _text(content, "footer", MAX_FOOTER)
    if kind == "button":
        checked["body"] = _text(content, "body", MAX_INTERACTIVE_BODY, required=True)
        checked["buttons"] = _choices(
            content.get("buttons"),
            limit=MAX_BUTTONS,
            id_limit=MAX_BUTTON_ID,
            title_limit=MAX_BUTTON_TITLE,
            described=False,
        )
        _ids_unique(checked["buttons"], "id")
        _ids_unique(checked["buttons"], "title")
        return checked
    if kind == "list":
        checked["body"] = _text(content, "body", MAX_LIST_BODY, required=True)
        checked["button"] = _text(content, "button", MAX_BUTTON_TITLE, required=True)
        sections = content.get("sections")
        if not isinstance(sections, list) or not sections or len(sections) > MAX_SECTIONS:
            raise AccessError("send.too_many_choices", limit=MAX_SECTIONS)
        checked["sections"] = []
        for section in sections:
            if not isinstance(section, dict):
                raise AccessError("send.field_invalid", field="sections")
            rows = _choices(
                section.get("rows"),
                limit=MAX_LIST_ROWS,
                id_limit=MAX_ROW_ID,
                title_limit=MAX_ROW_TITLE,
                described=True,
            )
            entry = {"rows": rows}
            if section.get("title"):
                entry["title"] = _text(section, "title", MAX_SECTION_TITLE)
            checked["sections"].append(entry)
        rows = [row for section in checked["sections"] for row in section["rows"]]
        if len(rows) > MAX_LIST_ROWS:
            raise AccessError("send.too_many_choices", limit=MAX_LIST_ROWS)
        if len(checked["sections"]) > 1 and any("title" not in s for s in checked["sections"]):
            raise AccessError("send.field_required", field="sections.title")
        _ids_unique(rows, "id")
        return checked
    raise AccessError("send.field_invalid", field="kind")


def _template(content: dict) -> dict:
    name = _text(content, "name", 512, required=True)
    language = _text(content, "language", 20, required=True)
    components = content.get("components") or []
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise AccessError("send.field_invalid", field="components")
    for component in components:
        for parameter in component.get("parameters") or []:
            text = parameter.get("text") if isinstance(parameter, dict) else None
            if text is not None and (not isinstance(text, str) or not text.strip()):
                # Meta's 132008: an empty parameter is the commonest template failure.
                raise AccessError("send.template_parameter_empty")
            if isinstance(text, str) and len(text) > MAX_TEMPLATE_PARAMETER:
                raise AccessError("send.field_too_long", field="parameter", limit=1024)
    checked = {"name": name, "language": language.replace("-", "_"), "components": components}
    if isinstance(content.get("preview"), str):
        checked["preview"] = content["preview"][:MAX_TEXT]
    buttons = content.get("buttons")
    if isinstance(buttons, list):  # shown under the sent bubble, never sent to Meta
        checked["buttons"] = [str(b)[: MAX_BUTTON_TITLE * 2] for b in buttons[:10]]
    return checked


# Request bodies ------------------------------------------------------------------------------


def _with_header_file(components: list, media_id: str | None) -> list:
    """A template whose header media was given as a file: the uploaded file's id in place."""
    if not media_id:
        return components
    filled = []
    for component in components:
        if component.get("type") == "header":
            parameters = [
                {**p, p["type"]: {"id": media_id}}
                if p.get("type") in ("image", "video", "document")
                and not (p.get(p["type"]) or {}).get("link")
                else p
                for p in component.get("parameters") or []
            ]
            component = {**component, "parameters": parameters}
        filled.append(component)
    return filled


def body(message: OutboundMessage) -> dict:
    """The JSON for ``POST /{phone-number-id}/messages``."""
    request: dict = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if message.to.external_id:
        request["to"] = f"+{message.to.external_id}"
    else:
        request["recipient"] = message.to.scoped_id
    kind = MessageType(message.type)
    request["type"] = kind.value
    request[kind.value] = _payload(kind, message)
    if message.reply_to and kind is not MessageType.REACTION:
        request["context"] = {"message_id": message.reply_to}
    if message.reference:
        request["biz_opaque_callback_data"] = message.reference
    return request


def _payload(kind: MessageType, message: OutboundMessage) -> dict | list:
    content = message.content
    if kind is MessageType.TEXT:
        return {"preview_url": bool(content.get("preview_url")), "body": content["body"]}
    if kind in MEDIA_TYPES:
        payload: dict = {"id": message.media_id} if message.media_id else {"link": content["link"]}
        for key in ("caption", "filename"):
            if content.get(key):
                payload[key] = content[key]
        if kind is MessageType.AUDIO and content.get("voice"):
            payload["voice"] = True
        return payload
    if kind is MessageType.LOCATION:
        keys = ("latitude", "longitude", "name", "address")
        return {key: content[key] for key in keys if key in content}
    if kind is MessageType.CONTACTS:
        return content["cards"]
    if kind is MessageType.INTERACTIVE:
        return _interactive_payload(content)
    if kind is MessageType.REACTION:
        return {"message_id": content["target"], "emoji": content.get("emoji") or ""}
    if kind is MessageType.TEMPLATE:
        return {
            "name": content["name"],
            "language": {"code": content["language"]},
            "components": _with_header_file(content.get("components") or [], message.media_id),
        }
    raise ValueError(f"cannot send a {kind.value} message")


def _interactive_payload(content: dict) -> dict:
    payload: dict = {"type": content["kind"], "body": {"text": content["body"]}}
    if content.get("header"):
        payload["header"] = {"type": "text", "text": content["header"]}
    if content.get("footer"):
        payload["footer"] = {"text": content["footer"]}
    if content["kind"] == "button":
        payload["action"] = {
            "buttons": [
                {"type": "reply", "reply": {"id": b["id"], "title": b["title"]}}
                for b in content["buttons"]
            ]
        }
    else:
        payload["action"] = {"button": content["button"], "sections": content["sections"]}
    return payload
