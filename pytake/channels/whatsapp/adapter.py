"""WhatsApp Cloud as a ChannelAdapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import TypeVar

import httpx

from pytake.channels.base import (
    ConnectionCheck,
    ConnectionReport,
    ContactRef,
    Credentials,
    Download,
    Event,
    MediaRef,
    OutboundMessage,
    PlatformCallError,
    PlatformError,
    Routing,
    SendResult,
    Template,
)
from pytake.channels.whatsapp import numbers, outbound, webhook
from pytake.channels.whatsapp import templates as template_rules
from pytake.channels.whatsapp.errors import TOKEN_INVALID
from pytake.channels.whatsapp.graph import GraphClient

# Credential keys kept encrypted on the channel row.
ACCESS_TOKEN = "access_token"  # noqa: S105 (key names)
APP_SECRET = "app_secret"  # noqa: S105
VERIFY_TOKEN = "verify_token"  # noqa: S105
# Not a secret: a number's own Graph API address (the sandbox's), from the channel's config.
API_URL = "api_url"


class WhatsAppAdapter:
    kind = "whatsapp"

    def __init__(self, graph: GraphClient | None = None) -> None:
        self.graph = graph or GraphClient()

    def inspect(self, body: bytes) -> tuple[Routing, str | None]:
        return webhook.inspect(body)

    def signature(self, headers: Mapping[str, str]) -> str | None:
        return webhook.signature(headers)

    def signature_valid(self, body: bytes, signature: str | None, secret: str) -> bool:
        return webhook.signature_valid(body, signature, secret)

    def webhook_secret(self, credentials: Credentials) -> str:
        return credentials[APP_SECRET]

    def parse(self, body: bytes) -> list[Event]:
        return webhook.parse(body)

    async def download_media(
        self, number: str, credentials: Credentials, media: MediaRef, dest: Path, max_bytes: int
    ) -> Download:
        """``GET /{media-id}`` gives a URL valid 5 minutes; an expired one is asked for again."""
        token = credentials[ACCESS_TOKEN]
        for _ in range(2):
            try:
                info = await self.graph.request(
                    "GET",
                    media.media_id,
                    token,
                    params={"phone_number_id": number},
                    base=_base(credentials),
                )
            except PlatformCallError as exc:
                if exc.error.code == TOKEN_INVALID or exc.http_status == 401:
                    # Webhook media lives 7 days: keep trying while an admin renews the token.
                    exc.retryable = True
                raise
            url = info.get("url")
            if not isinstance(url, str):
                raise PlatformCallError(
                    PlatformError(None, "the media answer has no URL"), retryable=True
                )
            declared = str(info.get("file_size") or "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PlatformCallError.refused("media file too large", f"{declared} bytes")
            download = await self.graph.download(url, token, dest, max_bytes, _base(credentials))
            if download is not None:
                return download
        raise PlatformCallError(
            PlatformError(404, "media URL expired twice in a row"), retryable=True
        )

    def check(self, kind: str, content: dict) -> dict:
        return outbound.check(kind, content)

    async def upload_media(
        self, number: str, credentials: Credentials, path: Path, mime_type: str, filename: str
    ) -> str:
        with path.open("rb") as handle:
            answer = await self.graph.request(
                "POST",
                f"{number}/media",
                credentials[ACCESS_TOKEN],
                data={"messaging_product": "whatsapp", "type": mime_type},
                files={"file": (filename, handle, mime_type)},
                base=_base(credentials),
            )
        media_id = answer.get("id")
        if not media_id:
            raise PlatformCallError(PlatformError(None, "upload answer has no id"), retryable=True)
        return str(media_id)

    async def send(
        self, number: str, credentials: Credentials, message: OutboundMessage
    ) -> SendResult:
        answer = await self.graph.request(
            "POST",
            f"{number}/messages",
            credentials[ACCESS_TOKEN],
            json=outbound.body(message),
            base=_base(credentials),
        )
        sent = (answer.get("messages") or [{}])[0]
        if not isinstance(sent, dict) or not sent.get("id"):
            # Accepted without an id: it may go out, so never send it again on our own.
            raise PlatformCallError(
                PlatformError(None, "the send answer has no message id"),
                retryable=True,
                ambiguous=True,
            )
        return SendResult(external_id=str(sent["id"]), recipient=recipient(answer))

    async def mark_read(
        self, number: str, credentials: Credentials, message_id: str, *, typing: bool = False
    ) -> None:
        body: dict = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        if typing:
            body["typing_indicator"] = {"type": "text"}
        await self.graph.request(
            "POST",
            f"{number}/messages",
            credentials[ACCESS_TOKEN],
            json=body,
            base=_base(credentials),
        )

    async def _pages(
        self, path: str, credentials: Credentials, params: dict, max_pages: int, **kwargs
    ) -> AsyncIterator[list[dict]]:
        """The items of a Graph list, a page at a time, following the ``after`` cursor."""
        token, base = credentials[ACCESS_TOKEN], _base(credentials)
        for _ in range(max_pages):
            answer = await self.graph.request(
                "GET", path, token, params=params, base=base, **kwargs
            )
            yield [item for item in answer.get("data") or [] if isinstance(item, dict)]
            paging = answer.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            params = {**params, "after": after}
        raise PlatformCallError(
            PlatformError(None, "the list did not end", path.rsplit("/", 1)[-1]), retryable=False
        )

    async def list_templates(self, account: str, credentials: Credentials) -> list[Template]:
        """``GET /{waba-id}/message_templates``, every page of it."""
        params = {"limit": TEMPLATE_PAGE, "fields": TEMPLATE_FIELDS}
        pages = self._pages(f"{account}/message_templates", credentials, params, MAX_TEMPLATE_PAGES)
        return [_template(item) async for page in pages for item in page if _named(item)]

    def check_template(self, draft: dict) -> dict:
        return template_rules.check(draft)

    async def create_template(
        self, account: str, credentials: Credentials, draft: dict
    ) -> Template:
        body = template_rules.create_body(draft)
        answer = await self.graph.request(
            "POST",
            f"{account}/message_templates",
            credentials[ACCESS_TOKEN],
            json=body,
            base=_base(credentials),
        )
        return _template({**body, **answer, "name": draft["name"], "language": draft["language"]})

    async def edit_template(
        self, credentials: Credentials, template_id: str, draft: dict, *, category: bool
    ) -> list:
        """``POST /{template-id}``; the components as submitted (Meta reviews them again)."""
        body = template_rules.edit_body(draft, category=category)
        await self.graph.request(
            "POST", template_id, credentials[ACCESS_TOKEN], json=body, base=_base(credentials)
        )
        return body["components"]

    async def upload_template_example(
        self, app: str, credentials: Credentials, path: Path, mime_type: str, filename: str
    ) -> str:
        """Meta's Resumable Upload API: a session under the app, then the whole file at
        offset 0 (``Authorization: OAuth``); the handle a media header's example names."""
        token, base = credentials[ACCESS_TOKEN], _base(credentials)
        data = await asyncio.to_thread(path.read_bytes)
        params = {"file_name": filename, "file_length": len(data), "file_type": mime_type}
        session = await self.graph.request(
            "POST", f"{app}/uploads", token, params=params, base=base
        )
        session_id = session.get("id")
        if not isinstance(session_id, str) or not session_id.startswith("upload:"):
            raise PlatformCallError(
                PlatformError(None, "the upload session answer has no id"), retryable=True
            )
        answer = await self.graph.request(
            "POST",
            session_id,
            token,
            scheme="OAuth",
            headers={"file_offset": "0"},
            content=data,
            base=base,
        )
        handle = answer.get("h")
        if not isinstance(handle, str) or not handle:
            raise PlatformCallError(
                PlatformError(None, "the upload answer has no handle"), retryable=True
            )
        return handle

    async def delete_template(
        self, account: str, credentials: Credentials, name: str, external_id: str | None
    ) -> None:
        """One language only when its id is known (``hsm_id``); Meta's name is freed in 30 days."""
        params = {"name": name} | ({"hsm_id": external_id} if external_id else {})
        await self.graph.request(
            "DELETE",
            f"{account}/message_templates",
            credentials[ACCESS_TOKEN],
            params=params,
            base=_base(credentials),
        )

    async def check_connection(
        self, number: str, account: str | None, credentials: Credentials
    ) -> ConnectionReport:
        """``GET /{phone-number-id}``, then the account's ``phone_numbers`` (is the number
        in it?) and ``subscribed_apps``: with no app subscribed, Meta sends no webhooks
        (reference P10). A wrong number id does not stop the account's checks."""
        checks: list[ConnectionCheck] = []
        info = await _answer(
            checks,
            "number",
            self.graph.request(
                "GET",
                number,
                credentials[ACCESS_TOKEN],
                params={"fields": PHONE_FIELDS},
                timeout=CHECK_TIMEOUT,
                base=_base(credentials),
            ),
        )
        if info is not None:
            checks += [ConnectionCheck("token"), ConnectionCheck("number")]
        elif checks[-1].name == "number":  # refused the number: the token itself was read
            checks.insert(0, ConnectionCheck("token"))
        if not _stopped(checks):
            known = number if info is not None else None
            await self._check_account(checks, known, account, credentials)
        graph = next((c for c in checks if c.name == "graph"), ConnectionCheck("graph"))
        info = info or {}
        throughput = info.get("throughput")
        return ConnectionReport(
            checks=(graph, *(c for c in checks if c.name != "graph")),
            display_number=_text(info.get("display_phone_number")),
            verified_name=_text(info.get("verified_name")),
            quality=_text(info.get("quality_rating")),
            throughput=_text(throughput.get("level")) if isinstance(throughput, dict) else None,
            facts={key: text for key in FACTS if (text := _text(info.get(key)))},
        )

    async def _check_account(
        self,
        checks: list[ConnectionCheck],
        number: str | None,
        account: str | None,
        credentials: Credentials,
    ) -> None:
        """``number``: None when Meta did not know it; then only a wrong account is told."""
        if not account:
            checks.append(ConnectionCheck("account", "not_found"))
            return
        pages = self._pages(
            f"{account}/phone_numbers",
            credentials,
            {"fields": "id", "limit": NUMBERS_PAGE},
            MAX_NUMBER_PAGES,
            timeout=CHECK_TIMEOUT,
        )
        numbers = await _answer(checks, "account", _ids(pages))
        if numbers is None:
            return  # an account we cannot read has no subscription we can read either
        if number is not None:
            inside = number in numbers
            checks.append(ConnectionCheck("account", None if inside else "not_in_account"))
        apps = await _answer(
            checks,
            "webhooks",
            self.graph.request(
                "GET",
                f"{account}/subscribed_apps",
                credentials[ACCESS_TOKEN],
                timeout=CHECK_TIMEOUT,
                base=_base(credentials),
            ),
        )
        if apps is not None:
            subscribed = isinstance(apps.get("data"), list) and bool(apps["data"])
            checks.append(ConnectionCheck("webhooks", None if subscribed else "not_subscribed"))


