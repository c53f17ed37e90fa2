"""Meta's rules for a new message template, and the request that submits it (reference §6).

A draft comes from PyTake's editor as plain values; ``check`` returns it cleaned or raises
the first broken rule, so Meta's review is never spent on a template it would refuse.
"""

from __future__ import annotations

import itertools
import re

from pytake.auth.errors import AccessError
from pytake.i18n import Term

CATEGORIES = ("marketing", "utility", "authentication")
LANGUAGES = ("pt_BR", "en_US", "en_GB", "es", "es_MX", "es_AR", "pt_PT", "fr", "de", "it")
NAME = re.compile(r"^[a-z0-9_]{1,512}$")
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MAX_HEADER, MAX_BODY, MAX_FOOTER = 60, 1024, 60
MAX_BUTTON_TEXT, MAX_URL, MAX_CODE = 25, 2000, 15
MAX_BUTTONS = 10
BUTTON_LIMITS = {"url": 2, "phone": 1, "copy_code": 1}
PHONE = re.compile(r"^\+[1-9][0-9]{6,19}$")


def _text(value: object, field: str, limit: int, *, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise AccessError("template_draft.required", field=Term(f"template_field.{field}"))
    if len(text) > limit:
        raise AccessError(
            "template_draft.too_long", field=Term(f"template_field.{field}"), limit=limit
        )
    return text


def _variables(text: str, field: str, examples: object) -> tuple[list[str], dict[str, str]]:
    """The text's variables in order, all numbered 1..n or all named, each with an example."""
    names = list(dict.fromkeys(VARIABLE.findall(text)))
    if not names:
        return [], {}
    numbered = [n.isdigit() for n in names]
    if any(numbered) and not all(numbered):
        raise AccessError("template_draft.mixed_variables")
    if all(numbered) and sorted(int(n) for n in names) != list(range(1, len(names) + 1)):
        raise AccessError("template_draft.variables_in_sequence")
    if any(not n.isdigit() and not re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names):
        raise AccessError("template_draft.variable_name")
    stripped = VARIABLE.sub("", text).strip()
    if field == "body" and (
        not stripped or VARIABLE.match(text.strip()) or re.search(r"\}\}\s*$", text)
    ):
        raise AccessError("template_draft.variable_at_edge")
    given = examples if isinstance(examples, dict) else {}
    cleaned = {}
    for name in names:
        example = given.get(name)
        if not isinstance(example, str) or not example.strip():
            raise AccessError(
                "template_draft.example_missing",
                field=Term(f"template_field.{field}"),
                variable=name,
            )
        cleaned[name] = _text(example, "example", 200)
    return names, cleaned


def check(draft: object) -> dict:
    if not isinstance(draft, dict):
        raise AccessError("template_draft.required", field=Term("template_field.template"))
    name = _text(draft.get("name"), "name", 512, required=True)
    if not NAME.match(name):
        raise AccessError("template_draft.bad_name")
    category = draft.get("category")
    if category not in CATEGORIES:
        raise AccessError("template_draft.bad_category")
    language = draft.get("language")
    if language not in LANGUAGES:
        raise AccessError("template_draft.bad_language")
    header = _text(draft.get("header"), "header", MAX_HEADER)
    header_names, header_examples = _variables(header, "header", draft.get("examples"))
    if len(header_names) > 1:
        raise AccessError("template_draft.header_one_variable")
    body = _text(draft.get("body"), "body", MAX_BODY, required=True)
    body_names, body_examples = _variables(body, "body", draft.get("examples"))
    footer = _text(draft.get("footer"), "footer", MAX_FOOTER)
    if VARIABLE.search(footer):
        raise AccessError("template_draft.footer_variables")
    named = [n for n in header_names + body_names if not n.isdigit()]
    if named and len(named) != len(header_names + body_names):
        raise AccessError("template_draft.mixed_variables")
    return {
        "name": name,
        "category": category,
        "language": language,
        "header": header,
        "body": body,
        "footer": footer,
        "examples": {"header": header_examples, "body": body_examples},
        "named": bool(named),
        "buttons": _buttons(draft.get("buttons")),
    }


def _buttons(buttons: object) -> list[dict]:
    if buttons in (None, []):
        return []
    if not isinstance(buttons, list) or len(buttons) > MAX_BUTTONS:
        raise AccessError("template_draft.too_many_buttons", limit=MAX_BUTTONS)
    cleaned, counts = [], {}
    for button in buttons:
        kind = button.get("type") if isinstance(button, dict) else None
        if kind not in ("quick_reply", "url", "phone", "copy_code"):
            raise AccessError("template_draft.bad_button")
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] > BUTTON_LIMITS.get(kind, MAX_BUTTONS):
            raise AccessError("template_draft.button_limit", kind=kind, limit=BUTTON_LIMITS[kind])
        entry = {"type": kind}
        if kind != "copy_code":
            entry["text"] = _text(button.get("text"), "button", MAX_BUTTON_TEXT, required=True)
        if kind == "url":
            url = _text(button.get("url"), "url", MAX_URL, required=True)
            if not url.startswith("https://"):
                raise AccessError("template_draft.bad_url")
            names = VARIABLE.findall(url)
            if len(names) > 1 or (names and not re.search(r"\{\{\s*1\s*\}\}$", url)):
                raise AccessError("template_draft.url_variable")
            entry["url"] = url
            if names:
                entry["example"] = _text(button.get("example"), "example", 200, required=True)
        elif kind == "phone":
            phone = re.sub(r"[\s()-]", "", str(button.get("phone") or ""))
            if not PHONE.match(phone):
                raise AccessError("template_draft.bad_phone")
            entry["phone"] = phone
        elif kind == "copy_code":
            entry["example"] = _text(button.get("example"), "code", MAX_CODE, required=True)
        cleaned.append(entry)
    grouping = [b["type"] == "quick_reply" for b in cleaned]
    if sum(a != b for a, b in itertools.pairwise(grouping)) > 1:
        raise AccessError("template_draft.quick_replies_together")  # Meta keeps them grouped
    return cleaned


