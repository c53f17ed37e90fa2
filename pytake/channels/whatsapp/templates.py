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
BUTTON_KINDS = (
    "quick_reply",
    "url",
    "phone",
    "voice_call",
    "copy_code",
    "flow",
    "catalog",
    "mpm",
    "spm",
)
BUTTON_LIMITS = {
    "url": 2,
    "phone": 1,
    "voice_call": 1,
    "copy_code": 1,
    "flow": 1,
    "catalog": 1,
    "mpm": 1,
    "spm": 1,
}
# A catalog, multi-product or product button is the template's only button (Meta's product
# templates); a product button goes with a product header, which shows one catalog item.
ONLY_BUTTON = ("catalog", "mpm", "spm")
PHONE = re.compile(r"^\+[1-9][0-9]{6,19}$")
FLOW_ID = re.compile(r"^[0-9]{1,20}$")
SCREEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# "none", "text", "location" and "product" carry no file (the place or the catalog item is
# given at each send); the others need an example file, uploaded with Meta's Resumable
# Upload API, whose handle Meta reviews.
HEADER_FORMATS = ("none", "text", "image", "video", "document", "location", "product")
# Authentication templates: Meta's preset text, a code, and a one-time-password button.
OTP_TYPES = ("copy_code", "one_tap", "zero_tap")
MAX_EXPIRY = 90  # minutes "This code expires in N minutes" may say
PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
SIGNATURE = re.compile(r"^[A-Za-z0-9+/]{11}$")  # the app's SMS Retriever hash
# Meta's English wording of an authentication template (it writes each language's own).
AUTH_CODE = "{{1}} is your verification code."
AUTH_SECURITY = " For your security, do not share this code."
AUTH_EXPIRY = "This code expires in {minutes} minutes."
EXAMPLE_CODE = "123456"
# Carousels: 2 to 10 cards, the same kinds in the same order on every card. Media cards show
# an image or video, their own text and one or two buttons; product cards show a catalog
# item (its picture, name and price come from the catalog) and one button: view it, or a link.
MIN_CARDS, MAX_CARDS, MAX_CARD_BODY, MAX_CARD_BUTTONS = 2, 10, 160, 2
CARD_FORMATS = ("image", "video", "product")
CARD_BUTTONS = ("quick_reply", "url", "phone")
PRODUCT_CARD_BUTTONS = ("spm", "url")
# Limited-time offers: marketing only, no footer, at most 600 characters of body.
MAX_OFFER, MAX_OFFER_BODY = 16, 600
_MB = 1024 * 1024
# What the Resumable Upload API accepts for each media header, and Meta's size limits.
EXAMPLE_FILES: dict[str, tuple[tuple[str, ...], int]] = {
    "image": (("image/jpeg", "image/png"), 5 * _MB),
    "video": (("video/mp4",), 16 * _MB),
    "document": (("application/pdf",), 100 * _MB),
}
_BUTTON_TYPES = {
    "QUICK_REPLY": "quick_reply",
    "URL": "url",
    "PHONE_NUMBER": "phone",
    "FLOW": "flow",
    "CATALOG": "catalog",
    "MPM": "mpm",
    "SPM": "spm",
    "VOICE_CALL": "voice_call",
}


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
    if category == "authentication":
        auth = _authentication(draft.get("auth"))
        return {
            **EMPTY_CHECKED,
            "name": name,
            "category": category,
            "language": language,
            "auth": auth,
        }
    header_format = draft.get("header_format") or "text"
    if header_format not in HEADER_FORMATS:
        raise AccessError("template_draft.bad_header")
    header = _text(draft.get("header"), "header", MAX_HEADER) if header_format == "text" else ""
    header_format = "none" if header_format == "text" and not header else header_format
    header_names, header_examples = _variables(header, "header", draft.get("examples"))
    if len(header_names) > 1:
        raise AccessError("template_draft.header_one_variable")
    handle = _header_example(header_format, draft) if header_format in EXAMPLE_FILES else ""
    body = _text(draft.get("body"), "body", MAX_BODY, required=True)
    body_names, body_examples = _variables(body, "body", draft.get("examples"))
    footer = _text(draft.get("footer"), "footer", MAX_FOOTER)
    if VARIABLE.search(footer):
        raise AccessError("template_draft.footer_variables")
    buttons = _buttons(draft.get("buttons"))
    carousel = _carousel(draft.get("carousel"), category, header_format, footer, buttons)
    cards = [name for card in (carousel or {}).get("cards", []) for name in card["examples"]]
    every = header_names + body_names + cards  # one parameter format for the whole template
    named = [n for n in every if not n.isdigit()]
    if named and len(named) != len(every):
        raise AccessError("template_draft.mixed_variables")
    kinds = {b["type"] for b in buttons}
    if kinds & set(ONLY_BUTTON) and len(buttons) > 1:
        raise AccessError("template_draft.product_button_alone")
    if "catalog" in kinds and (header_format != "none" or category != "marketing"):
        raise AccessError("template_draft.catalog_rules")
    if "mpm" in kinds and header_format != "text":
        raise AccessError("template_draft.mpm_header")
    if kinds & {"mpm", "spm"} and category != "marketing":
        raise AccessError("template_draft.products_marketing")
    if ("spm" in kinds) != (header_format == "product"):
        raise AccessError("template_draft.product_header")
    offer = _offer(draft.get("offer"), category, header_format, body, footer, buttons)
    call = draft.get("call_permission") is True  # asks to be allowed to call on WhatsApp
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
        "buttons": buttons,
        "offer": offer,
        "auth": None,
        "carousel": carousel,
        "call_permission": call,
    }


