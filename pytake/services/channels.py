"""Channels (business phone numbers): configuration, encrypted credentials, webhook routing,
and the settings page's view of them.

The webhook's hot path must not query and decrypt on every POST, so the channels are kept in
a small in-process directory that refreshes itself every few seconds and whenever a body
names a number it does not know yet.

Secrets are write-only for the page: replaced, never read back, except the verify token an
admin has to paste into Meta (shown on request, and audited).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hmac
import re
import secrets
import threading
import time

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake import crypto, db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels import adapter
from pytake.channels.base import ConnectionCheck, Credentials
from pytake.channels.whatsapp.adapter import ACCESS_TOKEN, API_URL, APP_SECRET, VERIFY_TOKEN
from pytake.i18n import translate
from pytake.models import Channel, Role, WebhookEvent, utcnow
from pytake.services import audit
from pytake.services.conversations import valid_id

WHATSAPP = "whatsapp"
WEBHOOK_PATH = "/webhooks/whatsapp"
_META_ID = re.compile(r"^\d{5,32}$")
_DISPLAY_NUMBER = re.compile(r"^\+?[\d ()-]{5,32}$")
MIN_VERIFY_TOKEN = 8
MAX_SECRET = 1024
# Each secret's field name in refusals, and its shortest length.
SECRET_RULES = {
    ACCESS_TOKEN: ("access-token", 1),
    APP_SECRET: ("app-secret", 1),
    VERIFY_TOKEN: ("verify-token", MIN_VERIFY_TOKEN),
}
MAX_RATE = 1000  # messages per second Meta allows an upgraded number
MAX_PAIR_LIMIT = 1000
MAX_PAIR_WINDOW = 3600
# Each send limit's field name in refusals, range and type.
LIMITS: dict[str, tuple[str, int, int, type]] = {
    "rate_limit": ("rate-limit", 1, MAX_RATE, int),
    "pair_limit": ("pair-limit", 1, MAX_PAIR_LIMIT, int),
    "pair_window_seconds": ("pair-window", 1, MAX_PAIR_WINDOW, float),
}
# Columns as the edit form (and so the audit) names them.
FIELD_NAMES = {"account_id": "waba_id", "rate_limit_per_second": "rate_limit"}


def _meta_id(value: str, field: str) -> str:
    value = (value or "").strip()
    if not _META_ID.match(value):
        raise AccessError("channel.bad_meta_id", field=field)
    return value


def _checked_secrets(given: dict[str, str | None]) -> dict[str, str]:
    """The secrets given (None: not given), each checked against its rule."""
    checked = {}
    for key, value in given.items():
        if value is None:
            continue
        field, minimum = SECRET_RULES[key]
        value = value.strip()
        if not minimum <= len(value) <= MAX_SECRET or any(ch.isspace() for ch in value):
            raise AccessError("channel.bad_secret", field=field, min=minimum, max=MAX_SECRET)
        checked[key] = value
    return checked


def _display(value: str) -> str:
    display = (value or "").strip()
    if not _DISPLAY_NUMBER.match(display):
        raise AccessError("channel.bad_display_number")
    return display


def _name(value: str) -> str:
    return " ".join(value.split())[:120]


def _limit(key: str, value: float | str) -> int | float:
    """A send limit within its range; typed in a form, a comma may be the decimal mark."""
    field, low, high, kind = LIMITS[key]
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            value = float("nan")  # fails the range check below
    if isinstance(value, bool) or not low <= value <= high or kind(value) != value:
        raise AccessError("channel.bad_limit", field=field, min=low, max=high)
    return kind(value)


def _claim_account(db: Session, organization_id: int, account_id: str) -> None:
    """A business account's events (templates) are applied to the organization owning it,
    so no other organization may connect it."""
    owner = db.exec(
        select(Channel.organization_id).where(
            Channel.kind == WHATSAPP,
            Channel.account_id == account_id,
            Channel.organization_id != organization_id,
        )
    ).first()
    if owner is not None:
        raise AccessError("channel.account_taken", account=account_id)


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
    app_id: str | None = None,
    catalog_id: str | None = None,
    actor_user_id: int | None = None,
) -> Channel:
    """``app_id``: the Meta app, not a secret; media template headers upload under it.
    ``catalog_id``: the Commerce catalog whose products templates show."""
    number_id = _meta_id(phone_number_id, "phone-number-id")
    account_id = _meta_id(waba_id, "waba-id")
    display = _display(display_number)
    values = _checked_secrets(
        {
            ACCESS_TOKEN: access_token or "",
            APP_SECRET: app_secret or "",
            VERIFY_TOKEN: verify_token or "",
        }
    )
    taken = db.exec(
        select(Channel.id).where(Channel.kind == WHATSAPP, Channel.external_id == number_id)
    ).first()
    if taken is not None:
        raise AccessError("channel.number_taken", number=number_id)
    _claim_account(db, organization_id, account_id)
    channel = Channel(
        organization_id=organization_id,
        kind=WHATSAPP,
        name=_name(name or display),
        external_id=number_id,
        account_id=account_id,
        display_number=display,
        secrets_encrypted=crypto.encrypt_json(values),
        config={
            key: _meta_id(value, key.replace("_", "-"))
            for key, value in (("app_id", app_id), ("catalog_id", catalog_id))
            if value
        },
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


def configure(
    db: Session,
    *,
    organization_id: int,
    channel_id: int,
    name: str | None = None,
    display_number: str | None = None,
    waba_id: str | None = None,
    rate_limit: int | str | None = None,
    pair_limit: int | str | None = None,
    pair_window_seconds: float | str | None = None,
    app_id: str | None = None,
    catalog_id: str | None = None,
    access_token: str | None = None,
    app_secret: str | None = None,
    verify_token: str | None = None,
    actor_user_id: int | None = None,
) -> Channel:
    """Change what is given (None keeps it). Secrets are replaced, never shown; a new access
    token clears Meta's 190 until Meta says it again. The audit names the fields that
    changed, never their values."""
    channel = db.exec(
        select(Channel).where(Channel.id == channel_id, Channel.organization_id == organization_id)
    ).first()
    if channel is None:
        raise AccessError("channel.not_found")
    wanted: dict[str, object] = {}
    if name is not None and name.strip():
        wanted["name"] = _name(name)
    if display_number is not None:
        wanted["display_number"] = _display(display_number)
    if waba_id is not None:
        wanted["account_id"] = _meta_id(waba_id, "waba-id")
    if rate_limit is not None:
        wanted["rate_limit_per_second"] = _limit("rate_limit", rate_limit)
    changed = [column for column, value in wanted.items() if getattr(channel, column) != value]
    if "account_id" in changed:
        _claim_account(db, organization_id, str(wanted["account_id"]))
    for column in changed:
        setattr(channel, column, wanted[column])
    config = dict(channel.config or {})
    for key, value in (("pair_limit", pair_limit), ("pair_window_seconds", pair_window_seconds)):
        if value is not None and config.get(key) != (value := _limit(key, value)):
            config[key] = value
            changed.append(key)
    for key, value in (("app_id", app_id), ("catalog_id", catalog_id)):  # Meta ids, no secret
        field = key.replace("_", "-")
        if value is not None and config.get(key) != (value := _meta_id(value, field)):
            config[key] = value
            changed.append(key)
    channel.config = config
    replaced = _checked_secrets(
        {ACCESS_TOKEN: access_token, APP_SECRET: app_secret, VERIFY_TOKEN: verify_token}
    )
    if replaced:
        kept = _kept_secrets(channel, replaced)
        channel.secrets_encrypted = crypto.encrypt_json({**kept, **replaced})
        changed += list(replaced)
        if ACCESS_TOKEN in replaced:
            channel.token_invalid_at = None
    if changed:
        audit.record(
            db,
            "channel.configured",
            organization_id=organization_id,
            actor_user_id=actor_user_id,
            subject=f"{channel.kind}:{channel.external_id}",
            changed=[FIELD_NAMES.get(column, column) for column in changed],
        )
        directory.invalidate()
    return channel


def _kept_secrets(channel: Channel, replaced: dict[str, str]) -> dict[str, str]:
    """The secrets not being replaced. Unreadable ones (the secret key changed) must all be
    entered again: keeping none of them would leave the channel half configured."""
    try:
        return dict(credentials(channel).values)
    except crypto.DecryptionError:
        if set(replaced) != set(SECRET_RULES):
            raise AccessError("channel.secrets_unreadable") from None
        return {}


def credentials(channel: Channel) -> Credentials:
    """The secrets, and the number's own API address when it has one (sandbox numbers)."""
    values = crypto.decrypt_json(channel.secrets_encrypted or "") or {}
    api_url = (channel.config or {}).get(API_URL)
    return Credentials({**values, API_URL: api_url} if api_url else values)


