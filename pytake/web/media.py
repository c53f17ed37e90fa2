"""``GET /media/{id}``: a message's file, for signed-in members allowed to see its conversation.

Files came from customers (or agents): they are served with their stored type, never sniffed,
and anything a browser could run is sent as a download in a sandbox.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from pytake import db
from pytake.services import media as media_service
from pytake.ui.guard import identity_from_headers

INLINE = ("image/jpeg", "image/png", "image/webp", "audio/", "video/")


def _find(cookie_header: str | None, attachment_id: int):
    identity = identity_from_headers(cookie_header)
    if identity is None:
        return None
    with db.session() as s:
        return media_service.stored_file(s, identity, attachment_id)


async def serve(request: Request) -> Response:
    raw = request.path_params["attachment_id"]
    if not raw.isdigit() or len(raw) > 18:
        return JSONResponse({"error": "not found"}, status_code=404)
    found = await run_in_threadpool(_find, request.headers.get("cookie"), int(raw))
    if found is None:
        # The same answer for 'not signed in', 'not yours' and 'no such file'.
        return JSONResponse({"error": "not found"}, status_code=404)
    path, mime, filename = found
    inline = mime.startswith(INLINE)
    return FileResponse(
        path,
        media_type=mime,
        filename=filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )
