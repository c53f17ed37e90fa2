"""Which pages may talk to PyTake from a browser, and which may frame it.

The websocket carries a signed-in tab's whole state and the cookie goes with it from any
page of the same site (another port, a sibling subdomain), so an open websocket policy let
such a page read a private note. Browsers apply no CORS rule to websockets; the server must
check the ``Origin`` itself:

- with ``PYTAKE_PUBLIC_URL``, only that origin;
- without it, only the origin of the request itself (its scheme and host, as a proxy
  forwarded them): engineio's same-origin rule.

Requests that carry no ``Origin`` (scripts, the CLI, webhooks) are not browsers' and pass.
The HTTP API answers no other origin's credentialed requests either (no CORS grant).
``python -m pytake run --dev`` serves the pages from another port, so dev mode stays open.

Pages may be framed only by PyTake itself (clickjacking).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEV = "PYTAKE_DEV_SERVER"  # set by ``python -m pytake run --dev``

FRAMING = [
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
]


def origin_of(url: str) -> str:
    """``https://inbox.example.com`` of ``https://inbox.example.com/some/path``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def allowed(public_url: str | None, dev: bool) -> list[str] | None:
    """The origins the websocket accepts: a list, or None for the request's own origin
    (engineio's rule); ``["*"]`` in dev mode."""
    if dev:
        return ["*"]
    return [origin_of(public_url)] if public_url else None


def cors(public_url: str | None, dev: bool) -> list[str]:
    """The origins granted CORS on the HTTP API (Reflex's ``cors_allowed_origins``)."""
    found = allowed(public_url, dev)
    return found if found is not None else []


def dev_server() -> bool:
    return os.environ.get(DEV) == "1"


def guard_websocket(app, public_url: str | None, dev: bool) -> None:
    """Apply ``allowed`` to the app's Socket.IO server. Reflex hands its configured list to
    engineio, where ``[]`` means no check at all and same-origin cannot be asked for; this
    sets engineio's own attribute (``tests/integration/test_origins.py`` fails if a Reflex
    or engineio upgrade moves it)."""
    origins = allowed(public_url, dev)
    app.sio.eio.cors_allowed_origins = "*" if origins == ["*"] else origins


class FramingHeaders:
    """Every HTTP answer says it may be framed only by PyTake's own pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in FRAMING if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, sending)
