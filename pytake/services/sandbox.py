"""Sandbox numbers: WhatsApp channels whose Graph API is the simulator PyTake serves itself.

The channel is an ordinary WhatsApp channel; only its API address (the channel's
``api_url``) and the ``sandbox`` mark in its config, which the pipeline never reads, differ.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from sqlmodel import Session, select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels.whatsapp.adapter import ACCESS_TOKEN, API_URL, APP_SECRET
from pytake.i18n import translate
from pytake.models import Channel, Contact, Conversation, Role
from pytake.sandbox import graph, live
from pytake.services import channels
from pytake.settings import get_settings

MARK = "sandbox"
MAX_NUMBERS = 5  # per organization
_synced_at = 0.0


def refusal() -> str | None:
    """Why this deployment cannot run sandbox numbers (an i18n key), or None."""
    settings = get_settings()
    if not settings.sandbox:
        return "sandbox.disabled"
    if (settings.workers or 1) > 1:
        return "sandbox.one_worker"
    return None


def is_sandbox(channel: Channel) -> bool:
    return bool((channel.config or {}).get(MARK))


def _sandbox_channels(s: Session, organization_id: int | None = None) -> list[Channel]:
    return [c for c in channels.list_channels(s, organization_id) if is_sandbox(c)]


def add(s: Session, identity: Identity, api_url: str) -> Channel:
    """The channels page's "Add a sandbox number"; admins only."""
    identity.require(Role.ADMIN)
    return add_number(
        s,
        identity.organization_id,
        api_url,
        language=identity.language,
        actor_user_id=identity.user_id,
    )


def add_number(
    s: Session,
    organization_id: int,
    api_url: str,
    *,
    language: str | None = None,
    actor_user_id: int | None = None,
) -> Channel:
    """A new number with generated ids and secrets, answered by the simulator at
    ``api_url``; its webhooks are signed like Meta's."""
    reason = refusal()
    if reason:
        raise AccessError(reason)
    taken = _sandbox_channels(s, organization_id)
    if len(taken) >= MAX_NUMBERS:
        raise AccessError("sandbox.too_many", max=MAX_NUMBERS)
    serial = len(taken) + 1
    channel = channels.add_whatsapp(
        s,
        organization_id=organization_id,
        phone_number_id=_meta_id(),
        waba_id=_meta_id(),
        display_number=f"+1 555 01{serial}{secrets.randbelow(10)} {secrets.randbelow(10**4):04d}",
        access_token="SANDBOX" + secrets.token_urlsafe(48),
        app_secret=secrets.token_hex(16),
        verify_token=secrets.token_urlsafe(24),
        name=translate("sandbox.channel_name", language, n=serial),
        app_id=graph.APP_ID,
        actor_user_id=actor_user_id,
    )
    channel.config = {**(channel.config or {}), API_URL: api_url, MARK: True}
    s.add(channel)
    s.flush()
    return channel


def _meta_id() -> str:
    return str(10**14 + secrets.randbelow(9 * 10**14))


def numbers(s: Session, organization_id: int | None = None) -> list[live.Number]:
    """Active sandbox numbers (of one organization, else all), with what the simulator needs."""
    found = []
    for channel in _sandbox_channels(s, organization_id):
        if not channel.is_active:
            continue
        secret = channels.credentials(channel)
        found.append(
            live.Number(
                channel.external_id,
                channel.account_id or "",
                channel.display_number or "",
                secret[ACCESS_TOKEN],
                secret[APP_SECRET],
                channel.organization_id,
            )
        )
    return found


def _sync(sandbox: live.Sandbox) -> None:
    """Register the numbers in the simulator; numbers made before a restart on another port
    get this process's address (the only write, so the usual look takes no write lock)."""
    with db.session() as s:
        moved = [
            c.id for c in _sandbox_channels(s) if (c.config or {}).get(API_URL) != sandbox.api_url
        ]
        found = numbers(s)
    if moved:
        with db.session(write=True) as s:
            for channel in s.exec(select(Channel).where(Channel.id.in_(moved))):
                channel.config = {**channel.config, API_URL: sandbox.api_url}
                s.add(channel)
    for number in found:
        if sandbox.numbers.get(number.phone_number_id) != number:
            sandbox.register(number)


async def ready(*, refresh: bool = False) -> live.Sandbox:
    """This process's sandbox, knowing the numbers added since it last looked (the CLI's
    seed may add some while the server runs)."""
    global _synced_at
    sandbox = live.current()
    if refresh or time.monotonic() - _synced_at > live.NUMBERS_REFRESH_SECONDS:
        await asyncio.to_thread(_sync, sandbox)
        _synced_at = time.monotonic()
    return sandbox


def number_of(identity: Identity, sandbox: live.Sandbox, phone_number_id: object) -> live.Number:
    """A sandbox number of the caller's organization; admins only (the phone page)."""
    identity.require(Role.ADMIN)
    number = sandbox.numbers.get(str(phone_number_id))
    if number is None or number.organization_id != identity.organization_id:
        raise AccessError("sandbox.number_not_found")
    return number


def known_customers(s: Session, identity: Identity, phone_number_id: str) -> dict[str, str]:
    """Customers who already talk to the number in PyTake (the phone page offers them)."""
    identity.require(Role.ADMIN)
    rows = s.exec(
        select(Contact.wa_id, Contact.name)
        .join(Conversation, Conversation.contact_id == Contact.id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(
            Channel.organization_id == identity.organization_id,
            Channel.external_id == phone_number_id,
            Contact.wa_id.is_not(None),
        )
        .distinct()
        .limit(50)
    )
    return {wa_id: name or "" for wa_id, name in rows}
