"""WhatsApp Cloud as a ChannelAdapter."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pytake.channels.base import (
    Credentials,
    Download,
    Event,
    MediaRef,
    PlatformCallError,
    PlatformError,
    Routing,
)
from pytake.channels.whatsapp import webhook
from pytake.channels.whatsapp.graph import GraphClient

# Credential keys kept encrypted on the channel row.
ACCESS_TOKEN = "access_token"  # noqa: S105 (key names)
APP_SECRET = "app_secret"  # noqa: S105
VERIFY_TOKEN = "verify_token"  # noqa: S105
TOKEN_INVALID = 190


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
