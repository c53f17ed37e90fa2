"""Fetching each business account's templates from the platform (see services.templates)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from pytake import channels as adapters
from pytake import db, redisio
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels.base import PlatformCallError, Template
from pytake.channels.whatsapp import templates as rules
from pytake.i18n import Term
from pytake.models import utcnow
from pytake.services import channels, templates
from pytake.services.outbound import StagedFile

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


async def submit(
    identity: Identity,
    channel_id: object,
    draft: object,
    example: StagedFile | None = None,
    cards: dict[int, StagedFile] | None = None,
) -> int:
    """Check a new template, upload its header's example file and its carousel cards' if
    any, submit it to the platform, keep it; its id."""

    def account():
        with db.session() as s:
            channel = templates.account_of(s, identity, channel_id)
            return (
                channel.id,
                channel.kind,
                channel.account_id,
                channels.credentials(channel),
                templates.app_of(channel),
            )

    found, kind, account_id, credentials, app = await asyncio.to_thread(account)
    adapter = adapters.adapter(kind)
    checked = adapter.check_template(await _described(draft, example, cards))
    checked = await _with_examples(adapter, app, credentials, checked, example, cards)
    try:
        created = await adapter.create_template(account_id, credentials, checked)
    except PlatformCallError as exc:
        raise AccessError("template.refused", reason=_reason(exc)) from exc

    def keep() -> int:
        with db.session(write=True) as s:
            return templates.record_created(s, found, created)

    return await asyncio.to_thread(keep)


async def edit(
    identity: Identity,
    template_id: object,
    draft: object,
    example: StagedFile | None = None,
    cards: dict[int, StagedFile] | None = None,
) -> None:
    """Submit new content for a template Meta lets us edit; its name and language stay. It
    is in review again afterwards."""

    def find():
        with db.session() as s:
            row, channel = templates.editable(s, identity, template_id)
            s.expunge(row)
            return row, channel.kind, channels.credentials(channel), templates.app_of(channel)

    row, kind, credentials, app = await asyncio.to_thread(find)
    adapter = adapters.adapter(kind)
    fixed = {"name": row.name, "language": row.language}
    checked = adapter.check_template(await _described({**_dict(draft), **fixed}, example, cards))
    category_changed = templates.edit_change(row, checked)
    checked = await _with_examples(adapter, app, credentials, checked, example, cards)
    try:
        components = await adapter.edit_template(
            credentials, row.external_id, checked, category=category_changed
        )
    except PlatformCallError as exc:
        raise AccessError("template.refused", reason=_reason(exc)) from exc

    def keep() -> None:
        with db.session(write=True) as s:
            templates.record_edited(
                s, row.id, checked["category"], components, approved=row.status == "APPROVED"
            )

    await asyncio.to_thread(keep)


def _dict(draft: object) -> dict:
    return draft if isinstance(draft, dict) else {}


async def _described(
    draft: object, example: StagedFile | None, cards: dict[int, StagedFile] | None = None
) -> dict:
    """The draft with its example files' types and sizes, for the rules to check."""
    described = _dict(draft)
    if example is not None:
        described = {**described, "header_example": await _description(example)}
    carousel = described.get("carousel")
    if cards and isinstance(carousel, dict) and isinstance(carousel.get("cards"), list):
        given = [dict(c) if isinstance(c, dict) else {} for c in carousel["cards"]]
        for index, staged in cards.items():
            if 0 <= index < len(given):
                given[index]["header_example"] = await _description(staged)
        described = {**described, "carousel": {**carousel, "cards": given}}
    return described


async def _description(staged: StagedFile) -> dict:
    size = (await asyncio.to_thread(staged.path.stat)).st_size
    return {"mime": staged.mime_type, "size": size}


async def _with_examples(
    adapter,
    app: str,
    credentials,
    checked: dict,
    example: StagedFile | None,
    cards: dict[int, StagedFile] | None,
) -> dict:
    """Media examples uploaded under the platform app: the checked draft with their handles
    (a draft keeping its handles, or without media, is left as it is)."""
    if checked["header_format"] in rules.EXAMPLE_FILES and not checked["header_handle"]:
        handle = await _upload(adapter, app, credentials, example)
        checked = {**checked, "header_handle": handle}
    carousel = checked.get("carousel")
    if carousel and carousel["format"] in rules.EXAMPLE_FILES:  # product cards take none
        uploaded = []
        for index, card in enumerate(carousel["cards"]):
            if not card["header_handle"]:
                staged = (cards or {}).get(index)
                if staged is None:
                    kind = Term(f"template_field.{carousel['format']}")
                    raise AccessError("template_draft.example_file_missing", kind=kind)
                card = {**card, "header_handle": await _upload(adapter, app, credentials, staged)}
            uploaded.append(card)
        checked = {**checked, "carousel": {**carousel, "cards": uploaded}}
    return checked


async def _upload(adapter, app: str, credentials, example: StagedFile) -> str:
    if not app:
        raise AccessError("template.app_id_missing")
    name = Path(example.filename).name[:200] or "example"
    try:
        return await adapter.upload_template_example(
            app, credentials, example.path, example.mime_type.split(";")[0].strip(), name
        )
    except PlatformCallError as exc:
        raise AccessError("template.example_refused", reason=_reason(exc)) from exc


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
