"""Numbers as pages show them."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """Compact and the same in both languages: 45 s, 12 min, 3 h 05, 2 d 4 h ("—": none)."""
    if seconds is None:
        return "—"
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
