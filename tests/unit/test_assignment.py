"""The choice of agent: fairness of round robin, capacity under least busy."""

import collections
import random

from pytake.services.assignment import Candidate, choose


def team(*capacities) -> list[Candidate]:
    return [Candidate(n + 1, f"agent {n + 1}", 0, cap) for n, cap in enumerate(capacities)]


def run(policy: str, agents: list[Candidate], steps: int, seed: int = 7):
    """Assign ``steps`` conversations; each step a random agent may resolve one."""
    rng = random.Random(seed)
    given, cursor, refused = collections.Counter(), None, 0
    for _ in range(steps):
        busy = [a for a in agents if a.load]
        if busy and rng.random() < 0.5:
            rng.choice(busy).load -= 1
        agent = choose(policy, agents, cursor)
        if agent is None:
            refused += 1
            continue
        assert agent.capacity is None or agent.load < agent.capacity
        agent.load += 1
        cursor = agent.user_id
        given[agent.user_id] += 1
    return given, refused


def test_round_robin_spreads_evenly_over_1000_assignments():
    given, refused = run("round_robin", team(None, None, None, None), 1000)
    assert refused == 0 and set(given.values()) == {250}


def test_round_robin_skips_who_is_full_and_comes_back_to_them():
    agents = team(1, None, None)
    agents[0].load = 1
    assert [choose("round_robin", agents, c).user_id for c in (None, 1, 2, 3)] == [2, 2, 3, 2]
    agents[0].load = 0
    assert choose("round_robin", agents, 3).user_id == 1


def test_least_busy_never_exceeds_capacity_over_1000_assignments():
    agents = team(2, 3, 5, None)
    given, refused = run("least_busy", agents, 1000)
    assert sum(given.values()) + refused == 1000
    assert all(a.capacity is None or a.load <= a.capacity for a in agents)


def test_least_busy_takes_the_lowest_load_and_breaks_ties_in_turn():
    agents = team(None, None, None)
    agents[0].load, agents[1].load, agents[2].load = 3, 1, 1
    assert choose("least_busy", agents, None).user_id == 2
    assert choose("least_busy", agents, 2).user_id == 3


def test_nobody_with_room_or_policy_off_chooses_nobody():
    full = team(1, 1)
    for agent in full:
        agent.load = 1
    assert choose("round_robin", full, None) is None
    assert choose("off", team(None), None) is None
    assert choose("least_busy", [], None) is None
