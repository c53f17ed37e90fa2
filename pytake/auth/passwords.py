"""argon2id hashing and the password rule."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pytake.auth.errors import AccessError

MIN_LENGTH = 10
MAX_LENGTH = 256
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# A valid hash to verify against when the account does not exist, so both cases cost the same.
_DUMMY_HASH = _hasher.hash("pytake-timing-equalizer")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_rule(password: str, email: str | None = None) -> None:
    """At least 10 characters, not the e-mail, not one repeated character."""
    if len(password) < MIN_LENGTH:
        raise AccessError("password.too_short", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise AccessError("password.too_long", max=MAX_LENGTH)
    lowered = password.lower()
    if email and (lowered == email.lower() or lowered == email.split("@", 1)[0].lower()):
        raise AccessError("password.is_email")
    if len(set(password)) < 4:
        raise AccessError("password.too_simple")
