"""The job runners for real: the in-process loop, and Redis Streams consumer groups
(acknowledged after commit, reclaimed from dead consumers, dead-lettered, swept)."""

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pytake import db, redisio
from pytake.jobs import runner
from pytake.models import Message, WebhookEvent
from pytake.sandbox import payloads as p
from tests.integration.conftest import ANA, rows

WEBHOOK = runner.JOBS["webhook"]


async def _until(predicate) -> None:
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 (the database is polled)
            await asyncio.sleep(0.05)


async def _stop(task: asyncio.Task) -> None:
    """Cancel the runner; it must stop promptly (a swallowed cancellation would hang)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    if not done:  # name the child that ignored its cancellation
        for other in asyncio.all_tasks():
            other.print_stack(file=sys.stderr)
    assert done, "the runner did not stop within 10 s of its cancellation"
    assert task.cancelled()


async def test_a_loop_stops_even_when_its_action_swallowed_the_cancellation():
    started = asyncio.Event()

    async def swallowing() -> None:  # as some library calls do on 3.11
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)

    task = asyncio.create_task(runner._every(3600, swallowing, "swallowing"))
    await started.wait()
    await _stop(task)


@contextlib.asynccontextmanager
async def _serving():
    task = asyncio.create_task(runner.serve())
    try:
        yield
    finally:
        await _stop(task)


async def test_embedded_runner_processes_webhooks_as_they_arrive(whatsapp, settings_env):
    settings_env(redis_url=None)
    media_id = whatsapp.sim.add_media(b"\xff\xd8jpeg", "image/jpeg")
    async with _serving():
        await whatsapp.send(p.text("hi", sender=ANA), p.image(media_id, sender=ANA))
        await _until(lambda: len(rows(Message)) == 2)
    assert rows(WebhookEvent)[0].state == "done"


async def test_a_batch_that_fails_as_a_whole_is_applied_one_event_at_a_time(whatsapp):
    tried: list[list[int]] = []

    async def deadlocked(event_ids: list[int]):  # what a deadlock with another batch does
        tried.append(event_ids)
        raise sa.exc.OperationalError("UPDATE conversation", {}, Exception("deadlock detected"))

    for n in range(3):
        await whatsapp.send(p.text(f"part {n}", sender=ANA))
    events = [event.id for event in rows(WebhookEvent)]
    await runner.handle_many(dataclasses.replace(WEBHOOK, run_many=deadlocked), events)
    assert tried == [events]
    assert [m.content["body"] for m in rows(Message)] == ["part 0", "part 1", "part 2"]
    assert [(e.state, e.attempts) for e in rows(WebhookEvent)] == [("done", 1)] * 3


async def test_a_stream_read_takes_a_batch_and_acknowledges_it(whatsapp, streams):
    for n in range(4):
        await whatsapp.send(p.text(f"part {n}", sender=ANA))
    entries = (
        await streams.xreadgroup(runner.GROUP, "w", {WEBHOOK.stream: ">"}, count=WEBHOOK.batch)
    )[0][1]
    assert len(entries) == 4
    await runner._settle(streams, WEBHOOK, [*entries, (b"0-1", {b"id": b"not a number"})])
    assert [m.content["body"] for m in rows(Message)] == [f"part {n}" for n in range(4)]
    assert {e.state for e in rows(WebhookEvent)} == {"done"}
    assert (await streams.xpending(WEBHOOK.stream, runner.GROUP))["pending"] == 0


@pytest.fixture
async def streams(whatsapp, settings_env, redis_url):
    settings_env(redis_url=redis_url)
    client = redisio.client()
    await runner._ensure_group(client, WEBHOOK)
    yield client
    await redisio.close()


async def test_redis_runner_processes_webhooks(whatsapp, streams):
    media_id = whatsapp.sim.add_media(b"\xff\xd8jpeg", "image/jpeg")
    async with _serving():
        await whatsapp.send(p.text("hi", sender=ANA), p.image(media_id, sender=ANA))
        await _until(lambda: len(rows(Message)) == 2)
        await _until(lambda: rows(WebhookEvent)[0].state == "done")
        async with asyncio.timeout(10):  # acknowledged once the commit is announced
            while (await streams.xpending(WEBHOOK.stream, runner.GROUP))["pending"]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)


async def _dies_reading(client, consumer: str):
    """A consumer takes the next entry and dies before finishing and acknowledging it."""
    (entry,) = (await client.xreadgroup(runner.GROUP, consumer, {WEBHOOK.stream: ">"}))[0][1]
    return entry


async def _retry_time_comes(client) -> None:
    with db.session() as s:
        s.execute(sa.update(WebhookEvent).values(next_attempt_at=dt.datetime.now(dt.UTC)))
    assert await runner.sweep(client, WEBHOOK) == 1


async def test_entry_of_a_killed_consumer_is_reclaimed_and_applied_once(whatsapp, streams):
    await whatsapp.send(p.text("survives", sender=ANA))
    await _dies_reading(streams, "dead-worker")
    impatient = dataclasses.replace(WEBHOOK, claim_idle=dt.timedelta(0))
    assert await runner.reclaim(streams, impatient, "live-worker") == 1
    (event,) = rows(WebhookEvent)
    assert (event.state, event.attempts) == ("pending", 1)  # the lost attempt is counted
    assert (await streams.xpending(WEBHOOK.stream, runner.GROUP))["pending"] == 0
    await _retry_time_comes(streams)
    entry = await _dies_reading(streams, "live-worker")
    await runner._settle(streams, WEBHOOK, [entry])
    assert [m.content["body"] for m in rows(Message)] == ["survives"]
    assert rows(WebhookEvent)[0].state == "done"
    assert (await streams.xpending(WEBHOOK.stream, runner.GROUP))["pending"] == 0
    assert await runner.reclaim(streams, impatient, "live-worker") == 0
    assert b"dead-worker" in await _consumers(streams)


async def _consumers(client) -> set[bytes]:
    return {c["name"] for c in await client.xinfo_consumers(WEBHOOK.stream, runner.GROUP)}


async def test_consumers_of_restarted_workers_are_forgotten(whatsapp, streams, monkeypatch):
    await whatsapp.send(p.text("hello", sender=ANA))
    entry = await _dies_reading(streams, "worker-before-restart")
    await runner._settle(streams, WEBHOOK, [entry])  # holds nothing any more
    impatient = dataclasses.replace(WEBHOOK, claim_idle=dt.timedelta(0))
    await runner.reclaim(streams, impatient, "new-worker")
    assert b"worker-before-restart" in await _consumers(streams)  # idle only briefly
    monkeypatch.setattr(runner, "CONSUMER_FORGET_AFTER", dt.timedelta(0))
    await asyncio.sleep(0.01)
    await runner.reclaim(streams, impatient, "new-worker")
    assert b"worker-before-restart" not in await _consumers(streams)


async def test_entry_that_keeps_killing_workers_is_dead_lettered(whatsapp, streams, settings_env):
    settings_env(job_max_attempts="2")
    await whatsapp.send(p.text("poison", sender=ANA))
    impatient = dataclasses.replace(WEBHOOK, claim_idle=dt.timedelta(0))
    await _dies_reading(streams, "w1")
    await runner.reclaim(streams, impatient, "w2")
    await _retry_time_comes(streams)
    await _dies_reading(streams, "w2")
    await runner.reclaim(streams, impatient, "w3")
    (event,) = rows(WebhookEvent)
    assert (event.state, event.attempts) == ("dead", 2)
    assert "stopped before finishing" in event.error
    assert rows(Message) == []
    assert (await streams.xpending(WEBHOOK.stream, runner.GROUP))["pending"] == 0


async def test_consumers_recreate_a_lost_group(whatsapp, streams):
    task = asyncio.create_task(runner.serve())
    try:
        await asyncio.sleep(0.3)
        await streams.delete(WEBHOOK.stream)  # Redis restarted empty
        await whatsapp.send(p.text("after the loss", sender=ANA))
        await _until(lambda: len(rows(Message)) == 1)
    finally:
        await _stop(task)


async def test_embedded_runner_survives_the_database_going_away(
    whatsapp, settings_env, environment
):
    settings_env(redis_url=None)
    task = asyncio.create_task(runner.serve())
    try:
        settings_env(database_url="postgresql://nobody@127.0.0.1:1/none")
        await asyncio.sleep(1.5)  # the loops hit errors meanwhile
        settings_env(database_url=environment)
        await whatsapp.send(p.text("back again", sender=ANA))
        await _until(lambda: len(rows(Message)) == 1)
        assert not task.done()
    finally:
        await _stop(task)


async def test_sweeper_requeues_due_retries_once_at_a_time(whatsapp, streams):
    await whatsapp.send(p.text("retry me", sender=ANA))
    await streams.xtrim(WEBHOOK.stream, maxlen=0)  # as if the stream entry were lost
    with db.session() as s:
        s.execute(
            sa.update(WebhookEvent).values(
                next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    assert await runner.sweep(streams, WEBHOOK) == 1
    assert await runner.sweep(streams, WEBHOOK) == 0  # another sweeper holds the lock
    assert await streams.xlen(WEBHOOK.stream) == 1
    (event,) = rows(WebhookEvent)
    assert event.next_attempt_at > dt.datetime.now(dt.UTC)  # leased, not swept again soon


async def test_enqueue_without_redis_leaves_the_row_due_for_the_sweeper(whatsapp, settings_env):
    settings_env(redis_url="redis://127.0.0.1:1/0")
    assert (await whatsapp.send(p.text("not lost", sender=ANA))).status_code == 200
    (event,) = rows(WebhookEvent)
    assert event.state == "pending" and event.next_attempt_at is not None
    now = dt.datetime.now(dt.UTC)
    with db.session() as s:
        assert WEBHOOK.queue.due(s, 10, now, now - runner.LEASE) == [event.id]
    await redisio.close()


def _autogroup_nice(pid: int) -> int | None:
    """The nice value of a process's session (Linux with autogroups; else None)."""
    autogroup = Path(f"/proc/{pid}/autogroup")  # "/autogroup-123 nice 10"
    return int(autogroup.read_text().split()[-1]) if autogroup.exists() else None