def _carousel(
    carousel: object, category: str, header_format: str, footer: str, buttons: list
) -> dict | None:
    """A media-card carousel under the body: the template itself has no header, footer or
    buttons; its cards carry them."""
    if not isinstance(carousel, dict) or not carousel.get("enabled"):
        return None
    if category != "marketing":
        raise AccessError("template_draft.carousel_marketing")
    if header_format != "none" or footer or buttons:
        raise AccessError("template_draft.carousel_alone")
    card_format = carousel.get("format")
    if card_format not in CARD_FORMATS:
        raise AccessError("template_draft.bad_header")
    cards = carousel.get("cards")
    if not isinstance(cards, list) or not MIN_CARDS <= len(cards) <= MAX_CARDS:
        raise AccessError("template_draft.card_count", low=MIN_CARDS, high=MAX_CARDS)
    checked = [_card(card, card_format) for card in cards]
    shapes = {tuple(b["type"] for b in card["buttons"]) for card in checked}
    if len(shapes) > 1:
        raise AccessError("template_draft.cards_alike")
    return {"format": card_format, "cards": checked}


def _card(card: object, card_format: str) -> dict:
    card = card if isinstance(card, dict) else {}
    buttons = _buttons(card.get("buttons"))
    if card_format == "product":  # the catalog gives the picture, the name and the price
        if len(buttons) != 1 or buttons[0]["type"] not in PRODUCT_CARD_BUTTONS:
            raise AccessError("template_draft.product_card_buttons")
        return {"header_handle": "", "body": "", "examples": {}, "buttons": buttons}
    body = _text(card.get("body"), "card", MAX_CARD_BODY, required=True)
    _names, examples = _variables(body, "card", card.get("examples"))
    if not 1 <= len(buttons) <= MAX_CARD_BUTTONS or any(
        b["type"] not in CARD_BUTTONS for b in buttons
    ):
        raise AccessError("template_draft.card_buttons", limit=MAX_CARD_BUTTONS)
    return {
        "header_handle": _header_example(card_format, card),
        "body": body,
        "examples": examples,
        "buttons": buttons,
    }


