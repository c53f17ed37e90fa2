"""Why a message failed and what to do next, in the agent's language.

Meta's error codes (reference §7.2) become a plain reason, a next step, and whether sending
again can help; an unlisted code still shows Meta's own title.
"""

from __future__ import annotations

from pytake.i18n import catalog, translate

# Meta answered a send with an id another message already has (``jobs.outbox``).
DUPLICATE_ID = "duplicate id"
# Codes where the same message, sent again later, can succeed (190: once the token is renewed).
RETRY_HELPS = frozenset({4, 190, 80007, 130429, 131000, 131016, 131042, 131056, 131057})


def explain(status: str, error: dict | None, language: str | None) -> dict:
    """``{"code", "reason", "next", "retry"}`` for a failed or unconfirmed message."""
    first = ((error or {}).get("errors") or [{}])[0]
    code, title = first.get("code"), str(first.get("title") or "")
    if title == DUPLICATE_ID:
        key, retry = "explain.duplicate_id", False
    elif status == "unknown":
        key, retry = "explain.no_answer", True
    elif code is None and title in ("timeout", "network error"):
        key, retry = "explain.network", True
    elif code is None and title == "channel disabled":
        key, retry = "explain.channel_disabled", True
    elif code is not None and f"explain.{code}" in catalog("en"):
        key, retry = f"explain.{code}", code in RETRY_HELPS
    else:
        key, retry = "explain.unknown", code is None or code in RETRY_HELPS
    return {
        "code": "" if code is None else str(code),
        "reason": translate(key, language, code=code if code is not None else "—", title=title),
        "next": translate(f"{key}_next", language),
        "retry": retry,
    }
