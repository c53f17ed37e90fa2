"""WhatsApp ids of phone numbers, and the other spellings Meta uses for the same person.

Brazilian mobiles registered before the ninth digit reply as ``55DD8XXXXXXX`` while agents
type ``55DD98XXXXXXX``; Mexico and Argentina differ by a ``1`` or ``9`` after the country
code. Matching contacts on every spelling keeps one customer in one conversation.
"""

from __future__ import annotations

import re

_NOT_DIGITS = re.compile(r"\D")


E164_DIGITS = range(7, 16)  # the shortest numbers in use, and E.164's most


def phone(value: str) -> str | None:
    """``value``'s digits when it is a phone number, else None: a business-scoped user id
    (``BR.99887766554433221100``) has letters, and more digits than any phone number, and
    stored as one it would show as a number and be sent to as one."""
    if any(character.isalpha() for character in value):
        return None
    digits = normalize(value)
    return digits if len(digits) in E164_DIGITS else None


def normalize(number: str) -> str:
    """Digits only: Meta's wa_id form (no ``+``, spaces or punctuation)."""
    return _NOT_DIGITS.sub("", number)


def aliases(wa_id: str) -> tuple[str, ...]:
    """Other spellings of ``wa_id`` that reach the same WhatsApp account."""
    digits = normalize(wa_id)
    if digits.startswith("55"):
        rest = digits[4:]
        if len(digits) == 13 and rest.startswith("9"):
            return (digits[:4] + rest[1:],)
        if len(digits) == 12 and rest[:1] in "6789":
            return (digits[:4] + "9" + rest,)
    if digits.startswith(("52", "54")):
        marker = "1" if digits.startswith("52") else "9"
        if len(digits) == 13 and digits[2] == marker:
            return (digits[:2] + digits[3:],)
        if len(digits) == 12:
            return (digits[:2] + marker + digits[2:],)
    return ()
