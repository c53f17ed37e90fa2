"""Phone numbers as people read them: stored as WhatsApp ids (E.164 digits, no ``+``),
shown grouped the way the number's country writes it (+55 11 98765-4321, +1 415-555-0123).

libphonenumber knows each country's groupings. A Brazilian mobile that WhatsApp still knows
by its old eight digits (``55DD8XXXXXXX``, see ``channels.whatsapp.numbers``) is not a valid
number to it, yet is what the customer's WhatsApp uses: it is grouped as Brazil writes
eight-digit numbers. Anything else it cannot place keeps its digits, with the ``+``.
"""

from __future__ import annotations

import functools

import phonenumbers

from pytake.channels.whatsapp.numbers import normalize

_INTERNATIONAL = phonenumbers.PhoneNumberFormat.INTERNATIONAL


@functools.lru_cache(maxsize=16384)  # inbox pages and deltas show the same few numbers often
def for_people(wa_id: str) -> str:
    """``wa_id`` grouped for reading ("" for none); never drops or changes a digit."""
    digits = normalize(wa_id)
    if not digits:
        return ""
    if len(digits) == 12 and digits.startswith("55") and digits[4] in "6789":
        return f"+55 {digits[2:4]} {digits[4:8]}-{digits[8:]}"
    try:
        parsed = phonenumbers.parse(f"+{digits}")
    except phonenumbers.NumberParseException:
        return f"+{digits}"
    if not phonenumbers.is_possible_number(parsed):
        return f"+{digits}"
    shown = phonenumbers.format_number(parsed, _INTERNATIONAL)
    # Whatever the grouping, the digits are the customer's own, in order.
    return shown if normalize(shown) == digits else f"+{digits}"