def list_channels(db: Session, organization_id: int | None = None) -> list[Channel]:
    query = select(Channel).order_by(Channel.id)
    if organization_id is not None:
        query = query.where(Channel.organization_id == organization_id)
    return list(db.exec(query))


# The settings page: admins and owners, their own organization's channels ----------------------


def _own(s: Session, identity: Identity, channel_id: object) -> Channel:
    """An admin's channel; any other id (another organization's included) is not found."""
    identity.require(Role.ADMIN)
    channel = s.get(Channel, channel_id) if valid_id(channel_id) else None
    if channel is None or channel.organization_id != identity.organization_id:
        raise AccessError("channel.not_found")
    return channel


def _field(form: dict, key: str) -> str | None:
    """A form field the client sent: None when left empty; anything but text is refused."""
    value = form.get(key, "")
    if not isinstance(value, str):
        raise AccessError("access.bad_request")
    return value.strip() or None


def _form(form: object) -> dict:
    if not isinstance(form, dict):
        raise AccessError("access.bad_request")
    return form


def health(channel: Channel) -> str:
    """One word for the page: disabled, token_invalid, error, waiting (no webhook yet), ok."""
    if not channel.is_active:
        return "disabled"
    if channel.token_invalid_at is not None:
        return "token_invalid"
    if channel.last_error:
        return "error"
    if channel.last_webhook_at is None:
        return "waiting"
    return "ok"


