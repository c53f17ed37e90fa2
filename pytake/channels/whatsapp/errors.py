"""Graph API error envelopes, and which of Meta's codes are worth retrying."""

from __future__ import annotations

import datetime as dt
import email.utils
import math

import httpx

from pytake.channels.base import PlatformCallError, PlatformError

# Throughput, pair rate, transient and maintenance errors: waiting and trying again helps.
RETRYABLE_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057})
THROUGHPUT_EXCEEDED = 130429  # the number's messages per second
PAIR_RATE_EXCEEDED = 131056  # messages to one customer
TOKEN_INVALID = 190
THROTTLES = {THROUGHPUT_EXCEEDED: "number", PAIR_RATE_EXCEEDED: "recipient"}
# Failures before the request left this machine: sending it again cannot deliver twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def from_response(response: httpx.Response) -> PlatformCallError:
    """Meta's ``{"error": {...}}`` as a PlatformCallError; other bodies by HTTP status."""
    try:
        data = response.json().get("error") or {}
    except (ValueError, AttributeError):
        data = {}
    details = data.get("error_data") if isinstance(data.get("error_data"), dict) else {}
    code = data.get("code") if isinstance(data.get("code"), int) else None
    error = PlatformError(
        code=code,
        title=str(data.get("message") or f"HTTP {response.status_code}")[:300],
        details=str(details.get("details") or "")[:1000],
    )
    retryable = code in RETRYABLE_CODES or response.status_code == 429
    retryable = retryable or (code is None and response.status_code >= 500)
    return PlatformCallError(
        error,
        retryable=retryable,
        http_status=response.status_code,
        retry_after=_retry_after(response.headers.get("retry-after")),
        # A 429 without Meta's error (its edge, or a proxy in front of it) slows the number.
        throttle=THROTTLES.get(code) or ("number" if response.status_code == 429 else None),
        credentials_rejected=code == TOKEN_INVALID,
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: Meta sends seconds; a proxy in front of it may
    send an HTTP date. Waits are kept within an hour; nonsense is ignored."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return min(max(seconds, 0.0), 3600.0) if math.isfinite(seconds) else None


def network(exc: httpx.HTTPError) -> PlatformCallError:
    """No answer. Worth another try; but if the request had left, Meta may have acted on it."""
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "network error"
    return PlatformCallError(
        PlatformError(None, kind, str(exc)[:300]),
        retryable=True,
        ambiguous=not isinstance(exc, NOT_SENT),
    )