TEMPLATE_PAGE = 100
MAX_TEMPLATE_PAGES = 200  # Meta allows up to 250 templates per account; never loop forever
TEMPLATE_FIELDS = "id,name,language,category,status,components,rejected_reason"


def _base(credentials: Credentials) -> str | None:
    return credentials[API_URL] or None


def _named(item: object) -> bool:
    return isinstance(item, dict) and bool(item.get("name")) and bool(item.get("language"))


def _template(item: dict) -> Template:
    reason = item.get("rejected_reason")
    components = item.get("components")
    return Template(
        external_id=str(item["id"]) if item.get("id") else None,
        name=str(item["name"])[:512],
        language=webhook.normalize_language(str(item["language"]))[:15],
        category=str(item.get("category") or "").upper()[:30],
        status=str(item.get("status") or "").upper()[:30],
        components=components if isinstance(components, list) else [],
        reason=str(reason) if reason not in (None, "", "NONE") else None,
    )


# Testing a connection -----------------------------------------------------------------------

PHONE_FIELDS = (
    "display_phone_number,verified_name,quality_rating,code_verification_status,"
    "name_status,throughput,platform_type"
)
FACTS = ("code_verification_status", "name_status", "platform_type")
CHECK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # an admin is waiting for the answer
NUMBERS_PAGE = 100
MAX_NUMBER_PAGES = 10
NOT_FOUND = 100  # also "exists, but this token has no access to it" (subcode 33)
PERMISSION_CODES = frozenset({0, 3, 10, *range(200, 300)})
UNREACHED = frozenset({"unreachable", "unavailable"})
# After these, asking anything else only repeats the same failure.
STOPS = UNREACHED | {"rejected"}
_T = TypeVar("_T")


