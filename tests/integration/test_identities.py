"""The guard's identity cache against the real database, and revocations reaching every
worker when their transaction commits: through real Redis pub/sub, or embedded, from a CLI
process through the data folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pytake import db, redisio
from pytake.auth import identities, sessions
from pytake.auth.identities import IdentityCache
from pytake.auth.sessions import Identity
from pytake.models import Role, UserSession, utcnow
from pytake.realtime import push
from pytake.services import accounts, organization
from pytake.ui import guard
from pytake.web import routes

PASSWORD = "correct horse 1"
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """This process's cache, empty, on a clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(identities, "_cache", IdentityCache(clock=clock))
    return clock


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the test runs."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    engine = db.get_engine()
    sa.event.listen(engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(engine, "before_cursor_execute", record)


def signed_in(email: str) -> str:
    """A cookie header for a new session of ``email``."""
    with db.session() as s:
        _, ticket = accounts.sign_in(s, email=email, password=PASSWORD, ip=None, user_agent=None)
    with db.session() as s:
        return f"{sessions.COOKIE_NAME}={sessions.redeem_ticket(s, ticket)}"


def session_id(header: str) -> str:
    return sessions.session_id_from_cookie(sessions.parse_cookie_header(header))


@pytest.fixture
def people() -> dict:
    with db.session() as s:
        org, owner = accounts.setup(
            s, organization="Acme", name="Owner", email="owner@acme.test", password=PASSWORD
        )
        agent = accounts.add_user(
            s,
            organization_id=org.id,
            email="agent@acme.test",
            name="Agent",
            password=PASSWORD,
            role=Role.AGENT,
        )
    return {
        "org": org.id,
        "owner": owner.id,
        "agent": agent.id,
        "owner_cookie": signed_in("owner@acme.test"),
        "agent_cookie": signed_in("agent@acme.test"),
    }


def check(header: str, statements: list[str]) -> tuple[Identity | None, int]:
    """What the guard finds behind a cookie, and how many statements that took."""
    before = len(statements)
    found = guard.identity_from_headers(header)
    return found, len(statements) - before


def test_within_the_ttl_a_tab_s_identity_is_not_read_again(people, clock, statements):
    first, reads = check(people["agent_cookie"], statements)
    assert first.user_id == people["agent"] and reads > 0
    for _ in range(20):  # keystrokes
        clock.now += 0.2
        assert check(people["agent_cookie"], statements) == (first, 0)
    clock.now += identities.TTL_SECONDS
    again, reads = check(people["agent_cookie"], statements)
    assert again == first and reads > 0


def test_only_the_read_stamps_last_seen_at(people, clock, statements):
    cookie, sid = people["agent_cookie"], session_id(people["agent_cookie"])
    check(cookie, statements)
    long_ago = utcnow() - dt.timedelta(hours=1)
    with db.session() as s:
        s.execute(sa.update(UserSession).where(UserSession.id == sid).values(last_seen_at=long_ago))
    assert check(cookie, statements)[1] == 0  # from memory: no write either
    with db.session() as s:
        assert s.get(UserSession, sid).last_seen_at == long_ago
    clock.now += identities.TTL_SECONDS
    check(cookie, statements)
    with db.session() as s:
        assert s.get(UserSession, sid).last_seen_at > long_ago


def _agent_identity(people) -> Identity:
    with db.session() as s:
        return sessions.resolve(s, sessions.parse_cookie_header(people["agent_cookie"]))


def sign_out(s, people) -> None:
    accounts.sign_out(s, _agent_identity(people))


def sign_out_over_http(_s, people) -> None:
    routes._revoke_cookie_session(sessions.parse_cookie_header(people["agent_cookie"]))


def change_password_elsewhere(s, people) -> None:
    """The agent changes the password in another browser: every other session ends."""
    cookie = signed_in("agent@acme.test")
    with db.session() as other:
        elsewhere = sessions.resolve(other, sessions.parse_cookie_header(cookie))
    accounts.change_password(s, elsewhere, current=PASSWORD, new="another horse 2")


def make_supervisor(s, people) -> None:
    accounts.set_role(
        s, organization_id=people["org"], user_id=people["agent"], role=Role.SUPERVISOR
    )


def deactivate(s, people) -> None:
    accounts.set_active(s, organization_id=people["org"], user_id=people["agent"], active=False)


def rename(s, people) -> None:
    accounts.update_profile(s, _agent_identity(people), name="Agent Smith", language="pt-BR")


def restrict_visibility(s, people) -> None:
    organization.update(s, people["org"], {"visibility": "own"})


@pytest.mark.parametrize(
    ("change", "after", "owner_too"),
    [
        (sign_out, lambda found: found is None, False),
        (sign_out_over_http, lambda found: found is None, False),
        (change_password_elsewhere, lambda found: found is None, False),
        (make_supervisor, lambda found: found.role == Role.SUPERVISOR, False),
        (deactivate, lambda found: found is None, False),
        (rename, lambda found: (found.name, found.language) == ("Agent Smith", "pt-BR"), False),
        (restrict_visibility, lambda found: found.visibility == "own", True),
    ],
)
def test_a_change_is_seen_on_the_next_event_and_nothing_else_is_forgotten(
    people, clock, statements, change: Callable, after: Callable, owner_too: bool
):
    for header in (people["agent_cookie"], people["owner_cookie"]):
        check(header, statements)
    with db.session() as s:
        change(s, people)
    found, reads = check(people["agent_cookie"], statements)
    assert reads > 0 and after(found)
    if found is not None:  # the changed identity is remembered in turn
        assert check(people["agent_cookie"], statements) == (found, 0)
    owner, reads = check(people["owner_cookie"], statements)
    assert owner.role == Role.OWNER and (reads > 0) == owner_too


def test_forgotten_when_the_transaction_commits_and_not_if_it_rolls_back(people, clock, statements):
    header = people["agent_cookie"]
    remembered, _ = check(header, statements)

    class Refused(Exception):
        pass

    with pytest.raises(Refused), db.session() as s:
        accounts.sign_out(s, remembered)
        s.flush()
        raise Refused
    assert check(header, statements) == (remembered, 0)

    with db.session() as s:
        accounts.sign_out(s, remembered)
        s.flush()
        # Not yet committed: a tab reading now would read the old row, and remember it.
        assert check(header, statements) == (remembered, 0)
    assert check(header, statements)[0] is None


def test_a_tab_reading_as_the_revocation_commits_does_not_keep_the_old_identity(
    people, clock, statements
):
    header = people["agent_cookie"]
    remembered, _ = check(header, statements)
    seen: list[Identity | None] = []

    def read_just_before_commit(_connection) -> None:
        if not seen:  # once: the read's own session commits too
            seen.append(identities.recall(session_id(header), _read_only(header)))

    engine = db.get_engine()
    sa.event.listen(engine, "commit", read_just_before_commit)
    try:
        with db.session() as s:
            accounts.sign_out(s, remembered)
    finally:
        sa.event.remove(engine, "commit", read_just_before_commit)
    assert seen == [remembered]  # not committed yet: the old row is still the truth
    assert check(header, statements)[0] is None


def _read_only(header: str) -> Callable[[], Identity | None]:
    """A read that takes no write lock (the committing session holds SQLite's)."""

    def read() -> Identity | None:
        with db.session() as s:
            return sessions.resolve(s, sessions.parse_cookie_header(header))

    return read


# Across web workers: each has its own cache and subscribes to the revocations.


async def _followed(caches: list[IdentityCache]) -> list[asyncio.Task]:
    """A follower per cache, as each web worker runs; subscribed to Redis, or embedded,
    having read the signal file once."""
    tasks = [asyncio.create_task(identities.follow(cache)) for cache in caches]
    client = redisio.client()
    if client is None:
        await asyncio.sleep(identities.POLL_SECONDS)
        return tasks
    async with asyncio.timeout(5):
        while (await client.pubsub_numsub(identities.CHANNEL))[0][1] < len(tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # each follower forgets what it held when it subscribed
    return tasks


async def _stopped(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    async with asyncio.timeout(5):  # shutdown never waits on them
        await asyncio.gather(*tasks, return_exceptions=True)


def _load(header: str) -> Callable[[], Identity | None]:
    return functools.partial(guard._read_identity, sessions.parse_cookie_header(header))


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def _commit(change: Callable, people: dict) -> float:
    with db.session() as s:
        change(s, people)
    return time.monotonic()


def _remembers(cache: IdentityCache, header: str) -> bool:
    return cache.recall(session_id(header), lambda: None) is not None


@pytest.mark.parametrize(
    "change", [sign_out, change_password_elsewhere, make_supervisor, deactivate]
)
async def test_every_worker_forgets_a_revoked_identity_within_a_second(
    people, settings_env, redis_url, change
):
    settings_env(redis_url=redis_url)
    workers = [IdentityCache(), IdentityCache()]
    tasks = await _followed(workers)
    try:
        for cache in workers:
            for header in (people["agent_cookie"], people["owner_cookie"]):
                cache.recall(session_id(header), _load(header))

        committed = await asyncio.to_thread(_commit, change, people)  # as the UI does
        await _until(lambda: not any(_remembers(c, people["agent_cookie"]) for c in workers), 1)
        assert time.monotonic() - committed < 1
        assert all(_remembers(cache, people["owner_cookie"]) for cache in workers)
    finally:
        await _stopped(tasks)


class _Tabs:
    """Stands in for Reflex's event processor: which tabs were made to run an event."""

    def __init__(self) -> None:
        self.event_processor = self
        self.rechecked: list[str] = []

    async def enqueue(self, token, _event) -> None:
        self.rechecked.append(token)


@pytest.mark.parametrize(
    ("change", "embedded"),
    [
        (sign_out, False),
        (deactivate, False),
        (change_password_elsewhere, False),
        (deactivate, True),
    ],
)
async def test_the_open_tabs_of_an_ended_session_check_it_within_a_second(
    people, settings_env, redis_url, change, embedded
):
    """The tab then runs an event, which the guard refuses: the tab goes to sign in at
    once instead of at its next click. Other members' tabs are left alone (embedded, a
    revocation does not say whose: every tab checks)."""
    settings_env(redis_url=None if embedded else redis_url)
    tabs = _Tabs()
    agent_session = session_id(people["agent_cookie"])
    push.listen("agent-inbox", people["org"], people["agent"], agent_session)
    push.listen("agent-reports", people["org"], people["agent"], agent_session)
    push.listen("owner-inbox", people["org"], people["owner"], session_id(people["owner_cookie"]))
    recheck = functools.partial(push.recheck, tabs, handler="notice.recheck", connected=bool)
    follower = asyncio.create_task(identities.follow(IdentityCache(), then=recheck))
    try:
        await asyncio.sleep(identities.POLL_SECONDS + 0.2)  # subscribed, or the file read
        committed = await asyncio.to_thread(_commit, change, people)
        await _until(lambda: len(tabs.rechecked) >= 2, 1)
        assert time.monotonic() - committed < 1
        await asyncio.sleep(0.3)
        expected = ["agent-inbox", "agent-reports"] + (["owner-inbox"] if embedded else [])
        assert sorted(tabs.rechecked) == expected
    finally:
        await _stopped([follower])
        for tab in ("agent-inbox", "agent-reports", "owner-inbox"):
            push.forget(tab)


async def test_a_follower_forgets_everything_when_it_subscribes_again(
    people, settings_env, redis_url
):
    """Revocations published while it was not subscribed never reach it."""
    settings_env(redis_url=redis_url)
    cache = IdentityCache(ttl=60)  # so only the follower can make it forget
    tasks = await _followed([cache])
    try:
        header = people["agent_cookie"]
        cache.recall(session_id(header), _load(header))
        await redisio.client().client_kill_filter(_type="pubsub")  # Redis drops subscribers
        await _until(lambda: not _remembers(cache, header), identities.RESUBSCRIBE_SECONDS + 3)

        cache.recall(session_id(header), _load(header))  # subscribed again, and following
        await asyncio.to_thread(_commit, make_supervisor, people)
        await _until(lambda: not _remembers(cache, header), 1)
    finally:
        await _stopped(tasks)


@pytest.mark.parametrize("mode", ["embedded", "redis"])
async def test_a_cli_command_in_another_process_reaches_the_web_server_within_a_second(
    people, settings_env, request, mode
):
    """Embedded, the CLI has no Redis to publish on: it tells through the data folder."""
    settings_env(redis_url=request.getfixturevalue("redis_url") if mode == "redis" else None)
    cache = IdentityCache()
    tasks = await _followed([cache])
    try:
        header = people["agent_cookie"]
        cache.recall(session_id(header), _load(header))
        command = ["user", "deactivate", "--org", "acme", "--email", "agent@acme.test"]
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pytake", *command, cwd=ROOT, env=dict(os.environ)
        )
        assert await cli.wait() == 0
        await _until(lambda: not _remembers(cache, header), 1)
    finally:
        await _stopped(tasks)


def test_sessions_read_again_in_one_statement_and_ended_ones_found_ended(people, statements):
    owner, agent = session_id(people["owner_cookie"]), session_id(people["agent_cookie"])
    with db.session() as s:
        sessions.revoke(s, agent, "signed_out")
    before = len(statements)
    found = guard.read_identities([owner, agent, "no-such-session"])
    assert len([s for s in statements[before:] if "user_session" in s and "SELECT" in s]) == 1
    assert found[owner].user_id == people["owner"]
    assert found[agent] is None and found["no-such-session"] is None


async def test_a_worker_keeps_its_tabs_identities_fresh_without_their_events_reading(
    people, clock, statements, monkeypatch
):
    monkeypatch.setattr(identities, "REFRESH_SECONDS", 0.01)
    first, _ = check(people["agent_cookie"], statements)
    clock.now += identities.TTL_SECONDS / 2  # due for a refresh
    task = asyncio.create_task(identities.keep_fresh(guard.read_identities))
    try:
        async with asyncio.timeout(5):
            while identities._cache.due(1.0, 60.0)[0]:  # noqa: ASYNC110  (read again?)
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    clock.now += identities.TTL_SECONDS * 0.9  # past the first read's TTL, not the refresh's
    assert check(people["agent_cookie"], statements) == (first, 0)
