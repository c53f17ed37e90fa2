"""``/webhooks/whatsapp``: Meta's verification handshake and its signed event POSTs."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pytake import db
from pytake.jobs import runner
from pytake.services import webhooks
from pytake.services.channels import directory
from pytake.settings import get_settings

KIND = "whatsapp"
MAX_CHALLENGE = 256


def _token_matches(token: str) -> bool:
    with db.session() as s:
        return directory.verify_token_matches(s, KIND, token)


async def verify(request: Request) -> Response:
    """Echo ``hub.challenge`` byte for byte when the verify token is one of our channels'."""
    params = request.query_params
    challenge = params.get("hub.challenge", "")
    token = params.get("hub.verify_token", "")
    if (
        params.get("hub.mode") == "subscribe"
        and token
        and 0 < len(challenge) <= MAX_CHALLENGE
        and await run_in_threadpool(_token_matches, token)
    ):
        return PlainTextResponse(challenge)
    return PlainTextResponse("forbidden", status_code=403)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than ``limit`` (never read all of it)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(request: Request) -> Response:
    body = await _read_capped(request, get_settings().webhook_max_bytes)
    if body is None:
        return PlainTextResponse("payload too large", status_code=413)
    verdict = await run_in_threadpool(webhooks.accept, KIND, body, request.headers)
    if verdict.event_id is not None:
        await runner.enqueue("webhook", [verdict.event_id])
    return PlainTextResponse(verdict.reason, status_code=verdict.status)
