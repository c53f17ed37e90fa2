"""'Conversation changed' signals, published after a commit, for the live agent workspace.

A signal carries ids only: each web worker reads what changed once and shows it only to the
tabs allowed to see it, so nothing private travels through Redis. With Redis the signal
reaches every web worker (pub/sub); embedded, it reaches the subscribers of this process.

Every publication is numbered (one Redis counter, incremented and published by one script,
so the numbers reach subscribers in order): a web worker that sees a number skipped knows
it missed changes (pub/sub drops what arrives while a subscriber reconnects) and has its
tabs read their pages again, instead of showing a stale list as if it were current.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterable

import redis

from pytake import redisio

log = logging.getLogger("pytake.realtime")
CHANNEL = "pytake:conversation-changed"
SCOPE = 0  # the conversation id that means "the organization's scopes changed"
IDLE = 5.0  # seconds a listener waits for a message before asking again
SEQUENCE = "pytake:conversation-changed:seq"
DRAIN = 200  # publications read at most before the batch is handed on
# Numbered and published in one step, so no other publication can come in between.
_PUBLISH = """
local n = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], '{"seq":' .. n .. ',"changes":' .. ARGV[2] .. '}')
return n
"""

_local: set[asyncio.Queue] = set()
_local_seq = 0


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationChanged:
    organization_id: int
    conversation_id: int
    seq: int = dataclasses.field(default=0, compare=False)  # the publication's number


async def publish(changes: Iterable[tuple[int, int]]) -> None:
    global _local_seq
    pairs = [[int(org), int(conversation)] for org, conversation in changes]
    if not pairs:
        return
    client = redisio.client()
    if client is None:
        _local_seq += 1
        batch = [ConversationChanged(org, c, _local_seq) for org, c in pairs]
        for queue in _local:
            queue.put_nowait(batch)
        return
    try:
        await client.eval(_PUBLISH, 1, SEQUENCE, CHANNEL, json.dumps(pairs))
    except redis.RedisError as exc:
        # The data is committed; agents see it on their next load. Say so, don't fail the job.
        log.warning("live update not published: %s", exc)


async def scope_changed(organization_id: int) -> None:
    """Who sees what in the organization changed (roles, teams, its rule): its open pages
    read their member's scope and their page again. Told as conversation 0."""
    await publish([(organization_id, SCOPE)])


def _parse(data: bytes | str) -> list[ConversationChanged]:
    try:
        message = json.loads(data)
        seq = int(message["seq"])
        return [ConversationChanged(int(o), int(c), seq) for o, c in message["changes"]]
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("live update ignored: %s", exc)
        return []


async def current() -> int:
    """The number of the last publication (0: none since Redis started empty)."""
    client = redisio.client()
    if client is None:
        return _local_seq
    return int(await client.get(SEQUENCE) or 0)


async def batches() -> AsyncIterator[list[ConversationChanged]]:
    """What was published since the last batch, in order; waits when there is nothing.
    The first batch is empty and says the subscription is made (see ``current``)."""
    client = redisio.client()
    if client is None:
        queue: asyncio.Queue = asyncio.Queue()
        _local.add(queue)
        yield []  # subscribed
        try:
            while True:
                batch = await queue.get()
                while not queue.empty() and len(batch) < DRAIN * 10:
                    batch = batch + queue.get_nowait()
                yield batch
        finally:
            _local.discard(queue)
        return
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    yield []  # subscribed: what is published from now on arrives here
    try:
        while True:
            # A bounded wait: an idle channel must not hit the client's socket timeout.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=IDLE)
            if message is None:
                continue
            batch = _parse(message["data"])
            for _ in range(DRAIN - 1):
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
                if message is None:
                    break
                batch += _parse(message["data"])
            if batch:
                yield batch
    finally:
        await pubsub.aclose()


async def subscribe() -> AsyncIterator[ConversationChanged]:
    """Each change on its own, in order (for listeners that need no batches)."""
    async for batch in batches():
        for change in batch:
            yield change


def gap(last: int, seq: int) -> bool:
    """Whether publications were missed between ``last`` (0: none seen yet) and ``seq``: a
    number skipped, or the counter starting again (Redis flushed or replaced)."""
    return last > 0 and seq != last + 1
