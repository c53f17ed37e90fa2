"""Fetching each business account's templates from the platform (see services.templates)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from pytake import channels as adapters
from pytake import db, redisio
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
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


async def submit(identity: Identity, channel_id: object, draft: object) -> int:
    """Check a new template, submit it to the platform, keep it; its id."""

    def account():
        with db.session() as s:
            channel = templates.account_of(s, identity, channel_id)
            return channel.id, channel.kind, channel.account_id, channels.credentials(channel)

    found, kind, account_id, credentials = await asyncio.to_thread(account)
    adapter = adapters.adapter(kind)
    checked = adapter.check_template(draft if isinstance(draft, dict) else {})
    try:
        created = await adapter.create_template(account_id, credentials, checked)
    except PlatformCallError as exc:
        raise AccessError("template.refused", reason=_reason(exc)) from exc

    def keep() -> int:
        with db.session(write=True) as s:
            return templates.record_created(s, found, created)

    return await asyncio.to_thread(keep)


async def delete(identity: Identity, template_id: object) -> None:
    def find():
        with db.session() as s:
            row, channel = templates.deletable(s, identity, template_id)
            return (
                row.id,
                row.name,
                row.external_id,
                channel.kind,
                channel.account_id,
                (channels.credentials(channel)),
            )

    row_id, name, external_id, kind, account_id, credentials = await asyncio.to_thread(find)
    try:
        await adapters.adapter(kind).delete_template(account_id, credentials, name, external_id)
    except PlatformCallError as exc:
        raise AccessError("template.refused", reason=_reason(exc)) from exc

    def forget() -> None:
        with db.session(write=True) as s:
            templates.record_deleted(s, row_id)

    await asyncio.to_thread(forget)


def _reason(exc: PlatformCallError) -> str:
    return (exc.error.details or exc.error.title or str(exc))[:300]
