"""WhatsApp Cloud as a ChannelAdapter."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pytake.channels.base import (
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
                    "GET", media.media_id, token, params={"phone_number_id": number}
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
            download = await self.graph.download(url, token, dest, max_bytes)
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
            )
        media_id = answer.get("id")
        if not media_id:
            raise PlatformCallError(PlatformError(None, "upload answer has no id"), retryable=True)
        return str(media_id)

    async def send(
        self, number: str, credentials: Credentials, message: OutboundMessage
    ) -> SendResult:
        answer = await self.graph.request(
            "POST", f"{number}/messages", credentials[ACCESS_TOKEN], json=outbound.body(message)
        )
        sent = (answer.get("messages") or [{}])[0]
        if not isinstance(sent, dict) or not sent.get("id"):
            # Accepted without an id: it may go out, so never send it again on our own.
            raise PlatformCallError(
                PlatformError(None, "the send answer has no message id"),
                retryable=True,
                ambiguous=True,
            )
        contact = (answer.get("contacts") or [{}])[0]
        contact = contact if isinstance(contact, dict) else {}
        wa_id = numbers.normalize(str(contact.get("wa_id") or "")) or None
        user_id = contact.get("user_id")
        return SendResult(
            external_id=str(sent["id"]),
            recipient=ContactRef(external_id=wa_id, scoped_id=str(user_id) if user_id else None),
        )

    async def mark_read(
        self, number: str, credentials: Credentials, message_id: str, *, typing: bool = False
    ) -> None:
        body: dict = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        if typing:
            body["typing_indicator"] = {"type": "text"}
        await self.graph.request("POST", f"{number}/messages", credentials[ACCESS_TOKEN], json=body)

    async def list_templates(self, account: str, credentials: Credentials) -> list[Template]:
        """``GET /{waba-id}/message_templates``, following the ``after`` cursor to the end."""
        found: list[Template] = []
        params = {"limit": TEMPLATE_PAGE, "fields": TEMPLATE_FIELDS}
        for _ in range(MAX_TEMPLATE_PAGES):
            answer = await self.graph.request(
                "GET", f"{account}/message_templates", credentials[ACCESS_TOKEN], params=params
            )
            found += [_template(item) for item in answer.get("data") or [] if _named(item)]
            after = ((answer.get("paging") or {}).get("cursors") or {}).get("after")
            if not (answer.get("paging") or {}).get("next") or not after:
                return found
            params = {**params, "after": after}
        raise PlatformCallError(
            PlatformError(None, "the template list did not end"), retryable=False
        )

    def check_template(self, draft: dict) -> dict:
        return template_rules.check(draft)

    async def create_template(
        self, account: str, credentials: Credentials, draft: dict
    ) -> Template:
        body = template_rules.create_body(draft)
        answer = await self.graph.request(
            "POST", f"{account}/message_templates", credentials[ACCESS_TOKEN], json=body
        )
        return _template({**body, **answer, "name": draft["name"], "language": draft["language"]})

    async def delete_template(
        self, account: str, credentials: Credentials, name: str, external_id: str | None
    ) -> None:
        """One language only when its id is known (``hsm_id``); Meta's name is freed in 30 days."""
        params = {"name": name} | ({"hsm_id": external_id} if external_id else {})
        await self.graph.request(
            "DELETE", f"{account}/message_templates", credentials[ACCESS_TOKEN], params=params
        )


TEMPLATE_PAGE = 100
MAX_TEMPLATE_PAGES = 200  # Meta allows up to 250 templates per account; never loop forever
TEMPLATE_FIELDS = "id,name,language,category,status,components,rejected_reason"


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
