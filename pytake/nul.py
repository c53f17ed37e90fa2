"""U+0000 in text, wherever it comes from (a customer's message, a forged event, an API
call, a CSV cell): PostgreSQL's text and jsonb columns refuse it, so a value holding one
failed its whole transaction there (a webhook retried until it was dead; an agent's action
lost) while SQLite stored it. Every string bound to a statement and every JSON document
written goes through here, on both databases alike: each NUL becomes U+FFFD, which keeps
its place visible instead of cutting the text silently. Bytes (raw webhook bodies) are
left as they came.
"""

from __future__ import annotations

import json
from typing import Any

STANDS_IN = "\ufffd"
_ESCAPED = "\\u0000"  # how json.dumps writes a NUL; PostgreSQL's jsonb refuses it too


def scrub(value: Any) -> Any:
    """``value`` with every NUL in its strings (dictionary keys too) replaced."""
    if isinstance(value, str):
        return value.replace("\x00", STANDS_IN)
    if isinstance(value, list | tuple):
        return type(value)(scrub(item) for item in value)
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value


def _holds_nul(values: Any) -> bool:
    for value in values:
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            if _holds_nul(value.keys()) or _holds_nul(value.values()):
                return True
        elif isinstance(value, list | tuple) and _holds_nul(value):
            return True
    return False


def dumps(value: Any) -> str:
    """The engine's JSON serializer: ``json.dumps``, without NULs. The scan of the finished
    text is what most documents cost; only one that holds a NUL is walked and written again
    (replacing the escape in the text could hit an escaped backslash followed by u0000)."""
    text = json.dumps(value)
    return json.dumps(scrub(value)) if _ESCAPED in text else text


def bound_parameters(_conn, _cursor, statement, parameters, _context, _executemany):
    """``before_cursor_execute`` (``retval=True``): the statement's parameters, one dict or
    tuple, or a list of them for executemany, without NULs."""
    if parameters and _holds_nul(
        parameters.values() if isinstance(parameters, dict) else parameters
    ):
        parameters = scrub(parameters)
    return statement, parameters