def _iso(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment else ""


def overview(s: Session, identity: Identity) -> list[dict]:
    """Every channel of the organization as the page shows it; no secret, not even in part."""
    identity.require(Role.ADMIN)
    rows = []
    for channel in list_channels(s, identity.organization_id):
        config = channel.config or {}
        rows.append(
            {
                "id": channel.id,
                "kind": channel.kind,
                "name": channel.name,
                "display_number": channel.display_number or "",
                "phone_number_id": channel.external_id,
                "waba_id": channel.account_id or "",
                "app_id": config.get("app_id") or "",
                "catalog_id": config.get("catalog_id") or "",
                "is_active": channel.is_active,
                "rate_limit": channel.rate_limit_per_second,
                # 0: not set, the server's defaults apply
                "pair_limit": int(config.get("pair_limit") or 0),
                "pair_window_seconds": float(config.get("pair_window_seconds") or 0),
                "last_webhook_at": _iso(channel.last_webhook_at),
                "token_invalid_at": _iso(channel.token_invalid_at),
                "last_error": channel.last_error or "",
                "health": health(channel),
                "webhook_path": WEBHOOK_PATH,
                "sandbox": bool(config.get("sandbox")),
            }
        )
    return rows


def add(s: Session, identity: Identity, form: object) -> int:
    """Connect a number from the page's form; an empty verify token gets a generated one
    (the admin then copies it into Meta with ``reveal_verify_token``). Its id."""
    identity.require(Role.ADMIN)
    form = _form(form)
    channel = add_whatsapp(
        s,
        organization_id=identity.organization_id,
        phone_number_id=_field(form, "phone_number_id") or "",
        waba_id=_field(form, "waba_id") or "",
        display_number=_field(form, "display_number") or "",
        access_token=_field(form, "access_token") or "",
        app_secret=_field(form, "app_secret") or "",
        verify_token=_field(form, "verify_token") or secrets.token_urlsafe(24),
        name=_field(form, "name"),
        app_id=_field(form, "app_id"),
        catalog_id=_field(form, "catalog_id"),
        actor_user_id=identity.user_id,
    )
    return channel.id


# The edit form's fields, as ``configure`` names them.
UPDATABLE = (
    "name",
    "display_number",
    "waba_id",
    "rate_limit",
    "pair_limit",
    "pair_window_seconds",
    "app_id",
    "catalog_id",
    "access_token",
    "app_secret",
    "verify_token",
)


def update(s: Session, identity: Identity, channel_id: object, form: object) -> None:
    """Save the edit form: every field left empty keeps its value, so secrets are only ever
    replaced. The phone number id is what the channel is: another one is another channel."""
    channel = _own(s, identity, channel_id)
    form = _form(form)
    number_id = _field(form, "phone_number_id")
    if number_id is not None and number_id != channel.external_id:
        raise AccessError("channel.number_fixed")
    configure(
        s,
        organization_id=channel.organization_id,
        channel_id=channel.id,
        actor_user_id=identity.user_id,
        **{key: _field(form, key) for key in UPDATABLE},
    )


def set_active(s: Session, identity: Identity, channel_id: object, active: object) -> int:
    """Disable or enable a number. Disabled, it sends nothing (``outbound`` refuses, the
    outbox fails what was queued) and its webhooks are kept aside, not routed; enabled
    again, those are processed. The number of kept webhooks queued again."""
    channel = _own(s, identity, channel_id)
    if not isinstance(active, bool):
        raise AccessError("access.bad_request")
    if channel.is_active == active:
        return 0
    config = dict(channel.config or {})
    requeued = 0
    if active:
        since = config.pop("disabled_at", None)
        requeued = _requeue_kept(s, channel, dt.datetime.fromisoformat(since) if since else None)
    else:
        config["disabled_at"] = utcnow().isoformat()
    channel.is_active, channel.config = active, config
    audit.record(
        s,
        "channel.enabled" if active else "channel.disabled",
        organization_id=channel.organization_id,
        actor_user_id=identity.user_id,
        subject=f"{channel.kind}:{channel.external_id}",
        **({"requeued": requeued} if active else {}),
    )
    directory.invalidate()
    return requeued


REQUEUE_BATCH = 100


def _requeue_kept(s: Session, channel: Channel, since: dt.datetime | None) -> int:
    """Quarantined webhooks naming the number (or its account) since it was disabled go back
    in the queue; applying them again is harmless, so a wider net loses nothing."""
    from pytake.services import webhooks  # it imports this module

    routing_of = adapter(channel.kind).inspect
    query = select(WebhookEvent.id, WebhookEvent.body).where(
        WebhookEvent.source == channel.kind, WebhookEvent.state == webhooks.QUARANTINED
    )
    if since is not None:
        query = query.where(WebhookEvent.received_at >= since)
    ids = []
    for event_id, body in s.execute(query.execution_options(yield_per=REQUEUE_BATCH)):
        routing, _problem = routing_of(body)
        if channel.external_id in routing.numbers or channel.account_id in routing.accounts:
            ids.append(event_id)
    if ids:
        s.execute(
            sa.update(WebhookEvent)
            .where(WebhookEvent.id.in_(ids))
            .values(state=webhooks.PENDING, attempts=0, next_attempt_at=None, error=None)
        )
    return len(ids)


def reveal_verify_token(s: Session, identity: Identity, channel_id: object) -> str:
    """The verify token, for the admin to paste into Meta's webhook settings; audited."""
    channel = _own(s, identity, channel_id)
    token = _readable(channel)[VERIFY_TOKEN]
    audit.record(
        s,
        "channel.verify_token_revealed",
        organization_id=channel.organization_id,
        actor_user_id=identity.user_id,
        subject=f"{channel.kind}:{channel.external_id}",
    )
    return token


def _readable(channel: Channel) -> Credentials:
    try:
        return credentials(channel)
    except crypto.DecryptionError:
        raise AccessError("channel.secrets_unreadable") from None


# Testing the connection ------------------------------------------------------------------------

# What each check can say in plain words; any other problem shows the platform's own words.
EXPLAINED = {
    "graph": ("ok", "unreachable", "unavailable"),
    "token": ("ok", "rejected"),
    "number": ("ok", "not_found", "no_permission"),
    "account": ("ok", "not_found", "no_permission", "not_in_account"),
    "webhooks": ("ok", "no_permission", "not_subscribed"),
    "display_number": ("ok", "mismatch"),
}


def check_key(name: str) -> str:
    return f"channel.check.{name}"


def detail_key(check: ConnectionCheck) -> str:
    outcome = check.problem or "ok"
    if outcome in EXPLAINED.get(check.name, ()):
        return f"channel.test.{check.name}.{outcome}"
    return "channel.test.refused"


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


async def test_connection(identity: Identity, channel_id: object) -> dict:
    """Ask the platform whether the number works, and say what is wrong in plain words, in
    the admin's language. What it learns about the token is kept, as a send would keep it."""

    def load() -> tuple[Channel, Credentials]:
        with db.session() as s:
            channel = _own(s, identity, channel_id)
            return channel, _readable(channel)

    channel, keys = await asyncio.to_thread(load)  # detached: only read from here on
    report = await adapter(channel.kind).check_connection(
        channel.external_id, channel.account_id, keys
    )
    checks = list(report.checks)
    if report.display_number and channel.display_number:
        same = _digits(report.display_number) == _digits(channel.display_number)
        checks.append(ConnectionCheck("display_number", None if same else "mismatch"))
    await asyncio.to_thread(_record_test, identity, channel.id, checks)
    words = {
        "number": channel.external_id,
        "account": channel.account_id or "",
        "ours": channel.display_number or "",
        "theirs": report.display_number or "",
        "name": report.verified_name or "—",
    }
    return {
        "ok": all(check.ok for check in checks),
        "checks": [
            {
                "key": check_key(check.name),
                "ok": check.ok,
                "detail": translate(
                    detail_key(check), identity.language, **words, reason=_reason(check)
                ),
            }
            for check in checks
        ],
        "number": report.display_number or "",
        "verified_name": report.verified_name or "",
        "quality": report.quality or "",
        "throughput": report.throughput or "",
        "facts": dict(report.facts),
    }


def _record_test(identity: Identity, channel_id: int, checks: list[ConnectionCheck]) -> None:
    """A token Meta rejected is marked (accepted: unmarked); all good clears the last error."""
    with db.session(write=True) as s:
        channel = s.get(Channel, channel_id)
        token = next((check for check in checks if check.name == "token"), None)
        if token is not None:
            channel.token_invalid_at = None if token.ok else channel.token_invalid_at or utcnow()
        if all(check.ok for check in checks):
            channel.last_error = None
        audit.record(
            s,
            "channel.tested",
            organization_id=channel.organization_id,
            actor_user_id=identity.user_id,
            subject=f"{channel.kind}:{channel.external_id}",
            ok=[check_key(check.name) for check in checks if check.ok],
            failed=[check_key(check.name) for check in checks if not check.ok],
        )


def _reason(check: ConnectionCheck) -> str:
    error = check.error
    if error is None:
        return ""
    words = f"{error.title} {error.details}".strip()
    return f"{words} ({error.code})" if error.code is not None else words


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
    """Channels by number and account, with their secrets, refreshed every few seconds.

    Only active channels are routed to. A disabled one still authenticates what its app
    signs (``all``): Meta keeps sending to a number disabled here, and a refused webhook is
    retried for 7 days, then lost; accepted, it is kept aside (quarantined) until the number
    is enabled again (``set_active``).
    """

    TTL = 5.0
    MISS_INTERVAL = 1.0  # unknown numbers cannot force more than one reload a second

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_number: dict[tuple[str, str], Route] = {}
        self._by_account: dict[tuple[str, str], list[Route]] = {}
        self._signers: list[Route] = []
        self._loaded_at = float("-inf")

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def _load(self, db: Session) -> None:
        by_number, by_account, signers = {}, {}, []
        for channel in db.exec(select(Channel)):
            try:
                keys = credentials(channel)
            except crypto.DecryptionError:
                continue  # reported by `pytake check`; it cannot authenticate anything
            route = Route(
                channel_id=channel.id,
                organization_id=channel.organization_id,
                kind=channel.kind,
                number=channel.external_id,
                account=channel.account_id,
                app_secret=keys[APP_SECRET],
                verify_token=keys[VERIFY_TOKEN],
            )
            signers.append(route)
            if not channel.is_active:
                continue
            by_number[(channel.kind, channel.external_id)] = route
            if channel.account_id:
                by_account.setdefault((channel.kind, channel.account_id), []).append(route)
        self._by_number, self._by_account, self._signers = by_number, by_account, signers
        self._loaded_at = time.monotonic()

    def _fresh(self, db: Session, *, missed: bool = False) -> None:
        """Reload when the copy is older than the TTL (after a miss, MISS_INTERVAL).

        One thread reloads. When the copy is merely old, the others go on with it rather
        than queue behind the reload (under load, every webhook thread did, and each then
        reloaded again); after a miss or an invalidation they wait, and reload only if the
        reload they waited for is not recent enough.
        """
        limit = self.MISS_INTERVAL if missed else self.TTL
        if time.monotonic() - self._loaded_at <= limit:
            return
        wait = missed or self._loaded_at == float("-inf")
        if not self._lock.acquire(blocking=wait):
            return
        try:
            if time.monotonic() - self._loaded_at > limit:
                self._load(db)
        finally:
            self._lock.release()

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
        """Every channel whose app may sign a body or whose token Meta may verify, disabled
        ones included (Meta still sends them; see the class)."""
        self._fresh(db)
        return [route for route in self._signers if route.kind == kind]

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
