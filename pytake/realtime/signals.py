"""'Conversation changed' signals, published after a commit, for the live agent workspace.

A signal carries ids only: each listener reloads what it may see, so nothing private travels
through Redis and a listener can never show a stale copy. With Redis the signal reaches every
web worker (pub/sub); embedded, it reaches the subscribers of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterable

import redis

from pytake import redisio

log = logging.getLogger("pytake.realtime")
CHANNEL = "pytake:conversation-changed"
IDLE = 5.0  # seconds a listener waits for a message before asking again

_local: set[asyncio.Queue] = set()


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationChanged:
    organization_id: int
    conversation_id: int


async def publish(changes: Iterable[tuple[int, int]]) -> None:
    signals = [ConversationChanged(org, conversation) for org, conversation in changes]
    if not signals:
        return
    client = redisio.client()
    if client is None:
        for queue in _local:
            for signal in signals:
                queue.put_nowait(signal)
        return
    message = json.dumps([[s.organization_id, s.conversation_id] for s in signals])
    try:
        await client.publish(CHANNEL, message)
    except redis.RedisError as exc:
        # The data is committed; agents see it on their next load. Say so, don't fail the job.
        log.warning("live update not published: %s", exc)


async def subscribe() -> AsyncIterator[ConversationChanged]:
    client = redisio.client()
    if client is None:
        queue: asyncio.Queue = asyncio.Queue()
        _local.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            _local.discard(queue)
        return
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    try:
        while True:
            # A bounded wait: an idle channel must not hit the client's socket timeout.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=IDLE)
            if message is None:
                continue
            with contextlib.suppress(ValueError, TypeError):
                for org, conversation in json.loads(message["data"]):
                    yield ConversationChanged(int(org), int(conversation))
    finally:
        await pubsub.aclose()