async def test_worker_process_consumes_what_the_web_process_accepted(
    whatsapp, streams, environment, redis_url, tmp_path
):
    env = {
        **os.environ,
        "PYTAKE_DATABASE_URL": environment,
        "PYTAKE_REDIS_URL": redis_url,
        "PYTAKE_DATA_DIR": str(tmp_path),
        "PYTAKE_WORKER_NICE": "5",
    }
    worker = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pytake", "worker"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # as systemd starts it
    )
    try:
        await whatsapp.send(p.text("for the worker", sender=ANA))
        await _until(lambda: rows(WebhookEvent)[0].state == "done")
        assert [m.content["body"] for m in rows(Message)] == ["for the worker"]
        # Told to, it yields the CPU to web processes: its nice value, and its session's.
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 5
        assert _autogroup_nice(worker.pid) in (None, 5)
    finally:
        worker.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            output, _ = await worker.communicate()
    assert worker.returncode == 0, output
    assert b"worker stopped" in output


async def test_only_changes_that_may_leave_someone_waiting_run_the_assignment_pass(
    monkeypatch,
):
    from pytake.jobs import assignment, outbox
    from pytake.services.effects import Effects

    passes = []

    async def assign_waiting(organizations=None) -> int:
        passes.append(set(organizations))
        return 0

    monkeypatch.setattr(assignment, "assign_waiting", assign_waiting)
    await runner.announce(outbox._effects((1, 7)))  # a send's outcome
    assert passes == []
    written = Effects()  # a customer wrote
    written.conversations.add((1, 7))
    await runner.announce(written)
    assert passes == [{1}]