def _problem(exc: PlatformCallError) -> str:
    """Meta's refusal as a connection problem (reference §7.2)."""
    code = exc.error.code
    if exc.credentials_rejected:
        return "rejected"
    if exc.http_status is None and exc.retryable:
        return "unreachable"  # no answer at all: a network error or a timeout
    if exc.retryable or (exc.http_status or 0) >= 500:
        return "unavailable"
    if code == NOT_FOUND:
        return "not_found"
    if code in PERMISSION_CODES:
        return "no_permission"
    return "refused"


async def _answer(checks: list[ConnectionCheck], name: str, call: Awaitable[_T]) -> _T | None:
    """The call's result; or None, its failure noted as check ``name``'s problem (or the
    token's, or reaching Meta's, when it is about those)."""
    try:
        return await call
    except PlatformCallError as exc:
        problem = _problem(exc)
        owner = "token" if problem == "rejected" else "graph" if problem in UNREACHED else name
        checks.append(ConnectionCheck(owner, problem, exc.error))
        return None


async def _ids(pages: AsyncIterator[list[dict]]) -> set[str]:
    return {str(item.get("id")) async for page in pages for item in page}


def _stopped(checks: list[ConnectionCheck]) -> bool:
    return any(check.problem in STOPS for check in checks)


def _text(value: object) -> str | None:
    return str(value)[:200] if isinstance(value, str | int) and value != "" else None


def recipient(answer: dict) -> ContactRef:
    """Whom a send reached, as Meta's answer says: its ``wa_id`` only when it is a phone
    number (for a customer known by username alone it may carry their user id), so replies
    keep going to the user id until Meta gives a real number."""
    contact = (answer.get("contacts") or [{}])[0]
    contact = contact if isinstance(contact, dict) else {}
    raw, user_id = str(contact.get("wa_id") or ""), contact.get("user_id")
    wa_id = numbers.phone(raw)
    if user_id is None and raw and wa_id is None:
        user_id = raw  # the user id, where the number would have been
    return ContactRef(external_id=wa_id, scoped_id=str(user_id) if user_id else None)
