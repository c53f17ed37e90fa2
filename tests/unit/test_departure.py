"""A Graph API call is timed when its request is written, not when it is answered."""

import asyncio
import time

import httpx

from pytake.channels import departure
from pytake.channels.whatsapp.graph import GraphClient


async def test_a_request_is_timed_when_written_not_when_answered():
    async def answer_late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.3)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_late, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, httpx.AsyncClient() as http:
        graph = GraphClient(http)
        sent = time.monotonic()
        with departure.watched() as left:
            await graph.request("POST", "1/messages", "token", base=f"http://127.0.0.1:{port}")
        answered = time.monotonic()
    assert len(left) == 1
    assert sent <= left[0] and answered - left[0] >= 0.25


def test_nothing_is_traced_when_nobody_watches():
    assert departure.extensions() == {}
    with departure.watched():
        assert "trace" in departure.extensions()
    assert departure.extensions() == {}
