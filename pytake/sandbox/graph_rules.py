"""What the Graph API simulator answers by: Meta's limits and refusals, the objects it keeps
(numbers, media), its errors, and the checks of a request's body (``graph`` serves them)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pytake.sandbox import payloads

# What ``calls`` counts and ``fail_next``/``timeout_next`` target.
KINDS = frozenset(
    {"messages", "upload", "media_url", "media_download", "media_delete", "templates"}
    | {"phone_number", "phone_numbers", "subscribed_apps", "app_upload", "template_edit"}
)
SUBCODES = {100: 33, 190: 463, 131030: 2494010}
SEND_TYPES = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts"}
    | {"interactive", "template", "reaction"}
)
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
MAX_TEXT = 4096
MAX_BUTTONS = 3
MAX_LIST_ROWS = 10
TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
TEMPLATE_CATEGORIES = frozenset({"AUTHENTICATION", "MARKETING", "UTILITY"})
TEMPLATE_REFUSALS = {"PAUSED": 132015, "DISABLED": 132016}
TEMPLATE_EDITABLE = frozenset({"APPROVED", "REJECTED", "PAUSED"})
# Meta's limits for editing an approved template: once a day, ten times in 30 days.
EDIT_GAP_SECONDS, EDIT_WINDOW_SECONDS, EDITS_IN_WINDOW = 86_400, 30 * 86_400, 10
# The files a media header's example may be; together, what the Resumable Upload API takes.
HEADER_EXAMPLE_TYPES = {
    "IMAGE": frozenset({"image/jpeg", "image/jpg", "image/png"}),
    "VIDEO": frozenset({"video/mp4"}),
    "DOCUMENT": frozenset({"application/pdf"}),
}
RESUMABLE_TYPES = frozenset().union(*HEADER_EXAMPLE_TYPES.values())
DEFAULT_PAGE_SIZE = 25
# The app whose webhooks a business account sends (as ``subscribed_apps`` lists it), and
# the only one template example files can be uploaded under.
APP_ID = "1234567890123456"
APP = {"link": f"https://www.facebook.com/games/?app_id={APP_ID}", "name": "PyTake", "id": APP_ID}

_MB = 1024 * 1024
_DOCUMENTS = (
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
# Meta's supported upload types and their size limits (reference §5).
UPLOAD_LIMITS: dict[str, int] = {
    **dict.fromkeys(("image/jpeg", "image/png"), 5 * _MB),
    **dict.fromkeys(("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"), 16 * _MB),
    **dict.fromkeys(("video/mp4", "video/3gpp"), 16 * _MB),
    **dict.fromkeys(_DOCUMENTS, 100 * _MB),
    "image/webp": 500 * 1024,
}

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Number:
    phone_number_id: str
    waba_id: str
    display_number: str
    access_token: str
    app_secret: str
    verified_name: str = "PyTake Sandbox"

    def node(self) -> dict:
        """The number as ``GET /{phone-number-id}`` describes it (a healthy Cloud API number)."""
        return {
            "id": self.phone_number_id,
            "display_phone_number": self.display_number,
            "verified_name": self.verified_name,
            "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED",
            "name_status": "APPROVED",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
        }


@dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str

    @property
    def sha256(self) -> str:
        return base64.b64encode(hashlib.sha256(self.content).digest()).decode()


@dataclass(frozen=True)
class _Fault:
    code: int | None  # None: stall for ``delay`` seconds, then answer normally
    delay: float = 0.0
    retry_after: int | None = None


class GraphError(Exception):
    """Raised anywhere in a handler to answer Meta's error envelope for ``code``."""

    def __init__(self, code: int, details: str | None = None, retry_after: int | None = None):
        super().__init__(code, details)
        self.code = code
        self.details = details
        self.retry_after = retry_after


def graph_error(
    code: int, details: str | None = None, retry_after: int | None = None
) -> JSONResponse:
    title, known_details, http_status = payloads.ERRORS[code]
    error: dict[str, Any] = {
        "message": f"(#{code}) {title}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or known_details},
    }
    if code in SUBCODES:
        error["error_subcode"] = SUBCODES[code]
    error["fbtrace_id"] = secrets.token_urlsafe(16)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": error}, status_code=http_status, headers=headers)


def canonical_wa_id(number: str) -> str:
    """The wa_id Meta answers for a ``to``; it rewrites Brazil's and Mexico's mobile prefixes."""
    digits = re.sub(r"[+\s()-]", "", number)
    if len(digits) == 13 and digits.startswith("55") and digits[4] == "9":
        return digits[:4] + digits[5:]
    if len(digits) == 12 and digits.startswith("52"):
        return "521" + digits[2:]
    return digits


def _missing(object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
    )


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _numeric_id() -> str:
    return str(10**15 + secrets.randbelow(9 * 10**15))


