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
def _fernet(secret_key: str) -> Fernet:
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"pytake credentials v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


@functools.cache
def _pseudonym_key(secret_key: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"pytake pseudonyms v1"
    ).derive(secret_key.encode())


def pseudonym(value: str) -> str:
    """The same for equal values, and meaningless without the secret key: a phone number's
    plain hash could be undone by hashing every number."""
    key = _pseudonym_key(get_settings().resolved_secret_key())
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
