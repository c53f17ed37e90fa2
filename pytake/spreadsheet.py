"""CSV files people open in a spreadsheet: every cell written as text, never as a formula.

A customer's name or message that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets when an admin opens an
export (CSV injection: ``=HYPERLINK(...)`` or worse). Such a cell gets a leading apostrophe,
which the spreadsheet shows as text and hides; numbers written as numbers are left alone.
Every export goes through ``csv_text``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """``value`` as it may be written: text that a spreadsheet would run is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """The CSV of ``header`` and ``rows``, each cell neutralized."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([cell(value) for value in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return buffer.getvalue()
