"""People's and organizations' names as typed into forms (trimmed, single-spaced, bounded),
and as avatars show them."""

from __future__ import annotations

from pytake.auth.errors import AccessError

MAX_NAME = 120


def clean_name(value: str, *, code: str = "account.bad_name") -> str:
    name = " ".join((value or "").split())
    if not name or len(name) > MAX_NAME:
        raise AccessError(code, max=MAX_NAME)
    return name


def initials(name: str) -> str:
    """Up to two letters for an avatar: the first letter of each of the first two words that
    have one. Marks, digits and symbols (``B<``, ``+55 11…``, an emoji) are never initials;
    a name without letters gets "?"."""
    firsts = (next((c for c in word if c.isalpha()), "") for word in name.split())
    return "".join([letter for letter in firsts if letter][:2]).upper() or "?"
