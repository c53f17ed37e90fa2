"""What a customer's phone shows: each message of a sandbox chat as one plain dict for the
phone page (text, media, buttons and list rows to tap, the quoted message, reactions)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from pytake.sandbox.live import Entry

# name, language → the template as Meta stores it (None: unknown)
TemplateLookup = Callable[[str, str], dict | None]
MEDIA = ("image", "video", "audio", "document", "sticker")
PICTURES = ("image", "sticker")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def lines(entries: list[Entry], templates: TemplateLookup) -> list[dict]:
    by_id = {entry.wamid: entry for entry in entries}
    shown = []
    for entry in entries:
        line = _blank(entry)
        line.update(_content(entry, templates))
        quoted = by_id.get(((entry.message.get("context") or {}).get("id")) or "")
        if quoted is not None:
            line["quote"] = _summary(quoted, templates)
        shown.append(line)
    return shown


def _blank(entry: Entry) -> dict:
    at = dt.datetime.fromtimestamp(entry.at, dt.UTC)
    return {
        "wamid": entry.wamid,
        "mine": entry.from_customer,
        "kind": "text",
        "header": "",
        "text": "",
        "footer": "",
        "media": "",
        "buttons": [],
        "quote": "",
        "reaction": entry.reaction or "",
        "status": entry.status,
        "media_id": "",
        "src": "",
        "error": str(entry.error or ""),
        "time": at.strftime("%H:%M"),
    }


def _summary(entry: Entry, templates: TemplateLookup) -> str:
    line = _content(entry, templates)
    return (line.get("text") or line.get("media") or line.get("header") or line["kind"])[:120]


def _content(entry: Entry, templates: TemplateLookup) -> dict:
    """One shape for both sides: a customer's webhook message and a business's Graph send
    both keep their content under their type."""
    kind = entry.message.get("type", "")
    content = entry.message.get(kind) or {}
    if kind == "text":
        return {"text": content.get("body", "")}
    if kind in MEDIA:
        return _media(kind, content)
    if kind == "location":
        return {"kind": kind, "media": _place(content)}
    if kind == "contacts":
        return {"kind": kind, "media": _cards(content)}
    if kind == "interactive" and entry.from_customer:  # the customer's choice
        reply = content.get("button_reply") or content.get("list_reply") or {}
        return {"text": reply.get("title", "")}
    if kind == "interactive":
        return _interactive(content)
    if kind == "button":
        return {"text": content.get("text", "")}
    if kind == "template":
        return _template(content, templates)
    return {"kind": kind, "text": kind}


def _media(kind: str, content: dict) -> dict:
    """The page names the kind (a voice note is audio recorded in the app) and the file."""
    kind = "voice" if kind == "audio" and content.get("voice") else kind
    return {
        "kind": kind,
        "media": content.get("filename", ""),
        "text": content.get("caption", ""),
        "media_id": str(content.get("id") or ""),
        "src": str(content.get("link") or "") if kind in PICTURES else "",
    }


def _place(content: dict) -> str:
    where = ", ".join(str(part) for part in (content.get("name"), content.get("address")) if part)
    coordinates = f"{content.get('latitude', '')}, {content.get('longitude', '')}"
    return f"{where} ({coordinates})" if where else coordinates


def _cards(cards: object) -> str:
    cards = [card for card in cards if isinstance(card, dict)] if isinstance(cards, list) else []
    names = [((card.get("name") or {}).get("formatted_name") or "") for card in cards]
    return ", ".join(name for name in names if name)


def _interactive(content: dict) -> dict:
    header = content.get("header") or {}
    shown = {
        "kind": "interactive",
        "header": header.get("text", "") if header.get("type") == "text" else "",
        "text": (content.get("body") or {}).get("text", ""),
        "footer": (content.get("footer") or {}).get("text", ""),
    }
    action = content.get("action") or {}
    buttons = []
    if content.get("type") == "button":
        for button in action.get("buttons") or []:
            reply = button.get("reply") or {}
            buttons.append(
                {"id": reply.get("id", ""), "title": reply.get("title", ""), "tap": "reply"}
            )
    elif content.get("type") == "list":
        for section in action.get("sections") or []:
            for row in section.get("rows") or []:
                buttons.append(
                    {"id": row.get("id", ""), "title": row.get("title", ""), "tap": "row"}
                )
    elif content.get("type") == "cta_url":
        params = action.get("parameters") or {}
        buttons.append(
            {"id": params.get("url", ""), "title": params.get("display_text", ""), "tap": "url"}
        )
    return shown | {"buttons": buttons}


def _template(content: dict, templates: TemplateLookup) -> dict:
    """The approved template with the send's parameters filled in, as the phone renders it."""
    name = content.get("name", "")
    language = (content.get("language") or {}).get("code", "")
    stored = templates(name, language) or {}
    values = {
        str(c.get("type", "")).lower(): c.get("parameters") or []
        for c in content.get("components") or []
    }
    shown = {"kind": "template", "text": name}
    payloads = [
        c
        for c in content.get("components") or []
        if str(c.get("sub_type", "")).lower() == "quick_reply"
    ]
    for component in stored.get("components") or []:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and component.get("format", "TEXT") == "TEXT":
            shown["header"] = _fill(component.get("text", ""), values.get("header", []))
        elif kind == "HEADER" and component.get("format") == "LOCATION":
            place = (values.get("header") or [{}])[0].get("location") or {}
            where = place.get("name") or f"{place.get('latitude')}, {place.get('longitude')}"
            shown["header"] = f"📍 {where}"
        elif kind == "LIMITED_TIME_OFFER":
            shown["header"] = "⏰ " + str((component.get("limited_time_offer") or {}).get("text"))
        elif kind == "HEADER":
            shown["media"] = str(component.get("format", "")).lower()
        elif kind == "BODY":
            shown["text"] = _fill(component.get("text", ""), values.get("body", []))
        elif kind == "FOOTER":
            shown["footer"] = component.get("text", "")
        elif kind == "BUTTONS":
            shown["buttons"] = [
                _template_button(index, button, payloads)
                for index, button in enumerate(component.get("buttons") or [])
            ]
        elif kind == "CAROUSEL":
            shown["text"] = "\n\n".join([shown["text"], *_carousel_lines(component, content)])
    return shown