def _authentication(auth: object) -> dict:
    """Meta writes an authentication template's text itself: the business chooses the
    security line, the expiry line and the one-time-password button."""
    given = auth if isinstance(auth, dict) else {}
    otp = given.get("otp") or "copy_code"
    if otp not in OTP_TYPES:
        raise AccessError("template_draft.bad_otp")
    expiry = given.get("expiry") or 0
    if isinstance(expiry, str):
        expiry = int(expiry) if re.fullmatch(r"[0-9]{1,3}", expiry.strip()) else -1
    if not isinstance(expiry, int) or isinstance(expiry, bool) or not 0 <= expiry <= MAX_EXPIRY:
        raise AccessError("template_draft.bad_expiry", limit=MAX_EXPIRY)
    cleaned = {
        "otp": otp,
        "security": given.get("security") is True,
        "expiry": expiry,
        "text": _text(given.get("text"), "button", MAX_BUTTON_TEXT),
        "autofill": "",
        "package": "",
        "signature": "",
    }
    if otp == "copy_code":
        return cleaned
    package = _text(given.get("package"), "package", 224, required=True)
    signature = _text(given.get("signature"), "signature", 11, required=True)
    if not PACKAGE.match(package):
        raise AccessError("template_draft.bad_package")
    if not SIGNATURE.match(signature):
        raise AccessError("template_draft.bad_signature")
    if otp == "zero_tap" and given.get("terms") is not True:
        raise AccessError("template_draft.zero_tap_terms")
    autofill = _text(given.get("autofill"), "autofill", MAX_BUTTON_TEXT) if otp == "one_tap" else ""
    return {**cleaned, "package": package, "signature": signature, "autofill": autofill}


def authentication_text(code: str, *, security: bool, minutes: int) -> str:
    """What an authentication template says, in Meta's English wording."""
    text = AUTH_CODE.replace("{{1}}", code) + (AUTH_SECURITY if security else "")
    return text + (f"\n\n{AUTH_EXPIRY.format(minutes=minutes)}" if minutes else "")


def _offer(
    offer: object, category: str, header_format: str, body: str, footer: str, buttons: list
) -> dict | None:
    """A limited-time offer (a countdown above the body), with Meta's restrictions on the
    rest of the template."""
    if not isinstance(offer, dict) or not offer.get("enabled"):
        return None
    if category != "marketing":
        raise AccessError("template_draft.offer_marketing")
    if header_format not in ("none", "image", "video"):
        raise AccessError("template_draft.offer_header")
    if footer:
        raise AccessError("template_draft.offer_footer")
    if len(body) > MAX_OFFER_BODY:
        raise AccessError(
            "template_draft.too_long", field=Term("template_field.body"), limit=MAX_OFFER_BODY
        )
    kinds = [b["type"] for b in buttons]
    expires = offer.get("expires") is True
    if any(k not in ("copy_code", "url") for k in kinds) or "url" not in kinds:
        raise AccessError("template_draft.offer_buttons")
    if expires and "copy_code" not in kinds:
        raise AccessError("template_draft.offer_code")
    return {"text": _text(offer.get("text"), "offer", MAX_OFFER, required=True), "expires": expires}


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
        if kind not in BUTTON_KINDS:
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
        elif kind == "flow":
            flow_id = str(button.get("flow_id") or "").strip()
            if not FLOW_ID.match(flow_id):
                raise AccessError("template_draft.bad_flow")
            screen = _text(button.get("screen"), "screen", 100)
            if screen and not SCREEN.match(screen):
                raise AccessError("template_draft.bad_screen")
            entry.update(flow_id=flow_id, screen=screen)
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
    if draft["auth"]:
        return _authentication_components(draft["auth"])
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
    elif draft["header_format"] in ("location", "product"):
        parts.append({"type": "HEADER", "format": draft["header_format"].upper()})
    elif draft["header"]:
        header = {"type": "HEADER", "format": "TEXT", "text": draft["header"]}
        parts.append(_with_example(header, "header", draft["examples"]["header"], named))
    if draft["offer"]:
        offer = {"text": draft["offer"]["text"], "has_expiration": draft["offer"]["expires"]}
        parts.append({"type": "LIMITED_TIME_OFFER", "limited_time_offer": offer})
    body = {"type": "BODY", "text": draft["body"]}
    parts.append(_with_example(body, "body", draft["examples"]["body"], named))
    if draft["footer"]:
        parts.append({"type": "FOOTER", "text": draft["footer"]})
    if draft["buttons"]:
        parts.append({"type": "BUTTONS", "buttons": [_button(b) for b in draft["buttons"]]})
    if draft["carousel"]:
        parts.append(_carousel_component(draft["carousel"], named))
    if draft["call_permission"]:
        parts.append({"type": "CALL_PERMISSION_REQUEST"})
    return parts


