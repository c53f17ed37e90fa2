"""Teams: groups of agents that conversations are given to, and that scope what agents see."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.errors import AccessError
from pytake.models import Team, TeamMember, User
from pytake.services import audit
from pytake.services.accounts import clean_name, find_user


def find(s: Session, organization_id: int, name: str) -> Team:
    team = s.exec(
        select(Team).where(Team.organization_id == organization_id, Team.name == name.strip())
    ).first()
    if team is None:
        raise AccessError("team.not_found")
    return team


def create(s: Session, organization_id: int, name: str) -> Team:
    name = clean_name(name, code="team.bad_name")
    if s.exec(
        select(Team.id).where(Team.organization_id == organization_id, Team.name == name)
    ).first():
        raise AccessError("team.name_taken")
    team = Team(organization_id=organization_id, name=name, settings={})
    s.add(team)
    s.flush()
    audit.record(s, "team.created", organization_id=organization_id, subject=f"team:{team.id}")
    return team


def set_member(s: Session, organization_id: int, team: Team, email: str, *, member: bool) -> User:
    """Put a member of the organization in the team, or take them out; idempotent."""
    user = find_user(s, organization_id, email)
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
        subject=f"team:{team.id}",
        user=user.id,
    )
    return user


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
