"""The least a webhook receiver can do, as the ingest benchmark's baseline: check Meta's
HMAC, store the body once (``INSERT … ON CONFLICT DO NOTHING``), commit, answer 200.

Served by granian like PyTake: ``granian --interface asgi tests.bench.ingest_baseline:app``
with ``BENCH_DATABASE_URL`` and ``BENCH_APP_SECRET`` set.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

CREATE = """
CREATE TABLE IF NOT EXISTS bench_webhook (
    id bigserial PRIMARY KEY,
    body_sha256 text UNIQUE NOT NULL,
    body bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = sa.text(
    "INSERT INTO bench_webhook (body_sha256, body) VALUES (:sha, :body) "
    "ON CONFLICT (body_sha256) DO NOTHING"
)
_engine = sa.create_engine(
    os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"),
    pool_size=15,  # as PyTake's own pool (PYTAKE_DATABASE_POOL_SIZE)
    max_overflow=10,
)
_secret = os.environ.get("BENCH_APP_SECRET", "").encode()


def _store(body: bytes) -> None:
    with _engine.begin() as connection:
        connection.execute(INSERT, {"sha": hashlib.sha256(body).hexdigest(), "body": body})


async def receive(request: Request) -> PlainTextResponse:
    body = await request.body()
    expected = "sha256=" + hmac.new(_secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
        return PlainTextResponse("invalid signature", status_code=403)
    await run_in_threadpool(_store, body)
    return PlainTextResponse("stored")


app = Starlette(routes=[Route("/webhooks/whatsapp", receive, methods=["POST"])])