async def _json_object(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise GraphError(131009, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise GraphError(131009, "The request body must be a JSON object.")
    return body


def _require(data: Mapping[str, Any], name: str, where: str = "") -> Any:
    value = data.get(name)
    if value is None or value == "" or value == [] or value == {}:
        raise GraphError(131008, f"The parameter {where}{name} is required.")
    return value


def _check_product(data: Mapping[str, Any]) -> None:
    if _require(data, "messaging_product") != "whatsapp":
        raise GraphError(131009, "Param messaging_product must be 'whatsapp'.")


def _check_send(body: dict) -> None:
    _check_product(body)
    recipient = body.get("to") or body.get("recipient")
    if not recipient:
        raise GraphError(131008, "The parameter to is required.")
    if not isinstance(recipient, str):
        raise GraphError(131009, "Param to must be a string.")
    kind = _require(body, "type")
    if kind not in SEND_TYPES:
        raise GraphError(131009, f"Param type must be one of {sorted(SEND_TYPES)}.")
    content = _require(body, kind)
    if kind == "contacts":
        return
    if not isinstance(content, dict):
        raise GraphError(131009, f"Param {kind} must be an object.")
    if kind == "text":
        text = _require(content, "body", "text.")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise GraphError(131009, f"Param text.body must be a string of at most {MAX_TEXT}.")
    elif kind in MEDIA_TYPES and not (content.get("id") or content.get("link")):
        raise GraphError(131008, f"The parameter {kind}.id or {kind}.link is required.")
    elif kind == "interactive":
        _check_interactive(content)
    elif kind == "reaction":
        _require(content, "message_id", "reaction.")


def _check_interactive(content: dict) -> None:
    kind = _require(content, "type", "interactive.")
    action = _require(content, "action", "interactive.")
    if not isinstance(action, dict):
        raise GraphError(131009, "Param interactive.action must be an object.")
    if kind == "button" and not 1 <= len(action.get("buttons") or []) <= MAX_BUTTONS:
        raise GraphError(131009, f"Param interactive.action.buttons: 1 to {MAX_BUTTONS} buttons.")
    if kind == "list":
        rows = sum(len(section.get("rows") or []) for section in action.get("sections") or [])
        if not 1 <= rows <= MAX_LIST_ROWS:
            raise GraphError(131009, f"Param interactive.action: 1 to {MAX_LIST_ROWS} list rows.")


def _recipient(body: dict) -> dict:
    """``to`` wins over ``recipient`` (a BSUID), which gets a user_id and no wa_id."""
    to = body.get("to")
    if to:
        return {"input": to, "wa_id": canonical_wa_id(to)}
    return {"input": body["recipient"], "user_id": body["recipient"]}


def _upper_type(item: dict) -> dict:
    return {**item, "type": str(item.get("type", "")).upper()}


def _listed_authentication(components: list) -> list:
    """Meta writes an authentication template's text and lists its one-time-password button
    as a URL button (the kind in its address), whatever was submitted."""
    listed = []
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "BODY":
            security = component.get("add_security_recommendation") is True
            text = "*{{1}}* is your verification code." + (
                " For your security, do not share this code." if security else ""
            )
            listed.append({**component, "text": text})
        elif kind == "FOOTER":
            minutes = component.get("code_expiration_minutes")
            listed.append({**component, "text": f"This code expires in {minutes} minutes."})
        elif kind == "BUTTONS":
            buttons = []
            for button in component.get("buttons", []):
                otp = str(button.get("otp_type", "COPY_CODE")).upper()
                text = button.get("text") or ("Autofill" if otp == "ONE_TAP" else "Copy code")
                url = f"https://www.whatsapp.com/otp/code/?otp_type={otp}&code=otp{{{{1}}}}"
                buttons.append({"type": "URL", "text": text, "url": url})
            listed.append({**component, "buttons": buttons})
        else:
            listed.append(component)
    return listed


def _stored_template(template: dict) -> dict:
    """Meta lists templates in upper case whatever case they were created in (reference §6)."""
    components = []
    for component in template.get("components", []):
        shaped = _upper_type(component)
        if "format" in component:
            shaped["format"] = str(component["format"]).upper()
        if "buttons" in component:
            shaped["buttons"] = [_upper_type(button) for button in component["buttons"]]
        components.append(shaped)
    if str(template.get("category", "")).upper() == "AUTHENTICATION":
        components = _listed_authentication(components)
    return {
        **template,
        "parameter_format": str(template.get("parameter_format", "POSITIONAL")).upper(),
        "components": components,
        "status": str(template.get("status", "APPROVED")).upper(),
        "category": str(template.get("category", "UTILITY")).upper(),
        "id": str(template.get("id") or _numeric_id()),
    }


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode())) + 1
    except (ValueError, binascii.Error):
        raise GraphError(131009, f"Invalid cursor {cursor!r}.") from None


def _page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or int(value) < 1:
        raise GraphError(131009, "Param limit must be a positive integer.")
    return int(value)


def _fields(request: Request, node: dict, node_type: str) -> dict:
    """Only the ``fields`` asked for, and the id, as Graph answers; an unknown one is 100."""
    asked = [name.strip() for name in request.query_params.get("fields", "").split(",")]
    asked = [name for name in asked if name]
    if not asked:
        return node
    for name in asked:
        if name not in node:
            raise GraphError(
                100, f"Tried accessing nonexisting field ({name}) on node type ({node_type})"
            )
    return {"id": node["id"], **{name: node[name] for name in asked}}
