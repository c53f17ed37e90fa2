"""Teams: groups of agents that conversations are given to, and that scope what agents see.

A team may serve numbers: a new conversation on a number exactly one team serves is given
to that team (with several, it waits in the shared queue until someone routes it).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Channel, Membership, Role, Team, TeamChannel, TeamMember, User
from pytake.services import audit
from pytake.services.accounts import find_user
from pytake.services.conversations import valid_id
from pytake.services.names import clean_name

MAX_TEAMS = 200
POLICIES = ("off", "round_robin", "least_busy")  # see services.assignment


def _check(actor: Identity | None) -> int | None:
    """Admins manage teams; ``None`` is the CLI. Returns the actor's user id for the audit."""
    if actor is None:
        return None
    actor.require(Role.ADMIN)
    return actor.user_id


def policy_of(team: Team) -> dict:
    """The team's auto-assignment rule: policy and stickiness (sticky unless turned off)."""
    saved = (team.settings or {}).get("assignment") or {}
    policy = saved.get("policy") if saved.get("policy") in POLICIES else "off"
    return {"policy": policy, "sticky": bool(saved.get("sticky", True))}


def find(s: Session, organization_id: int, name: str) -> Team:
    team = s.exec(
        select(Team).where(Team.organization_id == organization_id, Team.name == name.strip())
    ).first()
    if team is None:
        raise AccessError("team.not_found")
    return team


def get(s: Session, organization_id: int, team_id: object) -> Team:
    """The organization's team; the same refusal for a foreign or a made-up id."""
    team = s.get(Team, team_id) if valid_id(team_id) else None
    if team is None or team.organization_id != organization_id:
        raise AccessError("team.not_found")
    return team


def _free_name(s: Session, organization_id: int, name: object, team_id: int | None = None) -> str:
    name = clean_name(name if isinstance(name, str) else "", code="team.bad_name")
    taken = s.exec(
        select(Team.id).where(Team.organization_id == organization_id, Team.name == name)
    ).first()
    if taken is not None and taken != team_id:
        raise AccessError("team.name_taken")
    return name


def create(
    s: Session, organization_id: int, name: object, *, actor: Identity | None = None
) -> Team:
    actor_id = _check(actor)
    name = _free_name(s, organization_id, name)
    count = s.exec(
        select(sa.func.count()).select_from(Team).where(Team.organization_id == organization_id)
    ).one()
    if count >= MAX_TEAMS:
        raise AccessError("team.too_many", max=MAX_TEAMS)
    team = Team(organization_id=organization_id, name=name, settings={})
    s.add(team)
    s.flush()
    audit.record(
        s,
        "team.created",
        organization_id=organization_id,
        actor_user_id=actor_id,
        subject=f"team:{team.id}",
        name=name,
    )
    return team


def rename(s: Session, identity: Identity, team_id: object, name: object) -> Team:
    actor_id = _check(identity)
    team = get(s, identity.organization_id, team_id)
    name = _free_name(s, identity.organization_id, name, team.id)
    if name != team.name:
        audit.record(
            s,
            "team.renamed",
            organization_id=team.organization_id,
            actor_user_id=actor_id,
            subject=f"team:{team.id}",
            before=team.name,
            after=name,
        )
        team.name = name
    return team


def delete(s: Session, identity: Identity, team_id: object) -> None:
    """Its conversations stay, without a team (the database sets theirs to NULL)."""
    actor_id = _check(identity)
    team = get(s, identity.organization_id, team_id)
    audit.record(
        s,
        "team.deleted",
        organization_id=team.organization_id,
        actor_user_id=actor_id,
        subject=f"team:{team.id}",
        name=team.name,
    )
    s.delete(team)


def set_member(
    s: Session,
    organization_id: int,
    team: Team,
    user: User | str,
    *,
    member: bool,
    actor: Identity | None = None,
) -> User:
    """Put a member of the organization in the team, or take them out; idempotent."""
    actor_id = _check(actor)
    if isinstance(user, str):
        user = find_user(s, organization_id, user)
    current = s.exec(
        select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
    ).first()
    if member and current is None:
        s.add(TeamMember(team_id=team.id, user_id=user.id))
    elif not member and current is not None:
        s.delete(current)
    else:
        return user
    audit.record(
        s,
        "team.member_added" if member else "team.member_removed",
        organization_id=organization_id,
        actor_user_id=actor_id,
        subject=f"team:{team.id}",
        user=user.id,
    )
    return user


