"""Meta's rules for a message template, and the requests that submit or edit it (reference §6).

A draft comes from PyTake's editor as plain values; ``check`` returns it cleaned or raises
the first broken rule, so Meta's review is never spent on a template it would refuse.
``draft_of`` reads a stored template back into those values, for editing.
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
# "none" and "text" carry no file; the others need an example file, uploaded with Meta's
# Resumable Upload API, whose handle Meta reviews.
HEADER_FORMATS = ("none", "text", "image", "video", "document")
_MB = 1024 * 1024
# What the Resumable Upload API accepts for each media header, and Meta's size limits.
EXAMPLE_FILES: dict[str, tuple[tuple[str, ...], int]] = {
    "image": (("image/jpeg", "image/png"), 5 * _MB),
    "video": (("video/mp4",), 16 * _MB),
    "document": (("application/pdf",), 100 * _MB),
}
_BUTTON_TYPES = {"QUICK_REPLY": "quick_reply", "URL": "url", "PHONE_NUMBER": "phone"}


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
    header_format = draft.get("header_format") or "text"
    if header_format not in HEADER_FORMATS:
        raise AccessError("template_draft.bad_header")
    header = _text(draft.get("header"), "header", MAX_HEADER) if header_format == "text" else ""
    header_names, header_examples = _variables(header, "header", draft.get("examples"))
    if len(header_names) > 1:
        raise AccessError("template_draft.header_one_variable")
    handle = _header_example(header_format, draft) if header_format in EXAMPLE_FILES else ""
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
        "header_format": header_format,
        "header": header,
        "header_handle": handle,  # empty: the example file is still to be uploaded
        "body": body,
        "footer": footer,
        "examples": {"header": header_examples, "body": body_examples},
        "named": bool(named),
        "buttons": _buttons(draft.get("buttons")),
    }


def _header_example(kind: str, draft: dict) -> str:
    """A media header's example: a new file (``header_example``: its type and size, checked
    here before it is uploaded) or, when editing, the handle the template already has."""
    example = draft.get("header_example")
    if isinstance(example, dict):
        mime = example.get("mime")
        check_example(kind, mime if isinstance(mime, str) else "", example.get("size"))
        return ""
    handle = draft.get("header_handle")
    if isinstance(handle, str) and handle.strip():
        return handle.strip()
    raise AccessError("template_draft.example_file_missing", kind=Term(f"template_field.{kind}"))


def check_example(kind: str, mime: str, size: object) -> None:
    """An example file for a media header of ``kind``, refused before anything is uploaded."""
    types, limit = EXAMPLE_FILES[kind]
    if mime.split(";")[0].strip().lower() not in types:
        names = ", ".join(t.rsplit("/", 1)[-1].upper() for t in types)
        raise AccessError(
            "template_draft.example_type", kind=Term(f"template_field.{kind}"), types=names
        )
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise AccessError("send.file_empty")
    if size > limit:
        raise AccessError("send.file_too_large", limit_mb=round(limit / _MB, 1))


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
    """``POST /{waba-id}/message_templates`` for a checked draft (a media header's
    ``header_handle`` set by then)."""
    return {
        "name": draft["name"],
        "language": draft["language"],
        "category": draft["category"].upper(),
        "parameter_format": "NAMED" if draft["named"] else "POSITIONAL",
        "components": components(draft),
    }


def edit_body(draft: dict, *, category: bool) -> dict:
    """``POST /{template-id}``: the components, and the category only when it changes (Meta
    keeps an approved template's category)."""
    body: dict = {"components": components(draft)}
    if category:
        body["category"] = draft["category"].upper()
    return body


def components(draft: dict) -> list[dict]:
    """A checked draft's components as Meta documents them."""
    parts: list[dict] = []
    named = draft["named"]
    if draft["header_format"] in EXAMPLE_FILES:
        parts.append(
            {
                "type": "HEADER",
                "format": draft["header_format"].upper(),
                "example": {"header_handle": [draft["header_handle"]]},
            }
        )
    elif draft["header"]:
        header = {"type": "HEADER", "format": "TEXT", "text": draft["header"]}
        parts.append(_with_example(header, "header", draft["examples"]["header"], named))
    body = {"type": "BODY", "text": draft["body"]}
    parts.append(_with_example(body, "body", draft["examples"]["body"], named))
    if draft["footer"]:
        parts.append({"type": "FOOTER", "text": draft["footer"]})
    if draft["buttons"]:
        parts.append({"type": "BUTTONS", "buttons": [_button(b) for b in draft["buttons"]]})
    return parts


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


# The editor's values of a template with nothing in it yet (besides name and language).
EMPTY_DRAFT = {
    "header_format": "none",
    "header": "",
    "header_handle": "",
    "body": "",
    "footer": "",
    "examples": {},
    "buttons": [],
}


def draft_of(stored: list) -> dict:
    """A stored template's components as the editor's values: the inverse of ``components``.

    Parts the editor does not offer (a location header, a flow or catalog button…) raise,
    so an edit never drops them silently."""
    draft: dict = {**EMPTY_DRAFT, "examples": {}, "buttons": []}
    for component in stored:
        kind = str(component.get("type", "")).upper() if isinstance(component, dict) else ""
        example = component.get("example") if isinstance(component, dict) else None
        example = example if isinstance(example, dict) else {}
        if kind == "HEADER":
            header_format = str(component.get("format") or "TEXT").lower()
            if header_format not in HEADER_FORMATS:
                raise AccessError("template.edit_unsupported")
            draft["header_format"] = header_format
            if header_format == "text":
                draft["header"] = str(component.get("text") or "")
                _examples_of(draft, draft["header"], example, "header")
            else:
                handles = example.get("header_handle") or [""]
                draft["header_handle"] = str(handles[0])
        elif kind == "BODY":
            draft["body"] = str(component.get("text") or "")
            _examples_of(draft, draft["body"], example, "body")
        elif kind == "FOOTER":
            draft["footer"] = str(component.get("text") or "")
        elif kind == "BUTTONS":
            draft["buttons"] = [_button_of(b) for b in component.get("buttons") or []]
        else:
            raise AccessError("template.edit_unsupported")
    return draft


def _examples_of(draft: dict, text: str, example: dict, part: str) -> None:
    """Meta's example shapes back into the editor's examples, keyed by variable."""
    for pair in example.get(f"{part}_text_named_params") or []:
        if isinstance(pair, dict) and pair.get("param_name"):
            draft["examples"].setdefault(str(pair["param_name"]), str(pair.get("example") or ""))
    values = example.get(f"{part}_text") or []
    if part == "body" and values and isinstance(values[0], list):
        values = values[0]
    names = list(dict.fromkeys(VARIABLE.findall(text)))
    for name, value in zip(names, values, strict=False):
        draft["examples"].setdefault(name, str(value))


def _button_of(button: object) -> dict:
    kind = str(button.get("type", "")).upper() if isinstance(button, dict) else ""
    entry = {"type": "", "text": "", "url": "", "phone": "", "example": ""}
    if kind == "COPY_CODE":
        example = button.get("example")
        return {**entry, "type": "copy_code", "example": str(_first(example))}
    if kind not in _BUTTON_TYPES:
        raise AccessError("template.edit_unsupported")
    entry.update(type=_BUTTON_TYPES[kind], text=str(button.get("text") or ""))
    if kind == "URL":
        entry.update(url=str(button.get("url") or ""), example=str(_first(button.get("example"))))
    elif kind == "PHONE_NUMBER":
        entry["phone"] = str(button.get("phone_number") or "")
    return entry


def _first(value: object) -> object:
    if isinstance(value, list):
        return value[0] if value else ""
    return value or ""
