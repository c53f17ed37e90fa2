"""``{{contact.name}}``-style variables, as quick replies and chatbot flows fill them."""

from __future__ import annotations

import re

# Attribute names may hold spaces, dots and dashes ("first item", "e-mail"), as contacts' do.
VARIABLE = re.compile(r"\{\{\s*(contact|agent)\.(\w[\w .-]{0,39}?)\s*\}\}", re.UNICODE)
_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
BUILT_IN = frozenset({"name", "first_name", "number"})


def contact_values(name: str, wa_id: str | None) -> dict[tuple[str, str], str]:
    return {
        ("contact", "name"): name,
        ("contact", "first_name"): name.split(" ")[0] if name else "",
        ("contact", "number"): f"+{wa_id}" if wa_id else "",
    }


def substitute(text: str, values: dict[tuple[str, str], str], attributes: dict[str, str]) -> str:
    """Known variables are replaced; an unknown or empty one is left out, never sent raw.
    ``attributes`` are the contact's custom ones, keyed in lower case."""
    filled = VARIABLE.sub(
        lambda m: values.get(
            (m[1], m[2]), attributes.get(m[2].casefold(), "") if m[1] == "contact" else ""
        ),
        text,
    )
    return re.sub(r"[ \t]{2,}", " ", filled).strip()


def names(text: str) -> list[tuple[str, str]]:
    """The variables a text uses, as (scope, name)."""
    return [(m[1], m[2]) for m in VARIABLE.finditer(text or "")]


def malformed(text: str) -> list[str]:
    """What looks like a variable but is none ("{{contato.nome}}"): it would be sent as is."""
    return [m[1].strip()[:40] for m in _BRACES.finditer(text or "") if not VARIABLE.fullmatch(m[0])]