def _carousel_component(carousel: dict, named: bool) -> dict:
    media = carousel["format"].upper()
    cards = []
    for card in carousel["cards"]:
        parts: list[dict] = [{"type": "HEADER", "format": media}]
        if card["header_handle"]:
            parts[0]["example"] = {"header_handle": [card["header_handle"]]}
        if card["body"]:
            body = {"type": "BODY", "text": card["body"]}
            parts.append(_with_example(body, "body", card["examples"], named))
        parts.append({"type": "BUTTONS", "buttons": [_button(b) for b in card["buttons"]]})
        cards.append({"components": parts})
    return {"type": "CAROUSEL", "cards": cards}


def _authentication_components(auth: dict) -> list[dict]:
    """Meta writes the text; on creation the button is an ``OTP`` one (listed later as URL)."""
    parts: list[dict] = [{"type": "BODY", "add_security_recommendation": auth["security"]}]
    if auth["expiry"]:
        parts.append({"type": "FOOTER", "code_expiration_minutes": auth["expiry"]})
    button: dict = {"type": "OTP", "otp_type": auth["otp"].upper()}
    if auth["text"]:
        button["text"] = auth["text"]
    if auth["autofill"]:
        button["autofill_text"] = auth["autofill"]
    if auth["otp"] != "copy_code":
        app = {"package_name": auth["package"], "signature_hash": auth["signature"]}
        button["supported_apps"] = [app]
    if auth["otp"] == "zero_tap":
        button["zero_tap_terms_accepted"] = True
    parts.append({"type": "BUTTONS", "buttons": [button]})
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
    if kind == "url":
        shaped = {"type": "URL", "text": button["text"], "url": button["url"]}
        if "example" in button:
            shaped["example"] = [button["example"]]
        return shaped
    if kind == "phone":
        return {"type": "PHONE_NUMBER", "text": button["text"], "phone_number": button["phone"]}
    if kind == "copy_code":
        return {"type": "COPY_CODE", "example": button["example"]}
    if kind == "flow":  # without a first screen, the flow's endpoint chooses it
        shaped = {"type": "FLOW", "text": button["text"], "flow_id": button["flow_id"]}
        if button["screen"]:
            return {**shaped, "flow_action": "navigate", "navigate_screen": button["screen"]}
        return {**shaped, "flow_action": "data_exchange"}
    return {"type": kind.upper(), "text": button["text"]}  # quick replies, calls, products


# The editor's values of a template with nothing in it yet (besides name and language).
EMPTY_DRAFT = {
    "header_format": "none",
    "header": "",
    "header_handle": "",
    "body": "",
    "footer": "",
    "examples": {},
    "buttons": [],
    "offer": {"enabled": False, "text": "", "expires": False},
    "carousel": {"enabled": False, "format": "image", "cards": []},
    "call_permission": False,
    "auth": {
        "otp": "copy_code",
        "security": True,
        "expiry": 10,
        "text": "",
        "autofill": "",
        "package": "",
        "signature": "",
        "terms": False,
    },
}
# A checked authentication draft: only ``auth`` and the names carry anything.
EMPTY_CHECKED = {
    **EMPTY_DRAFT,
    "examples": {"header": {}, "body": {}},
    "named": False,
    "offer": None,
    "carousel": None,
    "call_permission": False,
}
BUTTON_FIELDS = ("text", "url", "phone", "example", "flow_id", "screen")


