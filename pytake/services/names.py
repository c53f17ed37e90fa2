"""People's and organizations' names as typed into forms: trimmed, single-spaced, bounded."""

from __future__ import annotations

from pytake.auth.errors import AccessError

MAX_NAME = 120


def clean_name(value: str, *, code: str = "account.bad_name") -> str:
    name = " ".join((value or "").split())
    if not name or len(name) > MAX_NAME:
        raise AccessError(code, max=MAX_NAME)
    return name
