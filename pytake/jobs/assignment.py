"""The auto-assignment pass, run off the event loop with who is online right now."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pytake import db
from pytake.realtime import presence, signals
from pytake.services import assignment


def _plan() -> dict[int, list[int]]:
    with db.session() as s:
        return assignment.teams_with_policy(s)


def _pass(organization_id: int, online: set[int]) -> list[tuple[int, int]]:
    with db.session(write=True) as s:
        return assignment.assign_organization(s, organization_id, online)


async def assign_waiting(organizations: Iterable[int] | None = None) -> int:
    """Assign what can be assigned now (in the given organizations, else all); returns how
    many conversations were given out, each announced live."""
    wanted = set(organizations) if organizations is not None else None
    given = 0
    for organization_id in await asyncio.to_thread(_plan):
        if wanted is not None and organization_id not in wanted:
            continue
        online = await presence.online(organization_id)
        changed = await asyncio.to_thread(_pass, organization_id, online)
        await signals.publish(changed)
        given += len(changed)
    return given
