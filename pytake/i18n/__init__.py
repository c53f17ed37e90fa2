"""Translations: flat JSON catalogs per language, looked up by key.

English is the reference catalog; a test keeps pt-BR complete and its placeholders equal.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

LANGUAGES = {"en": "English", "pt-BR": "Português (Brasil)"}
DEFAULT_LANGUAGE = "en"
_CATALOGS = Path(__file__).with_name("locales")


@functools.cache
def catalog(language: str) -> dict[str, str]:
    language = normalize_language(language)
    with (_CATALOGS / f"{language}.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def normalize_language(value: str | None) -> str:
    """Map ``pt``, ``pt_br``, ``PT-br``... to a supported language, else the default."""
    if not value:
        return DEFAULT_LANGUAGE
    value = value.strip().replace("_", "-").lower()
    for code in LANGUAGES:
        if value == code.lower():
            return code
    primary = value.split("-", 1)[0]
    for code in LANGUAGES:
        if code.lower().split("-", 1)[0] == primary:
            return code
    return DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str:
    """The best supported language of a browser's Accept-Language header."""
    if not header:
        return DEFAULT_LANGUAGE
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*":
            choices.append((-quality, position, tag))
    for _, _, tag in sorted(choices):
        primary = tag.replace("_", "-").lower().split("-", 1)[0]
        if any(code.lower().split("-", 1)[0] == primary for code in LANGUAGES):
            return normalize_language(tag)
    return DEFAULT_LANGUAGE


class Term(str):
    """A parameter that is itself a key ("the body" in a message about a form field): it
    is translated with the message."""

    __slots__ = ()


def translate(key: str, language: str | None = None, **params: object) -> str:
    """The text for ``key``; an unknown key is returned as is so a gap is visible, not fatal."""
    text = catalog(normalize_language(language)).get(key) or catalog(DEFAULT_LANGUAGE).get(key)
    if text is None:
        return key
    if not params:
        return text
    terms = {k: translate(v, language) for k, v in params.items() if isinstance(v, Term)}
    return text.format(**{**params, **terms})
