"""Auto-assignment: a team's waiting conversations go to its online agents with room.

Policies per team: ``off``, ``round_robin`` (each agent in turn) or ``least_busy`` (the one
with the fewest open conversations). An agent's capacity is their membership's
``max_concurrent`` (none: no limit). Sticky: a returning customer goes back to the agent
who last served them when that agent can take them. Conversations wait in arrival order
while nobody has room, and are assigned as soon as someone has (the pass runs after every
inbound batch, after agents free capacity, and every few seconds for presence changes).
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import (
    Conversation,
    ConversationStatus,
    Membership,
    Organization,
    Role,
    Team,
    TeamMember,
    User,
)
from pytake.services import audit
from pytake.services.activity import record_activity
from pytake.services.teams import POLICIES, get, policy_of

BUSY = (ConversationStatus.OPEN, ConversationStatus.PENDING)
BATCH = 200  # waiting conversations looked at per team and pass


@dataclasses.dataclass
class Candidate:
    user_id: int
    name: str
    load: int
    capacity: int | None  # None: no limit

    @property
    def has_room(self) -> bool:
        return self.capacity is None or self.load < self.capacity


def choose(policy: str, candidates: list[Candidate], cursor: int | None) -> Candidate | None:
    """The agent for the next conversation; ``cursor`` is the last one given work.

    Round robin takes the first agent with room after the cursor (by id, wrapping round);
    least busy takes the lowest load, ties broken in the same round-robin order.
    """
    ready = sorted((c for c in candidates if c.has_room), key=lambda c: c.user_id)
    if not ready or policy not in ("round_robin", "least_busy"):
        return None
    after = [c for c in ready if cursor is None or c.user_id > cursor]
    in_turn = after + [c for c in ready if c not in after]
    if policy == "round_robin":
        return in_turn[0]
    return min(in_turn, key=lambda c: c.load)  # min keeps the first of equals


def configure(s: Session, identity: Identity, team_id: object, policy: object, sticky: object):
    """Set a team's policy (admins)."""
    identity.require(Role.ADMIN)
    team = get(s, identity.organization_id, team_id)
    if policy not in POLICIES or not isinstance(sticky, bool):
        raise AccessError("assignment.bad_policy", policies=", ".join(POLICIES))
    new = {"policy": policy, "sticky": sticky}
    before = policy_of(team)
    if before == new:
        return
    cursor = ((team.settings or {}).get("assignment") or {}).get("cursor")
    team.settings = {**(team.settings or {}), "assignment": {**new, "cursor": cursor}}
    audit.record(
        s,
        "team.assignment_changed",
        organization_id=team.organization_id,
        actor_user_id=identity.user_id,
        subject=f"team:{team.id}",
        before=before,
        after=new,
    )


def _candidates(s: Session, team: Team, online: set[int]) -> list[Candidate]:
    load = (
        sa.select(sa.func.count())
        .select_from(Conversation)
        .where(
            Conversation.organization_id == team.organization_id,
            Conversation.assignee_id == User.id,
            Conversation.status.in_(BUSY),
        )
        .scalar_subquery()
    )
    rows = s.execute(
        sa.select(User.id, User.name, load, Membership.max_concurrent)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(
            Membership,
            (Membership.user_id == User.id) & (Membership.organization_id == team.organization_id),
        )
        .where(TeamMember.team_id == team.id, Membership.is_active, User.id.in_(online or {0}))
    ).all()
    return [Candidate(uid, name, busy, capacity) for uid, name, busy, capacity in rows]


def _last_agents(s: Session, waiting: list[Conversation]) -> dict[tuple[int, int], int]:
    """(contact, number) → who served that customer there most recently, in one query."""
    ranked = (
        sa.select(
            Conversation.contact_id,
            Conversation.channel_id,
            Conversation.assignee_id,
            sa.func.row_number()
            .over(
                partition_by=(Conversation.contact_id, Conversation.channel_id),
                order_by=Conversation.last_activity_at.desc(),
            )
            .label("recency"),
        )
        .where(
            Conversation.contact_id.in_({c.contact_id for c in waiting}),
            Conversation.assignee_id.is_not(None),
        )
        .subquery()
    )
    rows = s.execute(
        sa.select(ranked.c.contact_id, ranked.c.channel_id, ranked.c.assignee_id).where(
            ranked.c.recency == 1
        )
    )
    return {(contact, channel): agent for contact, channel, agent in rows}


def _assign(s: Session, conversation: Conversation, agent: Candidate) -> None:
    conversation.assignee_id = agent.user_id
    record_activity(s, conversation, "auto_assigned", "PyTake", target=agent.name)
    agent.load += 1


def assign_team(s: Session, team: Team, online: set[int]) -> list[tuple[int, int]]:
    """Give the team's waiting conversations, oldest first, to its agents with room."""
    rule = policy_of(team)
    if rule["policy"] == "off":
        return []
    waiting = s.exec(
        select(Conversation)
        .where(
            Conversation.team_id == team.id,
            Conversation.assignee_id.is_(None),
            Conversation.status == ConversationStatus.OPEN,
            Conversation.bot_run_id.is_(None),  # the bot answers it until it hands over
        )
        .order_by(Conversation.created_at, Conversation.id)
        .limit(BATCH)
    ).all()
    if not waiting:
        return []
    candidates = _candidates(s, team, online)
    by_id = {c.user_id: c for c in candidates}
    cursor = ((team.settings or {}).get("assignment") or {}).get("cursor")
    served_by = _last_agents(s, waiting) if rule["sticky"] else {}
    changed = []
    for conversation in waiting:
        agent = None
        if rule["sticky"]:
            last = by_id.get(served_by.get((conversation.contact_id, conversation.channel_id)))
            agent = last if last is not None and last.has_room else None
        if agent is None:
            agent = choose(rule["policy"], candidates, cursor)
            if agent is None:
                break  # nobody has room: the rest keep their place in the queue
            cursor = agent.user_id
        _assign(s, conversation, agent)
        changed.append((conversation.organization_id, conversation.id))
    saved = (team.settings or {}).get("assignment") or {}
    team.settings = {**(team.settings or {}), "assignment": {**saved, "cursor": cursor}}
    return changed


def assign_organization(s: Session, organization_id: int, online: set[int]) -> list:
    """One pass over the organization's teams. Passes of one organization take turns (the
    row lock), so two workers never both count an agent's room before either commits."""
    s.execute(
        sa.select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )
    changed = []
    for team in s.exec(select(Team).where(Team.organization_id == organization_id)):
        changed += assign_team(s, team, online)
    return changed


def teams_with_policy(s: Session) -> dict[int, list[int]]:
    """Organization id → its teams that assign automatically."""
    found: dict[int, list[int]] = {}
    for team in s.exec(select(Team)):
        if policy_of(team)["policy"] != "off":
            found.setdefault(team.organization_id, []).append(team.id)
    return found
