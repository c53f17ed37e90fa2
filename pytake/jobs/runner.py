"""Running jobs: Redis Streams consumer groups in production, an in-process loop embedded.

Production: a row id is added to the job's stream after its row is committed; consumers of the
group ``pytake`` (in every web worker and in ``python -m pytake worker``) take ids, run the job,
and acknowledge only after the job's transaction committed. Entries of a consumer that died are
reclaimed after ``claim_idle``; an entry delivered more than ``PYTAKE_JOB_MAX_ATTEMPTS`` times is
given up (dead-lettered, its error kept). One sweeper at a time (a Redis lock) re-adds rows whose
retry time has come, and rows whose stream entry was lost.

Embedded: one loop per job reads due rows straight from the table, woken at once by
``enqueue`` in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable

import redis

from pytake import db, redisio, staging
from pytake.aio import pause, stop_if_cancelled
from pytake.auth import throttle
from pytake.jobs import alerts, assignment, flows, media, outbox, templates, webhooks
from pytake.jobs.rows import RowQueue
from pytake.models import utcnow
from pytake.realtime import signals
from pytake.services import actions, inbound_statuses, retention
from pytake.services import alerts as alerts_service
from pytake.services.effects import Effects
from pytake.settings import get_settings

log = logging.getLogger("pytake.jobs")

GROUP = "pytake"
LEASE = dt.timedelta(minutes=5)  # a row handed to the stream is not re-added before this
SWEEP_SECONDS = 2.0
ASSIGN_SECONDS = 5.0
SWEEP_LOCK_SECONDS = 30
ERROR_PAUSE_SECONDS = 1.0
ENQUEUE_TIMEOUT_SECONDS = 3.0
IDLE_POLL_SECONDS = 1.0
STREAM_MAXLEN = 100_000
PARKED_TTL = dt.timedelta(days=7)
ALERTS_KEPT = dt.timedelta(days=30)
CONSUMER_FORGET_AFTER = dt.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    queue: RowQueue
    run: Callable[[int], Awaitable[Effects | None]]
    concurrency: int
    claim_idle: dt.timedelta
    writes_while_running: bool = False  # one at a time on SQLite (a single writer)
    # Runs up to ``batch`` rows at once (one transaction) when several are waiting.
    run_many: Callable[[list[int]], Awaitable[Effects | None]] | None = None
    batch: int = 1

    @property
    def stream(self) -> str:
        return f"pytake:jobs:{self.name}"


async def _process_webhook(event_id: int) -> Effects | None:
    return await asyncio.to_thread(functools.partial(webhooks.process, [event_id], isolated=True))


async def _process_webhooks(event_ids: list[int]) -> Effects | None:
    return await asyncio.to_thread(webhooks.process, event_ids)


JOBS = {
    "webhook": Job(
        "webhook",
        webhooks.QUEUE,
        _process_webhook,
        concurrency=2,
        claim_idle=dt.timedelta(seconds=60),
        writes_while_running=True,
        # Under load, 25 events share a commit and their organizations' settings; a batch
        # holds its conversations' row locks for about a quarter of a second.
        run_many=_process_webhooks,
        batch=25,
    ),
    "media": Job(
        "media", media.QUEUE, media.download, concurrency=2, claim_idle=dt.timedelta(minutes=10)
    ),
    # Chatbot runs: a pass may wait on an HTTP step's outside system.
    "flow": Job(
        "flow",
        flows.QUEUE,
        flows.advance,
        concurrency=2,
        claim_idle=dt.timedelta(minutes=2),
        writes_while_running=True,
    ),
    # Pushes and e-mails to members away from the app.
    "alert": Job(
        "alert", alerts.QUEUE, alerts.deliver, concurrency=2, claim_idle=dt.timedelta(minutes=2)
    ),
    # Sends wait on the network and on rate limits, not on the database; a stalled call holds
    # its slot up to the read timeout (1 % of calls timing out at 100/s hold 30 slots).
    "outbox": Job(
        "outbox", outbox.QUEUE, outbox.deliver, concurrency=64, claim_idle=dt.timedelta(minutes=2)
    ),
}
_wakeups: dict[str, asyncio.Event] = {}


def _wakeup(name: str) -> asyncio.Event:
    # Events belong to a loop; a new loop (tests, the worker process) gets new ones.
    event = _wakeups.get(name)
    if event is None or getattr(event, "_pytake_loop", None) is not asyncio.get_running_loop():
        event = _wakeups[name] = asyncio.Event()
        event._pytake_loop = asyncio.get_running_loop()  # type: ignore[attr-defined]
    return event


async def enqueue(name: str, ids: list[int]) -> None:
    """Hand committed rows to the workers; if Redis fails, the sweeper will find them."""
    if not ids:
        return
    client = redisio.client()
    if client is None:
        _wakeup(name).set()
        return
    job = JOBS[name]
    try:
        # A webhook's answer must never wait on a sick Redis: the rows are committed already.
        async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
            async with client.pipeline(transaction=False) as pipe:
                for row_id in ids:
                    pipe.xadd(job.stream, {"id": row_id}, maxlen=STREAM_MAXLEN, approximate=True)
                await pipe.execute()
    except (redis.RedisError, TimeoutError) as exc:
        log.warning("%s: Redis unavailable (%s); the sweeper will pick the rows up", name, exc)
        try:
            await asyncio.to_thread(_due_now, job, ids)
        except Exception as db_exc:  # committed rows are found by the sweeper's lease check
            log.warning("%s: rows %s wait for the sweeper: %s", name, ids, db_exc)


def _due_now(job: Job, ids: list[int]) -> None:
    with db.session(write=True) as s:
        job.queue.lease(s, ids, utcnow())


async def announce(effects: Effects | None) -> None:
    """After a transaction committed (a job's, or an agent's action in the app): live
    signals, the downloads, sends and bot runs it scheduled, and assignment."""
    if effects is None:
        return
    await signals.publish(effects.conversations)
    await enqueue("media", effects.attachments)
    await enqueue("outbox", effects.outbox)
    await enqueue("flow", effects.flows)
    if effects.conversations and effects.assignable:
        await assignment.assign_waiting({org for org, _ in effects.conversations})


async def handle(job: Job, row_id: int) -> None:
    try:
        effects = await job.run(row_id)
    except Exception as exc:
        log.exception("%s %s failed", job.name, row_id)
        await asyncio.to_thread(job.queue.fail, row_id, f"{type(exc).__name__}: {exc}")
        return
    await announce(effects)


async def handle_many(job: Job, row_ids: list[int]) -> None:
    """Rows in one run when the job can (even a single row: the batch's way is the cheap
    one); if that run fails as a whole (a deadlock with another batch, a failing item),
    each row on its own, so only a row that fails alone is counted as failed."""
    if not row_ids:
        return
    if job.run_many is None:
        for row_id in row_ids:
            await handle(job, row_id)
        return
    try:
        effects = await job.run_many(row_ids)
    except Exception as exc:
        log.warning("%s: a batch of %s failed (%r); one at a time", job.name, len(row_ids), exc)
        for row_id in row_ids:
            await handle(job, row_id)
        return
    await announce(effects)


# Embedded ---------------------------------------------------------------------------------------


async def run_local(job: Job) -> None:
    wakeup, running, tasks = _wakeup(job.name), set[int](), set[asyncio.Task]()
    serial = job.writes_while_running and get_settings().is_sqlite
    slots = asyncio.Semaphore(1 if serial else job.concurrency)

    async def some(row_ids: list[int]) -> None:
        try:
            await handle_many(job, row_ids)
        except Exception:
            log.exception("%s %s: could not record the outcome", job.name, row_ids)
        finally:
            running.difference_update(row_ids)
            slots.release()
            wakeup.set()

    try:
        while True:
            stop_if_cancelled()
            wakeup.clear()
            now = utcnow()
            try:
                ids = await asyncio.to_thread(_due, job, now, now + dt.timedelta(seconds=1))
            except Exception as exc:  # the database is away: keep waiting for it
                log.warning("%s: cannot read the queue: %s", job.name, exc)
                await pause(ERROR_PAUSE_SECONDS)
                continue
            fresh = [row_id for row_id in ids if row_id not in running]
            for start in range(0, len(fresh), job.batch):
                batch = fresh[start : start + job.batch]
                await slots.acquire()
                running.update(batch)
                task = asyncio.create_task(some(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if not fresh:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that arrives as the wakeup fires, and shutdown would then hang.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL_SECONDS):
                        await wakeup.wait()
    finally:
        for task in tasks:
            task.cancel()


def _due(job: Job, now: dt.datetime, fresh_before: dt.datetime) -> list[int]:
    with db.session() as s:
        return job.queue.due(s, 200, now, fresh_before)


# Redis Streams ------------------------------------------------------------------------------------


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def _ensure_group(client, job: Job) -> None:
    try:
        await client.xgroup_create(job.stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _consume(
    client, job: Job, consumer: str, slots: asyncio.Semaphore, tasks: asyncio.TaskGroup
) -> None:
    """One reader per job and process, whatever the job's concurrency: a blocking read holds
    a Redis connection for its whole wait, and 64 readers for the outbox alone held 64.
    It reads only when a slot is free, so a busy process leaves entries to idle ones."""
    while True:
        stop_if_cancelled()  # a job's Redis call may have swallowed it (see below)
        await slots.acquire()
        try:
            entries = await client.xreadgroup(
                GROUP, consumer, {job.stream: ">"}, count=job.batch, block=2000
            )
        except redis.ResponseError as exc:
            slots.release()
            if "NOGROUP" not in str(exc):
                raise
            # Redis restarted empty or the key was evicted: the rows are safe, recreate.
            log.warning("%s: consumer group lost, recreating it", job.name)
            await _ensure_group(client, job)
            continue
        except BaseException:
            slots.release()
            raise
        items = [item for _stream, stream_items in entries or [] for item in stream_items]
        if not items:
            slots.release()
            continue
        tasks.create_task(_settle_in_slot(client, job, items, slots))


async def _settle_in_slot(client, job: Job, entries: list, slots: asyncio.Semaphore) -> None:
    try:
        await _settle(client, job, entries)
    except (redis.RedisError, OSError) as exc:  # unacknowledged: reclaimed, then retried
        log.warning("%s: could not acknowledge %s entries: %s", job.name, len(entries), exc)
    except Exception:
        log.exception("%s: entries %s", job.name, [entry_id for entry_id, _ in entries])
    finally:
        slots.release()


def _row_id(fields: dict) -> int | None:
    try:
        return int(fields.get(b"id") or fields.get("id"))
    except (TypeError, ValueError):
        return None


async def _settle(client, job: Job, entries: list) -> None:
    row_ids = []
    for entry_id, fields in entries:
        row_id = _row_id(fields)
        if row_id is None:
            log.error("%s: dropping malformed stream entry %s", job.name, entry_id)
        elif row_id not in row_ids:  # the sweeper may have added a row twice
            row_ids.append(row_id)
    await handle_many(job, row_ids)
    await client.xack(job.stream, GROUP, *(entry_id for entry_id, _fields in entries))


async def reclaim(client, job: Job, consumer: str) -> int:
    """Take over entries a dead consumer read but never acknowledged.

    The attempt is counted on the row before anything runs again, so an entry that kills
    every worker ends up given up (with ``PYTAKE_JOB_MAX_ATTEMPTS``) instead of looping;
    the sweeper brings the row back when its retry time comes.
    """
    idle = int(job.claim_idle.total_seconds() * 1000)
    _next, claimed, *_deleted = await client.xautoclaim(
        job.stream, GROUP, consumer, min_idle_time=idle, start_id="0-0", count=50
    )
    for entry_id, fields in claimed:
        row_id = _row_id(fields)
        if row_id is not None:
            await asyncio.to_thread(
                job.queue.fail, row_id, "its worker stopped before finishing it"
            )
        await client.xack(job.stream, GROUP, entry_id)
    await _forget_gone_consumers(client, job)
    return len(claimed)


async def _forget_gone_consumers(client, job: Job) -> None:
    """Restarted workers leave their consumer names behind; drop those holding nothing.
    (A live consumer deleted while idle is recreated by its next read.)"""
    idle_ms = CONSUMER_FORGET_AFTER.total_seconds() * 1000
    for consumer in await client.xinfo_consumers(job.stream, GROUP):
        if consumer["pending"] == 0 and consumer["idle"] > idle_ms:
            await client.xgroup_delconsumer(job.stream, GROUP, consumer["name"])


async def sweep(client, job: Job) -> int:
    """Re-add rows due for a retry, or lost on their way to the stream; one sweeper at a
    time across all workers."""
    async with redisio.exclusive(client, f"sweep:{job.name}", SWEEP_LOCK_SECONDS) as mine:
        if not mine:
            return 0
        ids = await asyncio.to_thread(_lease_due, job, utcnow())
        await enqueue(job.name, ids)
        return len(ids)


def _lease_due(job: Job, now: dt.datetime) -> list[int]:
    with db.session(write=True) as s:
        ids = job.queue.due(s, 500, now, now - LEASE)
        job.queue.lease(s, ids, now + LEASE)
        return ids


async def _every(
    seconds: float, action: Callable[[], Awaitable[object]], what: str, first_after: float = 0
) -> None:
    """Run ``action`` forever, ``seconds`` apart, and never let an error end the loop."""
    await asyncio.sleep(first_after)
    while True:
        stop_if_cancelled()
        wait = seconds
        try:
            await action()
        except (redis.RedisError, OSError) as exc:
            log.warning("%s: %s", what, exc)
            wait = max(seconds, ERROR_PAUSE_SECONDS)
        except Exception:
            log.exception("%s failed", what)
            wait = max(seconds, ERROR_PAUSE_SECONDS)
        await pause(wait)


async def _reclaim_or_regroup(client, job: Job, consumer: str) -> int:
    try:
        return await reclaim(client, job, consumer)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        await _ensure_group(client, job)
        return 0


async def run_redis(job: Job) -> None:
    client = redisio.client()
    consumer = consumer_name()
    while True:
        stop_if_cancelled()
        try:
            await _ensure_group(client, job)
            break
        except (redis.RedisError, OSError) as exc:
            log.warning("%s: waiting for Redis: %s", job.name, exc)
            await pause(2)

    slots = asyncio.Semaphore(job.concurrency)
    # A cancellation that redis-py swallowed while the group was made must stop us here: once
    # inside, the task group would wait for children nobody cancels (shutdown hung).
    stop_if_cancelled()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(
            _every(0, lambda: _consume(client, job, consumer, slots, tasks), f"{job.name} consumer")
        )
        reclaim_every = max(job.claim_idle.total_seconds() / 4, 1.0)
        tasks.create_task(
            _every(
                reclaim_every,
                lambda: _reclaim_or_regroup(client, job, consumer),
                f"{job.name} reclaim",
            )
        )
        tasks.create_task(_every(SWEEP_SECONDS, lambda: sweep(client, job), f"{job.name} sweep"))


# Both ---------------------------------------------------------------------------------------------


def _purge() -> None:
    with db.session(write=True) as s:
        purged = inbound_statuses.purge_parked(s, PARKED_TTL)
        told = alerts_service.purge(s, ALERTS_KEPT)
        throttle.forget_expired(s)
    swept = staging.sweep()
    if swept:
        log.info("deleted %s uploads left in the staging folder", swept)
    if purged:
        log.info("dropped %s statuses of messages never seen", purged)
    if told:
        log.info("dropped %s alerts told long ago", told)


def _retention() -> None:
    """Delete in batches until nothing is due; files go only after their rows are gone."""
    while True:
        with db.session(write=True) as s:
            purged = retention.purge_batch(s)
        removed = retention.delete_files(purged.files)
        if not (purged.conversations or purged.webhooks):
            return
        log.info(
            "retention: deleted %s conversations (%s files) and %s webhook bodies",
            purged.conversations,
            removed,
            purged.webhooks,
        )


async def apply_waiting() -> None:
    def run() -> Effects:
        effects = Effects()
        with db.session(write=True) as s:
            inbound_statuses.apply_waiting(s, effects)
        return effects

    await announce(await asyncio.to_thread(run))


async def wake_snoozed() -> None:
    def run() -> list[tuple[int, int]]:
        with db.session(write=True) as s:
            return actions.wake_snoozed(s)

    await signals.publish(await asyncio.to_thread(run))


async def recover_stuck_sends() -> None:
    await announce(await asyncio.to_thread(outbox.recover_stuck))


async def serve() -> None:
    """Run every job until cancelled (the web app's lifespan, or ``pytake worker``)."""
    runner = run_redis if get_settings().redis_url else run_local
    async with asyncio.TaskGroup() as tasks:
        for job in JOBS.values():
            tasks.create_task(runner(job))
        tasks.create_task(_every(30, apply_waiting, "parked updates"))
        tasks.create_task(_every(30, recover_stuck_sends, "stuck sends"))
        tasks.create_task(_every(30, wake_snoozed, "snoozed conversations"))
        # Presence changes (an agent coming online) and freed capacity are caught here too.
        tasks.create_task(_every(ASSIGN_SECONDS, assignment.assign_waiting, "auto-assignment"))
        # Not at start: a worker that starts and stops at once never waits on the Graph API.
        tasks.create_task(_every(300, templates.sync_due, "template sync", first_after=60))
        tasks.create_task(_every(3600, lambda: asyncio.to_thread(_purge), "parked purge"))
        tasks.create_task(
            _every(3600, lambda: asyncio.to_thread(_retention), "retention", first_after=120)
        )
