"""Text folded for searching: lower case, no accents, single spaces ("Não É" → "nao e")."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())
