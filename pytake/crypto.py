"""Encryption at rest for credentials (channel tokens and secrets), and pseudonyms.

The keys are derived from ``PYTAKE_SECRET_KEY`` with HKDF, so rotating that key makes stored
credentials unreadable: they must then be entered again.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pytake.settings import get_settings


class DecryptionError(Exception):
    """Stored credentials cannot be read with the current secret key."""


@functools.cache
def _derived(secret_key: str, purpose: bytes) -> bytes:
    """One key per purpose, so no two uses ever share a key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )


@functools.cache
def _fernet(secret_key: str) -> Fernet:
    raw = _derived(secret_key, b"pytake credentials v1")
    return Fernet(base64.urlsafe_b64encode(raw))


def pseudonym(value: str) -> str:
    """The same for equal values, and meaningless without the secret key: a phone number's
    plain hash could be undone by hashing every number."""
    key = _derived(get_settings().resolved_secret_key(), b"pytake pseudonyms v1")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _current() -> Fernet:
    return _fernet(get_settings().resolved_secret_key())


def encrypt_json(values: dict[str, str]) -> str:
    return _current().encrypt(json.dumps(values).encode()).decode()


def decrypt_json(token: str) -> dict[str, str]:
    try:
        return json.loads(_current().decrypt(token.encode()))
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError(
            "stored credentials cannot be decrypted: was PYTAKE_SECRET_KEY changed? "
            "Enter the channel's secrets again."
        ) from exc