def draft_of(stored: list, category: str = "") -> dict:
    """A stored template's components as the editor's values: the inverse of ``components``.

    Parts the editor does not offer (an order's payment…) raise, so an edit never drops them
    silently."""
    draft: dict = {
        **EMPTY_DRAFT,
        "examples": {},
        "buttons": [],
        "offer": dict(EMPTY_DRAFT["offer"]),
        "carousel": {**EMPTY_DRAFT["carousel"], "cards": []},
        "auth": dict(EMPTY_DRAFT["auth"]),
    }
    if category.lower() == "authentication":
        return {**draft, "auth": _authentication_of(stored)}
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
            elif header_format in EXAMPLE_FILES:
                handles = example.get("header_handle") or [""]
                draft["header_handle"] = str(handles[0])
        elif kind == "LIMITED_TIME_OFFER":
            offer = component.get("limited_time_offer") or {}
            draft["offer"] = {
                "enabled": True,
                "text": str(offer.get("text") or ""),
                "expires": offer.get("has_expiration") is True,
            }
        elif kind == "BODY":
            draft["body"] = str(component.get("text") or "")
            _examples_of(draft, draft["body"], example, "body")
        elif kind == "FOOTER":
            draft["footer"] = str(component.get("text") or "")
        elif kind == "BUTTONS":
            draft["buttons"] = [_button_of(b) for b in component.get("buttons") or []]
        elif kind == "CAROUSEL":
            draft["carousel"] = _carousel_of(component.get("cards") or [])
        elif kind == "CALL_PERMISSION_REQUEST":
            draft["call_permission"] = True
        else:
            raise AccessError("template.edit_unsupported")
    return draft


def _carousel_of(cards: list) -> dict:
    """A stored carousel's cards as the editor's: each card read like a template of its own."""
    read = [draft_of((card or {}).get("components") or []) for card in cards]
    media = {card["header_format"] for card in read} & set(CARD_FORMATS)
    return {
        "enabled": True,
        "format": media.pop() if len(media) == 1 else "image",
        "cards": [
            {k: card[k] for k in ("body", "examples", "buttons", "header_handle")} for card in read
        ],
    }


def _authentication_of(stored: list) -> dict:
    """An authentication template's choices, as submitted (an ``OTP`` button) or as Meta
    lists it (a ``URL`` button whose address names the kind). An app's package and hash
    are not listed back: an edit of a one-tap or zero-tap button asks for them again."""
    auth = {**EMPTY_DRAFT["auth"], "security": False, "expiry": 0}
    for component in stored:
        kind = str(component.get("type", "")).upper() if isinstance(component, dict) else ""
        if kind == "BODY":
            auth["security"] = component.get("add_security_recommendation") is True
        elif kind == "FOOTER":
            minutes = component.get("code_expiration_minutes")
            auth["expiry"] = minutes if isinstance(minutes, int) else 0
        elif kind == "BUTTONS":
            for button in component.get("buttons") or []:
                otp = str(button.get("otp_type") or "")
                found = re.search(r"otp_type=([A-Za-z_]+)", str(button.get("url") or ""))
                otp = (otp or (found[1] if found else "copy_code")).lower()
                auth["otp"] = otp if otp in OTP_TYPES else "copy_code"
                auth["text"] = str(button.get("text") or "")
                auth["autofill"] = str(button.get("autofill_text") or "")
                apps = button.get("supported_apps") or [{}]
                auth["package"] = str(apps[0].get("package_name") or "")
                auth["signature"] = str(apps[0].get("signature_hash") or "")
    return auth


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
    entry = {"type": "", **dict.fromkeys(BUTTON_FIELDS, "")}
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
    elif kind == "FLOW":
        entry.update(flow_id=str(button.get("flow_id") or ""))
        entry.update(screen=str(button.get("navigate_screen") or ""))
    return entry


def _first(value: object) -> object:
    if isinstance(value, list):
        return value[0] if value else ""
    return value or ""
