"""HTTP routes beside Reflex: health, the cookie half of signing in and out, webhooks,
message files, and the sandbox numbers' Graph API."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from pytake import db, health
from pytake.auth import sessions
from pytake.i18n import LANGUAGES, translate
from pytake.sandbox import live
from pytake.services import sandbox as sandbox_numbers
from pytake.settings import get_settings
from pytake.web import media, origins, webhooks

MAX_AUTH_BODY = 4096


async def healthz(_request: Request) -> JSONResponse:
    healthy, checks = await run_in_threadpool(health.report)
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", **checks},
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


def _same_site(request: Request) -> bool:
    """Browsers send Origin on POST; it must be this host (stops login CSRF).

    Ports are not compared: cookies ignore them, and ``reflex run`` in development serves
    the pages and this backend on two ports of one host.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {urlsplit("//" + request.headers.get("host", "")).hostname}
    public_url = get_settings().public_url
    if public_url:
        allowed.add(urlsplit(public_url).hostname)
    return urlsplit(origin).hostname in allowed


def _secure(request: Request) -> bool:
    return get_settings().cookie_secure or request.url.scheme == "https"


async def _read_json(request: Request) -> dict | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_AUTH_BODY):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_AUTH_BODY:
            return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _redeem(ticket: str) -> str | None:
    with db.session(write=True) as s:
        return sessions.redeem_ticket(s, ticket)


async def create_session_cookie(request: Request) -> Response:
    """Trade the one-time ticket from a websocket sign-in for the HttpOnly session cookie."""
    if not _same_site(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    data = await _read_json(request)
    ticket = data.get("ticket") if data else None
    if not isinstance(ticket, str):
        return JSONResponse({"error": 'expected {"ticket": "..."}'}, status_code=400)
    cookie = await run_in_threadpool(_redeem, ticket)
    if cookie is None:
        return JSONResponse({"error": "ticket invalid, expired or used"}, status_code=401)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        sessions.COOKIE_NAME,
        cookie,
        max_age=get_settings().session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


def _revoke_cookie_session(cookie: str | None) -> None:
    session_id = sessions.session_id_from_cookie(cookie)
    if session_id:
        with db.session(write=True) as s:
            sessions.revoke(s, session_id, "logout")


async def delete_session_cookie(request: Request) -> Response:
    if not _same_site(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    await run_in_threadpool(_revoke_cookie_session, request.cookies.get(sessions.COOKIE_NAME))
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


OFFLINE_KEYS = ("offline.title", "offline.body", "offline.retry")
# The page's texts are filled in per language (__TEXTS__: a JSON object of them).
OFFLINE_PAGE = (Path(__file__).parent / "offline.html").read_text(encoding="utf-8")


async def offline(_request: Request) -> HTMLResponse:
    """What the service worker shows when the server cannot be reached (it keeps a copy);
    in both languages, chosen by the browser, and reloading once the server answers."""
    texts = {
        language: {key.split(".")[1]: translate(key, language) for key in OFFLINE_KEYS}
        for language in LANGUAGES
    }
    script_safe = json.dumps(texts, ensure_ascii=False).replace("<", "\\u003c")
    page = OFFLINE_PAGE.replace("__TEXTS__", script_safe)
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


async def sandbox_graph(scope, receive, send) -> None:
    """The sandbox numbers' Graph API (see pytake.sandbox.live)."""
    sandbox = await sandbox_numbers.ready()
    await sandbox.sim.app(scope, receive, send)


def build() -> Starlette:
    extra = [Mount(live.GRAPH_PATH, app=sandbox_graph)] if get_settings().sandbox else []
    return Starlette(
        middleware=[Middleware(origins.FramingHeaders)],
        routes=[
            *extra,
            Route("/healthz", healthz, methods=["GET"]),
            Route("/offline", offline, methods=["GET"]),
            Route("/auth/session", create_session_cookie, methods=["POST"]),
            Route("/auth/logout", delete_session_cookie, methods=["POST"]),
            Route("/webhooks/whatsapp", webhooks.verify, methods=["GET"]),
            Route("/webhooks/whatsapp", webhooks.receive, methods=["POST"]),
            Route("/media/{attachment_id}", media.serve, methods=["GET"]),
        ],
    )
