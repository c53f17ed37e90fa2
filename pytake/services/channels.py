"""Channels (business phone numbers): configuration, encrypted credentials, webhook routing.

The webhook's hot path must not query and decrypt on every POST, so the active channels are
kept in a small in-process directory that refreshes itself every few seconds and whenever a
body names a number it does not know yet.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import threading
import time

from sqlmodel import Session, select

from pytake import crypto
from pytake.auth.errors import AccessError
from pytake.channels.base import Credentials
from pytake.channels.whatsapp.adapter import ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN
from pytake.models import Channel
from pytake.services import audit

WHATSAPP = "whatsapp"
_META_ID = re.compile(r"^\d{5,32}$")
_DISPLAY_NUMBER = re.compile(r"^\+?[\d ()-]{5,32}$")
MIN_VERIFY_TOKEN = 8
MAX_SECRET = 1024


def _meta_id(value: str, field: str) -> str:
    value = (value or "").strip()
    if not _META_ID.match(value):
        raise AccessError("channel.bad_meta_id", field=field)
    return value


def _secret(value: str, field: str, *, minimum: int = 1) -> str:
    value = (value or "").strip()
    if not minimum <= len(value) <= MAX_SECRET or any(ch.isspace() for ch in value):
        raise AccessError("channel.bad_secret", field=field, min=minimum, max=MAX_SECRET)
    return value


def add_whatsapp(
    db: Session,
    *,
    organization_id: int,
    phone_number_id: str,
    waba_id: str,
    display_number: str,
    access_token: str,
    app_secret: str,
    verify_token: str,
    name: str | None = None,
    actor_user_id: int | None = None,
) -> Channel:
    number_id = _meta_id(phone_number_id, "phone-number-id")
    account_id = _meta_id(waba_id, "waba-id")
    display = (display_number or "").strip()
    if not _DISPLAY_NUMBER.match(display):
        raise AccessError("channel.bad_display_number")
    secrets = {
        ACCESS_TOKEN: _secret(access_token, "access-token"),
        APP_SECRET: _secret(app_secret, "app-secret"),
        VERIFY_TOKEN: _secret(verify_token, "verify-token", minimum=MIN_VERIFY_TOKEN),
    }
    taken = db.exec(
        select(Channel.id).where(Channel.kind == WHATSAPP, Channel.external_id == number_id)
    ).first()
    if taken is not None:
        raise AccessError("channel.number_taken", number=number_id)
    # A business account's events (templates) are applied to the organization owning it.
    owner = db.exec(
        select(Channel.organization_id).where(
            Channel.kind == WHATSAPP,
            Channel.account_id == account_id,
            Channel.organization_id != organization_id,
        )
    ).first()
    if owner is not None:
        raise AccessError("channel.account_taken", account=account_id)
    channel = Channel(
        organization_id=organization_id,
        kind=WHATSAPP,
        name=" ".join((name or display).split())[:120],
        external_id=number_id,
        account_id=account_id,
        display_number=display,
        secrets_encrypted=crypto.encrypt_json(secrets),
    )
    db.add(channel)
    db.flush()
    audit.record(
        db,
        "channel.added",
        organization_id=organization_id,
        actor_user_id=actor_user_id,
        subject=f"{WHATSAPP}:{number_id}",
    )
    directory.invalidate()
    return channel


MAX_RATE = 1000  # messages per second Meta allows an upgraded number
MAX_PAIR_LIMIT = 1000
MAX_PAIR_WINDOW = 3600.0


def configure(
    db: Session,
    *,
    organization_id: int,
    channel_id: int,
    rate_limit: int | None = None,
    pair_limit: int | None = None,
    pair_window_seconds: float | None = None,
    access_token: str | None = None,
    actor_user_id: int | None = None,
) -> Channel:
    """Change a number's send limits, or replace its access token (Meta's 190 clears)."""
    channel = db.exec(
        select(Channel).where(Channel.id == channel_id, Channel.organization_id == organization_id)
    ).first()
    if channel is None:
        raise AccessError("channel.not_found")
    changed = []
    if rate_limit is not None:
        if not 1 <= rate_limit <= MAX_RATE:
            raise AccessError("channel.bad_limit", field="rate-limit", min=1, max=MAX_RATE)
        channel.rate_limit_per_second = rate_limit
        changed.append("rate_limit")
    config = dict(channel.config or {})
    if pair_limit is not None:
        if not 1 <= pair_limit <= MAX_PAIR_LIMIT:
            raise AccessError("channel.bad_limit", field="pair-limit", min=1, max=MAX_PAIR_LIMIT)
        config["pair_limit"] = pair_limit
        changed.append("pair_limit")
    if pair_window_seconds is not None:
        if not 1 <= pair_window_seconds <= MAX_PAIR_WINDOW:
            raise AccessError("channel.bad_limit", field="pair-window", min=1, max=3600)
        config["pair_window_seconds"] = pair_window_seconds
        changed.append("pair_window")
    channel.config = config
    if access_token is not None:
        values = dict(credentials(channel).values)
        values[ACCESS_TOKEN] = _secret(access_token, "access-token")
        channel.secrets_encrypted = crypto.encrypt_json(values)
        channel.token_invalid_at = None
        changed.append("access_token")
    audit.record(
        db,
        "channel.configured",
        organization_id=organization_id,
        actor_user_id=actor_user_id,
        subject=f"{channel.kind}:{channel.external_id}",
        changed=changed,
    )
    directory.invalidate()
    return channel


def credentials(channel: Channel) -> Credentials:
    return Credentials(crypto.decrypt_json(channel.secrets_encrypted or "") or {})


def list_channels(db: Session, organization_id: int | None = None) -> list[Channel]:
    query = select(Channel).order_by(Channel.id)
    if organization_id is not None:
        query = query.where(Channel.organization_id == organization_id)
    return list(db.exec(query))


# The webhook's view of the channels ----------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    channel_id: int
    organization_id: int
    kind: str
    number: str
    account: str | None
    app_secret: str = dataclasses.field(repr=False)
    verify_token: str = dataclasses.field(repr=False)


class Directory:
    """Active channels by number and account, with their secrets, refreshed every few seconds."""

    TTL = 5.0
    MISS_INTERVAL = 1.0  # unknown numbers cannot force more than one reload a second

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_number: dict[tuple[str, str], Route] = {}
        self._by_account: dict[tuple[str, str], list[Route]] = {}
        self._loaded_at = float("-inf")

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def _load(self, db: Session) -> None:
        by_number, by_account = {}, {}
        for channel in db.exec(select(Channel).where(Channel.is_active)):
            try:
                secrets = credentials(channel)
            except crypto.DecryptionError:
                continue  # reported by `pytake check`; it cannot authenticate anything
            route = Route(
                channel_id=channel.id,
                organization_id=channel.organization_id,
                kind=channel.kind,
                number=channel.external_id,
                account=channel.account_id,
                app_secret=secrets[APP_SECRET],
                verify_token=secrets[VERIFY_TOKEN],
            )
            by_number[(channel.kind, channel.external_id)] = route
            if channel.account_id:
                by_account.setdefault((channel.kind, channel.account_id), []).append(route)
        self._by_number, self._by_account = by_number, by_account
        self._loaded_at = time.monotonic()

    def _fresh(self, db: Session, *, missed: bool = False) -> None:
        age = time.monotonic() - self._loaded_at
        if age > self.TTL or (missed and age > self.MISS_INTERVAL):
            with self._lock:
                self._load(db)

    def routes(
        self, db: Session, kind: str, numbers: frozenset[str], accounts: frozenset[str]
    ) -> list[Route]:
        """The channels a body names; unknown numbers and accounts are left out."""
        self._fresh(db)
        missing = any((kind, n) not in self._by_number for n in numbers) or any(
            (kind, a) not in self._by_account for a in accounts
        )
        if missing:
            self._fresh(db, missed=True)
        found = self._lookup(kind, numbers, accounts)
        return list({route.channel_id: route for route in found}.values())

    def _lookup(self, kind: str, numbers: frozenset[str], accounts: frozenset[str]) -> list[Route]:
        found = [self._by_number[(kind, n)] for n in numbers if (kind, n) in self._by_number]
        for account in accounts:
            found.extend(self._by_account.get((kind, account), []))
        return found

    def all(self, db: Session, kind: str) -> list[Route]:
        self._fresh(db)
        return [route for key, route in self._by_number.items() if key[0] == kind]

    def verify_token_matches(self, db: Session, kind: str, token: str) -> bool:
        """Constant-time comparison against every channel's token (no early exit); a miss
        looks again, for a number connected a moment ago."""
        if self._matches(db, kind, token):
            return True
        self._fresh(db, missed=True)
        return self._matches(db, kind, token)

    def _matches(self, db: Session, kind: str, token: str) -> bool:
        matched = False
        for route in self.all(db, kind):
            matched |= hmac.compare_digest(route.verify_token.encode(), token.encode())
        return matched


directory = Directory()
