"""Checking what a customer typed against what a question asks for; each check returns the
value to keep (normalized), or None when the answer does not fit."""

from __future__ import annotations

import datetime as dt
import re

import regex

MAX_ANSWER = 500
PATTERN_SECONDS = 0.05  # an admin's pattern never stalls the bot on a customer's text
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
KINDS = ("text", "number", "email", "cpf_cnpj", "date", "pattern")


def _digits_check(digits: list[int], weights: list[int]) -> int:
    rest = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def valid_cpf(digits: str) -> bool:
    numbers = [int(d) for d in digits]
    if len(numbers) != 11 or len(set(numbers)) == 1:
        return False
    first = _digits_check(numbers[:9], list(range(10, 1, -1)))
    second = _digits_check(numbers[:10], list(range(11, 1, -1)))
    return numbers[9:] == [first, second]


def valid_cnpj(digits: str) -> bool:
    numbers = [int(d) for d in digits]
    if len(numbers) != 14 or len(set(numbers)) == 1:
        return False
    weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _digits_check(numbers[:12], weights)
    second = _digits_check(numbers[:13], [6, *weights])
    return numbers[12:] == [first, second]


def _document(text: str) -> str | None:
    """A CPF or CNPJ, typed with or without its dots, dashes and slash."""
    if not re.fullmatch(r"[\d.\-/ ]+", text):
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and valid_cpf(digits):
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if len(digits) == 14 and valid_cnpj(digits):
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    return None


def _date(text: str) -> str | None:
    """Day first as Brazilians write it (25/12/2026, 25-12-26), or ISO; kept as ISO."""
    layouts = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%d-%m-%y", "%d.%m.%y", "%Y-%m-%d")
    for layout in layouts:
        try:
            return dt.datetime.strptime(text, layout).date().isoformat()
        except ValueError:
            continue
    return None


def _number(text: str) -> str | None:
    compact = text.replace(" ", "")
    if "," in compact and "." in compact:  # 1.234,56 or 1,234.56: the last mark is decimal
        decimal = "," if compact.rfind(",") > compact.rfind(".") else "."
        compact = compact.replace("." if decimal == "," else ",", "")
    if not _NUMBER.match(compact):
        return None
    return compact.replace(",", ".")


def check_pattern(pattern: str) -> str | None:
    """Why an admin's pattern cannot be used, or None."""
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return str(exc)
    return None


def check(kind: str, text: str, pattern: str = "") -> str | None:
    text = " ".join((text or "").split())
    if not text or len(text) > MAX_ANSWER:
        return None
    if kind == "number":
        return _number(text)
    if kind == "email":
        return text.lower() if _EMAIL.match(text) else None
    if kind == "cpf_cnpj":
        return _document(text)
    if kind == "date":
        return _date(text)
    if kind == "pattern":
        try:
            found = regex.fullmatch(pattern, text, timeout=PATTERN_SECONDS)
        except (regex.error, TimeoutError):
            return None
        return text if found else None
    return text