def set_member_by_id(
    s: Session, identity: Identity, team_id: object, user_id: object, *, member: bool
) -> User:
    team = get(s, identity.organization_id, team_id)
    user = None
    if valid_id(user_id):
        user = s.exec(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(User.id == user_id, Membership.organization_id == identity.organization_id)
        ).first()
    if user is None:
        raise AccessError("account.user_not_found")
    return set_member(s, identity.organization_id, team, user, member=member, actor=identity)


def set_members(s: Session, identity: Identity, team_id: object, user_ids: object) -> None:
    """The team's members become exactly ``user_ids`` (members of the organization)."""
    team = get(s, identity.organization_id, team_id)
    if not isinstance(user_ids, list | set) or not all(valid_id(u) for u in user_ids):
        raise AccessError("access.bad_request")
    current = set(s.exec(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
    for user_id in sorted(current ^ set(user_ids)):
        set_member_by_id(s, identity, team.id, user_id, member=user_id in user_ids)


def set_channels(s: Session, identity: Identity, team_id: object, channel_ids: object) -> None:
    """The numbers the team serves, replacing the previous set; only this org's numbers."""
    actor_id = _check(identity)
    team = get(s, identity.organization_id, team_id)
    if not isinstance(channel_ids, list) or not all(valid_id(c) for c in channel_ids):
        raise AccessError("access.bad_request")
    wanted = set(
        s.exec(
            select(Channel.id).where(
                Channel.organization_id == identity.organization_id, Channel.id.in_(channel_ids)
            )
        )
    )
    if len(wanted) != len(set(channel_ids)):
        raise AccessError("channel.not_found")
    current = {
        row.channel_id: row
        for row in s.exec(select(TeamChannel).where(TeamChannel.team_id == team.id))
    }
    for channel_id in wanted - current.keys():
        s.add(TeamChannel(team_id=team.id, channel_id=channel_id))
    for channel_id in current.keys() - wanted:
        s.delete(current[channel_id])
    if wanted != current.keys():
        audit.record(
            s,
            "team.channels_changed",
            organization_id=team.organization_id,
            actor_user_id=actor_id,
            subject=f"team:{team.id}",
            channels=sorted(wanted),
        )


def serving_team(s: Session, channel_id: int) -> int | None:
    """The team a new conversation on this number goes to: the only one serving it."""
    teams = db.memo(
        s,
        ("serving", channel_id),
        lambda: s.exec(
            select(TeamChannel.team_id).where(TeamChannel.channel_id == channel_id).limit(2)
        ).all(),
    )
    return teams[0] if len(teams) == 1 else None


def listing(s: Session, organization_id: int) -> list[dict]:
    """The organization's teams with their members' names, in one query."""
    rows = s.execute(
        sa.select(Team.id, Team.name, User.id, User.name)
        .outerjoin(TeamMember, TeamMember.team_id == Team.id)
        .outerjoin(User, User.id == TeamMember.user_id)
        .where(Team.organization_id == organization_id)
        .order_by(Team.name, User.name)
    ).all()
    teams: dict[int, dict] = {}
    for team_id, team_name, user_id, user_name in rows:
        team = teams.setdefault(team_id, {"id": team_id, "name": team_name, "members": []})
        if user_id is not None:
            team["members"].append({"id": user_id, "name": user_name})
    return list(teams.values())


def overview(s: Session, identity: Identity) -> list[dict]:
    """For the settings page: each team, its members and the numbers it serves."""
    identity.require(Role.ADMIN)
    teams = listing(s, identity.organization_id)
    served: dict[int, list[dict]] = {}
    for team_id, channel_id, name in s.execute(
        sa.select(TeamChannel.team_id, Channel.id, Channel.name)
        .join(Channel, Channel.id == TeamChannel.channel_id)
        .where(Channel.organization_id == identity.organization_id)
        .order_by(Channel.name)
    ):
        served.setdefault(team_id, []).append({"id": channel_id, "name": name})
    rules = {
        team.id: policy_of(team)
        for team in s.exec(select(Team).where(Team.organization_id == identity.organization_id))
    }
    return [{**team, "channels": served.get(team["id"], []), **rules[team["id"]]} for team in teams]
