"""The per-process identity cache: how long it remembers, how much, and what it forgets."""

from __future__ import annotations

import pytest

from pytake.auth.identities import IdentityCache, Revocation
from pytake.auth.sessions import Identity
from pytake.models import Role


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Stands in for the database read; counts how often it is asked."""

    def __init__(self, identity: Identity | None) -> None:
        self.identity, self.calls = identity, 0

    def __call__(self) -> Identity | None:
        self.calls += 1
        return self.identity


def identity(session_id: str = "s1", user_id: int = 1, organization_id: int = 10) -> Identity:
    return Identity(user_id, organization_id, Role.AGENT, session_id, "Ana", "ana@a.co", None)


def remembered(cache: IdentityCache, session_id: str) -> Identity | None:
    """What the cache answers without reading (a read would find nothing)."""
    return cache.recall(session_id, lambda: None)


def test_within_the_ttl_the_identity_is_not_read_again_and_after_it_it_is():
    clock = Clock()
    cache = IdentityCache(ttl=5.0, clock=clock)
    load = Loader(identity())
    assert cache.recall("s1", load) == identity()
    clock.now += 4.9
    assert cache.recall("s1", load) == identity()
    assert load.calls == 1
    clock.now += 0.2
    assert cache.recall("s1", load) == identity()
    assert load.calls == 2


def test_a_session_that_does_not_resolve_is_not_remembered():
    cache = IdentityCache(clock=Clock())
    load = Loader(None)
    assert cache.recall("s1", load) is None
    assert cache.recall("s1", load) is None
    assert load.calls == 2 and len(cache) == 0


def test_the_least_recently_used_go_first_when_full():
    cache = IdentityCache(capacity=3, clock=Clock())
    for n in range(3):
        cache.recall(f"s{n}", Loader(identity(f"s{n}")))
    remembered(cache, "s0")  # used again: s1 is now the least recent
    for n in range(3, 1003):  # a flood of distinct sessions
        cache.recall(f"s{n}", Loader(identity(f"s{n}")))
    assert len(cache) == 3
    assert remembered(cache, "s1") is None
    assert remembered(cache, "s1002") is not None


@pytest.mark.parametrize(
    ("revocation", "gone"),
    [
        (Revocation(sessions=frozenset({"s1"})), {"s1"}),
        (Revocation(users=frozenset({2})), {"s2", "s3"}),
        (Revocation(organizations=frozenset({20})), {"s3", "s4"}),
        (Revocation(), set()),
    ],
)
def test_forgetting_by_session_user_or_organization(revocation, gone):
    cache = IdentityCache(clock=Clock())
    people = {
        "s1": identity("s1", 1, 10),
        "s2": identity("s2", 2, 10),
        "s3": identity("s3", 2, 20),  # the same user, signed in to another organization
        "s4": identity("s4", 4, 20),
    }
    for session_id, person in people.items():
        cache.recall(session_id, Loader(person))
    cache.forget(revocation)
    assert {sid for sid in people if remembered(cache, sid) is None} == gone


def test_a_read_under_way_when_something_is_forgotten_is_not_remembered():
    """It may have read the row before the revocation committed."""
    cache = IdentityCache(clock=Clock())

    def read_then_revoked_elsewhere() -> Identity:
        cache.forget(Revocation(users=frozenset({99})))  # any forgetting, while reading
        return identity()

    assert cache.recall("s1", read_then_revoked_elsewhere) == identity()
    load = Loader(identity())
    cache.recall("s1", load)
    assert load.calls == 1  # read again, and from now on remembered
    cache.recall("s1", load)
    assert load.calls == 1


def test_revocations_travel_as_text_and_garbage_is_recognised():
    revocation = Revocation(frozenset({"a", "b"}), frozenset({1}), frozenset({7, 8}))
    assert Revocation.decode(revocation.encode()) == revocation
    assert Revocation.decode(revocation.encode().encode()) == revocation  # bytes from Redis
    for garbage in (b"", b"{}", b"[1, 2]", b'[["a"], ["x"], []]', b"null"):
        assert Revocation.decode(garbage) is None


def test_due_lists_only_what_tabs_use_and_is_getting_old():
    clock = Clock()
    cache = IdentityCache(ttl=5.0, clock=clock)
    for name in ("busy", "idle"):
        cache.recall(name, Loader(identity(name)))
    clock.now += 2.0
    assert cache.due(2.5, 60.0)[0] == []  # read 2 s ago: not yet
    clock.now += 1.0
    remembered(cache, "busy")
    assert sorted(cache.due(2.5, 60.0)[0]) == ["busy", "idle"]
    clock.now += 58.0  # "idle" not recalled for a minute: its tab went away
    remembered(cache, "busy")  # expired: read again (finding nothing here), so gone
    cache.recall("busy", Loader(identity("busy")))
    clock.now += 3.0
    assert cache.due(2.5, 60.0)[0] == ["busy"]


def test_a_refresh_keeps_tabs_from_reading_and_drops_ended_sessions():
    clock = Clock()
    cache = IdentityCache(ttl=5.0, clock=clock)
    for name in ("s1", "s2"):
        cache.recall(name, Loader(identity(name)))
    clock.now += 3.0
    wanted, began, forgettings = cache.due(2.5, 60.0)
    assert sorted(wanted) == ["s1", "s2"]
    renamed = Identity(1, 10, Role.SUPERVISOR, "s1", "Ana", "ana@a.co", None)
    cache.refreshed({"s1": renamed, "s2": None}, began, forgettings)  # s2 signed out
    clock.now += 4.0  # 7 s after the first read, 4 s after the refresh
    load = Loader(identity())
    assert cache.recall("s1", load) == renamed and load.calls == 0
    assert remembered(cache, "s2") is None


def test_a_refresh_under_way_when_something_is_forgotten_is_not_kept():
    clock = Clock()
    cache = IdentityCache(ttl=5.0, clock=clock)
    cache.recall("s1", Loader(identity("s1")))
    clock.now += 3.0
    _, began, forgettings = cache.due(2.5, 60.0)
    cache.forget(Revocation(users=frozenset({99})))  # while the refresh reads
    cache.refreshed({"s1": identity("s1")}, began, forgettings)
    clock.now += 2.5  # past the first read's TTL: the refresh did not extend it
    load = Loader(identity("s1"))
    cache.recall("s1", load)
    assert load.calls == 1
