"""Organization settings: name, default language, time zone, what agents see, how long a
resolved conversation may reopen, and how long history is kept."""

from __future__ import annotations

import functools
import re
import zoneinfo

from sqlmodel import Session

from pytake import egress
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.i18n import LANGUAGES
from pytake.models import Organization, Role
from pytake.services import audit
from pytake.services.conversations import DEFAULT_VISIBILITY, VISIBILITY_RULES
from pytake.services.names import clean_name

DEFAULT_TIMEZONE = "UTC"
DEFAULT_REOPEN_HOURS = 24.0
MAX_REOPEN_HOURS = 24 * 30
# 0 keeps history forever; otherwise resolved conversations older than this are deleted.
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 3650
DEFAULT_OPT_OUT = "STOP, SAIR, PARAR, CANCELAR"
DEFAULT_OPT_IN = "START, VOLTAR"
MAX_KEYWORDS = 300
MAX_HOSTS = 20
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")  # Meta's rule for template names
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")


@functools.cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def settings_of(org: Organization) -> dict:
    """Every setting with its default filled in, as the page and the jobs read them."""
    saved = org.settings or {}
    return {
        "name": org.name,
        "language": saved.get("language") or "",
        "timezone": saved.get("timezone") or DEFAULT_TIMEZONE,
        "visibility": saved.get("visibility") or DEFAULT_VISIBILITY,
        "reopen_hours": float(saved.get("reopen_hours", DEFAULT_REOPEN_HOURS)),
        "retention_days": int(saved.get("retention_days", 0)),
        "csat": bool(saved.get("csat", False)),
        # The approved template that asks for a rating outside the 24-hour window ("": none).
        "csat_template": saved.get("csat_template", ""),
        # Words that opt a customer out of marketing templates, and back in (comma-separated).
        "opt_out_keywords": saved.get("opt_out_keywords", DEFAULT_OPT_OUT),
        "opt_in_keywords": saved.get("opt_in_keywords", DEFAULT_OPT_IN),
        # Hosts chatbot flows' HTTP steps may call.
        "flow_hosts": list(saved.get("flow_hosts") or []),
    }


def current(s: Session, identity: Identity) -> dict:
    return settings_of(s.get(Organization, identity.organization_id))


def _number(value: object, low: float, high: float, code: str, **params) -> float:
    """A number typed in a form (a comma as decimal mark too) within its limits."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise AccessError(code, **params) from None
    if not low <= number <= high:
        raise AccessError(code, **params)
    return number


def _cleaned(changes: dict) -> dict:
    """Each field the form sent, checked; unknown fields are ignored."""
    clean: dict = {}
    if "name" in changes:
        clean["name"] = clean_name(changes["name"], code="account.bad_org_name")
    if "language" in changes:
        if changes["language"] not in ("", *LANGUAGES):
            raise AccessError("profile.bad_language")
        clean["language"] = changes["language"]
    if "timezone" in changes:
        if changes["timezone"] not in timezones():
            raise AccessError("organization.bad_timezone")
        clean["timezone"] = changes["timezone"]
    if "visibility" in changes:
        if changes["visibility"] not in VISIBILITY_RULES:
            raise AccessError("organization.bad_visibility", rules=", ".join(VISIBILITY_RULES))
        clean["visibility"] = changes["visibility"]
    if "reopen_hours" in changes:
        code, top = "organization.bad_reopen_hours", MAX_REOPEN_HOURS
        clean["reopen_hours"] = _number(changes["reopen_hours"], 0, top, code, max=top)
    if "retention_days" in changes:
        limits = {"min": MIN_RETENTION_DAYS, "max": MAX_RETENTION_DAYS}
        code = "organization.bad_retention"
        days = _number(changes["retention_days"], 0, MAX_RETENTION_DAYS, code, **limits)
        if days != int(days) or 0 < days < MIN_RETENTION_DAYS:
            raise AccessError(code, **limits)
        clean["retention_days"] = int(days)
    if "csat" in changes:
        clean["csat"] = changes["csat"] in (True, "on", "true", "1")
    if "csat_template" in changes:
        name = str(changes["csat_template"] or "").strip()
        if name and not _TEMPLATE_NAME.match(name):
            raise AccessError("organization.bad_csat_template")
        clean["csat_template"] = name
    for key in ("opt_out_keywords", "opt_in_keywords"):
        if key in changes:
            words = [w.strip() for w in str(changes[key] or "").split(",") if w.strip()]
            unique = {}
            for word in words:
                unique.setdefault(word.casefold(), word)
            joined = ", ".join(unique.values())
            if len(joined) > MAX_KEYWORDS:
                raise AccessError("organization.bad_keywords", max=MAX_KEYWORDS)
            clean[key] = joined
    if "flow_hosts" in changes:
        clean["flow_hosts"] = _hosts(changes["flow_hosts"])
    return clean


def _hosts(value: object) -> list[str]:
    """Host names, one per line or comma-separated, lower case; no schemes, ports or paths,
    and none on the server's own network unless the operator allows it (PYTAKE_EGRESS_ALLOW)."""
    items = value if isinstance(value, list) else re.split(r"[\s,]+", str(value or ""))
    hosts = [str(h).strip().lower().rstrip(".") for h in items if str(h).strip()]
    if len(hosts) > MAX_HOSTS:
        raise AccessError("organization.too_many_hosts", max=MAX_HOSTS)
    allow = egress.allowlist()
    for host in hosts:
        if not _HOST.match(host):
            raise AccessError("organization.bad_host", host=host[:60])
        # localhost, metadata names and internal IPs (however spelled) are refused now; a name
        # that resolves to an internal address is refused when a flow calls it.
        refusal = egress.name_refusal(host, allow)
        if refusal == "metadata_host":
            raise AccessError("organization.metadata_host", host=host[:60])
        if refusal is not None:
            raise AccessError("organization.internal_host", host=host[:60])
    return sorted(set(hosts))


def update(
    s: Session, organization_id: int, changes: dict, *, actor: Identity | None = None
) -> dict:
    """Apply the changed settings (admins; ``actor`` None is the CLI); returns them all."""
    if actor is not None:
        actor.require(Role.ADMIN)
    clean = _cleaned(changes if isinstance(changes, dict) else {})
    org = s.get(Organization, organization_id)
    before = settings_of(org)
    changed = {key: value for key, value in clean.items() if before[key] != value}
    if "name" in changed:
        org.name = changed["name"]
    saved = {key: value for key, value in changed.items() if key != "name"}
    if saved:
        org.settings = {**(org.settings or {}), **saved}
    if changed:
        audit.record(
            s,
            "organization.updated",
            organization_id=organization_id,
            actor_user_id=actor.user_id if actor else None,
            subject=f"organization:{organization_id}",
            changed={key: [before[key], value] for key, value in changed.items()},
        )
    return settings_of(org)
