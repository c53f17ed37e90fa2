"""Fetching each business account's templates from the platform (see services.templates)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from pytake import channels as adapters
from pytake import db, redisio
from pytake.channels.base import PlatformCallError, Template
from pytake.models import utcnow
from pytake.services import channels, templates

log = logging.getLogger("pytake.jobs")
LOCK_SECONDS = 600


def _accounts(organization_id: int | None, due_only: bool) -> list[tuple]:
    with db.session() as s:
        return [
            (c.id, c.kind, c.account_id, channels.credentials(c))
            for c in templates.accounts_to_sync(
                s, organization_id=organization_id, due_only=due_only
            )
        ]


def _apply(channel_id: int, listed: list[Template], fetched_at: dt.datetime) -> dict[str, int]:
    with db.session(write=True) as s:
        return templates.apply(s, channel_id, listed, fetched_at)


def _failed(channel_id: int, error: str) -> None:
    with db.session(write=True) as s:
        templates.sync_failed(s, channel_id, error)


async def sync(organization_id: int | None = None, *, due_only: bool = False) -> dict:
    """Sync every account (of one organization); returns counts, or the error, per account."""
    results: dict[str, dict | str] = {}
    for channel_id, kind, account, credentials in await asyncio.to_thread(
        _accounts, organization_id, due_only
    ):
        fetched_at = utcnow()
        try:
            listed = await adapters.adapter(kind).list_templates(account, credentials)
        except PlatformCallError as exc:
            log.warning("templates of %s not synced: %s", account, exc)
            await asyncio.to_thread(_failed, channel_id, str(exc))
            results[account] = str(exc)
            continue
        results[account] = await asyncio.to_thread(_apply, channel_id, listed, fetched_at)
    return results


async def sync_due() -> None:
    """The periodic sync: accounts not synced for a while, by one worker at a time."""
    client = redisio.client()
    if client is None:
        await sync(due_only=True)
        return
    async with redisio.exclusive(client, "template-sync", LOCK_SECONDS) as mine:
        if mine:
            await sync(due_only=True)
