"""Sign-in throttling, counted in the database so it holds across workers and restarts.

Failures are counted per (account, address) and per address. An attempt is counted
*before* its password is checked, under the row lock of each of its keys, so parallel
guesses queue on the count instead of all slipping past it; a success gives its count
back. After ``PYTAKE_LOGIN_MAX_FAILURES_PER_ACCOUNT`` failures from one address, that
address waits before each further try on that account, 30 seconds doubling up to the
window: guessing stays slow, and a stranger's guesses never lock the owner out from their
own address. An address over ``PYTAKE_LOGIN_MAX_FAILURES_PER_IP`` failures (on any
accounts) waits out the window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.models import SignInThrottle, utcnow
from pytake.settings import get_settings

FAILED_SIGN_IN = "auth.sign_in_failed"
FIRST_DELAY = dt.timedelta(seconds=30)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """An admitted attempt: the keys it was counted under (see ``succeeded``)."""

    keys: tuple[str, ...]


def _key(*parts: str) -> str:
    # A digest: the table holds no e-mail or address, and the key has a fixed length.
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _locked(db: Session, key: str) -> SignInThrottle:
    """The key's row, created if missing, locked until the transaction ends (SQLite: the
    write transaction already holds the database's lock)."""
    table = SignInThrottle.__table__
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(table)
        .values(key=key, failures=0, started_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return db.execute(
        sa.select(SignInThrottle)
        .where(SignInThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _minutes(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def begin(db: Session, *, email: str, ip: str | None) -> Attempt:
    """Admit one sign-in attempt, counted as a failure until ``succeeded``, or refuse it
    (``auth.throttled``). Commits, so the count holds while the password is checked and
    parallel attempts on the same keys do not wait for that check."""
    settings = get_settings()
    now = utcnow()
    window = dt.timedelta(minutes=settings.login_window_minutes)
    pair = _locked(db, _key("account", email, ip or ""))
    address = _locked(db, _key("address", ip)) if ip else None
    for row in (pair, address):
        if row is not None and row.started_at <= now - window:
            row.failures, row.started_at, row.next_at = 0, now, None
    refusal = None
    if pair.next_at is not None and pair.next_at > now:
        refusal = pair.next_at
    elif address is not None and address.failures >= settings.login_max_failures_per_ip:
        refusal = address.started_at + window
    if refusal is None:
        pair.failures += 1
        over = pair.failures - settings.login_max_failures_per_account
        if over >= 0:
            pair.next_at = now + min(FIRST_DELAY * 2 ** min(over, 20), window)
        if address is not None:
            address.failures += 1
    db.commit()
    if refusal is not None:
        raise AccessError("auth.throttled", minutes=_minutes(refusal, now))
    return Attempt(keys=tuple(row.key for row in (pair, address) if row is not None))


def succeeded(db: Session, attempt: Attempt) -> None:
    """The password was right: the attempt was not a failure, and the account may be tried
    freely from this address again."""
    pair, *address = attempt.keys
    db.execute(sa.delete(SignInThrottle).where(SignInThrottle.key == pair))
    if address:
        db.execute(
            sa.update(SignInThrottle)
            .where(SignInThrottle.key == address[0], SignInThrottle.failures > 0)
            .values(failures=SignInThrottle.failures - 1)
        )


def forget_expired(db: Session) -> int:
    """Drop the counts whose window ended and whose wait is over (they would start afresh
    anyway), so the table holds only recent trouble."""
    now = utcnow()
    ended = now - dt.timedelta(minutes=get_settings().login_window_minutes)
    return db.execute(
        sa.delete(SignInThrottle).where(
            SignInThrottle.started_at <= ended,
            sa.or_(SignInThrottle.next_at.is_(None), SignInThrottle.next_at <= now),
        )
    ).rowcount