def _carousel_lines(carousel: dict, content: dict) -> list[str]:
    """A carousel's cards as lines under the message: each card's text, filled in."""
    sent = next(
        (c for c in content.get("components") or [] if str(c.get("type")).lower() == "carousel"),
        {},
    )
    given = {c.get("card_index"): c.get("components") or [] for c in sent.get("cards") or []}
    shown = []
    for index, card in enumerate(carousel.get("cards") or []):
        values = {
            str(c.get("type", "")).lower(): c.get("parameters") or [] for c in given.get(index, [])
        }
        texts = [
            _fill(c.get("text", ""), values.get("body", []))
            for c in card.get("components") or []
            if str(c.get("type", "")).upper() == "BODY"
        ]
        shown.append(f"[{index + 1}] " + (" ".join(texts) or "🛍"))
    return shown


def _template_button(index: int, button: dict, payloads: list[dict]) -> dict:
    kind = str(button.get("type", "")).upper()
    title = button.get("text", "")
    if kind != "QUICK_REPLY":
        return {
            "id": button.get("url") or button.get("phone_number") or "",
            "title": title,
            "tap": "url",
        }
    given = next((c for c in payloads if str(c.get("index")) == str(index)), None)
    parameters = (given or {}).get("parameters") or [{}]
    return {"id": parameters[0].get("payload") or title, "title": title, "tap": "template"}


def _fill(text: str, parameters: list[dict]) -> str:
    """``{{1}}`` takes the first parameter, ``{{name}}`` the one with that parameter_name."""
    texts = [str(p.get("text", "")) for p in parameters]
    named = {
        str(p.get("parameter_name")): str(p.get("text", ""))
        for p in parameters
        if p.get("parameter_name")
    }

    def value(match: re.Match) -> str:
        key = match.group(1)
        if key.isdigit() and 0 < int(key) <= len(texts):
            return texts[int(key) - 1]
        return named.get(key, match.group(0))

    return _PLACEHOLDER.sub(value, text)
