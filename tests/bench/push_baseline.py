"""The live-push baseline: a signed webhook's marker goes POST → Redis publish → every
connected websocket, and nothing else (no database, no per-tab state); and, for the
sessions benchmark, a websocket that echoes::

    BENCH_APP_SECRET=… BENCH_REDIS_URL=… granian --interface asgi tests.bench.push_baseline:app
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

SECRET = os.environ["BENCH_APP_SECRET"].encode()
CHANNEL = "bench:push"
MARKER = re.compile(rb"bench-push-\d+")
redis = aioredis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


async def webhook(request: Request) -> Response:
    body = await request.body()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
        return Response(status_code=401)
    marker = MARKER.search(body)
    if marker:
        await redis.publish(CHANNEL, marker[0])
    return Response()


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    try:
        async for message in pubsub.listen():
            await websocket.send_bytes(message["data"])
    except WebSocketDisconnect:
        pass
    finally:
        await pubsub.aclose()


async def echo(websocket: WebSocket) -> None:
    """An action's round trip with no work in it: what comes in goes straight back."""
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def alive(_request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/", alive),
        Route("/webhooks/whatsapp", webhook, methods=["POST"]),
        WebSocketRoute("/ws", socket),
        WebSocketRoute("/echo", echo),
    ]
)