def create_body(draft: dict) -> dict:
    """``POST /{waba-id}/message_templates`` for a checked draft."""
    components: list[dict] = []
    named = draft["named"]
    if draft["header"]:
        header = {"type": "HEADER", "format": "TEXT", "text": draft["header"]}
        components.append(_with_example(header, "header", draft["examples"]["header"], named))
    body = {"type": "BODY", "text": draft["body"]}
    components.append(_with_example(body, "body", draft["examples"]["body"], named))
    if draft["footer"]:
        components.append({"type": "FOOTER", "text": draft["footer"]})
    if draft["buttons"]:
        components.append({"type": "BUTTONS", "buttons": [_button(b) for b in draft["buttons"]]})
    return {
        "name": draft["name"],
        "language": draft["language"],
        "category": draft["category"].upper(),
        "parameter_format": "NAMED" if named else "POSITIONAL",
        "components": components,
    }


def _with_example(component: dict, part: str, examples: dict[str, str], named: bool) -> dict:
    """Meta's example shapes: named pairs, or the values in variable order (a body's as
    one list inside a list, a header's as a list)."""
    if not examples:
        return component
    if named:
        pairs = [{"param_name": k, "example": v} for k, v in examples.items()]
        return {**component, "example": {f"{part}_text_named_params": pairs}}
    values = [examples[str(n)] for n in range(1, len(examples) + 1)]
    return {**component, "example": {f"{part}_text": [values] if part == "body" else values}}


def _button(button: dict) -> dict:
    kind = button["type"]
    if kind == "quick_reply":
        return {"type": "QUICK_REPLY", "text": button["text"]}
    if kind == "url":
        shaped = {"type": "URL", "text": button["text"], "url": button["url"]}
        if "example" in button:
            shaped["example"] = [button["example"]]
        return shaped
    if kind == "phone":
        return {"type": "PHONE_NUMBER", "text": button["text"], "phone_number": button["phone"]}
    return {"type": "COPY_CODE", "example": button["example"]}
