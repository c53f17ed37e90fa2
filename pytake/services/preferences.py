"""Each member's choice of what notifies them, through which channel, and when not.

Stored on the user (``User.notify``) as given by ``clean``; read through ``Preferences``,
which falls back to the defaults for anything missing, so an old or damaged value never
stops a notification from being worked out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
import zoneinfo

from sqlmodel import Session

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Organization, User
from pytake.services.organization import settings_of, timezones

KINDS = ("new_conversation", "message", "assigned", "mention")
CHANNELS = ("app", "push", "email")  # in the open app; Web Push to a closed one; e-mail
DEFAULT_EVENTS = {
    "new_conversation": ("app", "push"),
    "message": ("app", "push"),
    "assigned": ("app", "push", "email"),
    "mention": ("app", "push", "email"),
}
MAIL_DELAYS = (1, 5, 10, 30, 60)  # minutes: an agent who comes back meanwhile is not e-mailed
DEFAULT_DELAY = 10
CLOCK = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")


@dataclasses.dataclass(frozen=True)
class Preferences:
    events: dict[str, tuple[str, ...]]
    mail_delay: int = DEFAULT_DELAY
    quiet: bool = False
    quiet_from: str = "22:00"
    quiet_to: str = "07:00"
    timezone: str = "UTC"

    def wants(self, kind: str, channel: str) -> bool:
        return channel in self.events.get(kind, ())

    def quiet_until(self, now: dt.datetime) -> dt.datetime | None:
        """When the quiet hours around ``now`` end, or None outside them (or when off).
        A window may cross midnight (22:00 to 07:00)."""
        if not self.quiet:
            return None
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        start, end = (dt.time.fromisoformat(t) for t in (self.quiet_from, self.quiet_to))
        for day in (local.date() - dt.timedelta(days=1), local.date()):
            begins = dt.datetime.combine(day, start, zone)
            ends = dt.datetime.combine(day + dt.timedelta(days=end <= start), end, zone)
            if begins <= local < ends:
                return ends.astimezone(dt.UTC)
        return None

    def as_dict(self) -> dict:
        return {
            "events": {kind: list(self.events.get(kind, ())) for kind in KINDS},
            "mail_delay": self.mail_delay,
            "quiet": self.quiet,
            "quiet_from": self.quiet_from,
            "quiet_to": self.quiet_to,
            "timezone": self.timezone,
        }


def of(user: User, organization: Organization | None = None) -> Preferences:
    """The member's preferences; the organization's time zone until they chose one."""
    stored = user.notify if isinstance(user.notify, dict) else {}
    fallback_zone = settings_of(organization)["timezone"] if organization else "UTC"
    try:
        return _read(stored, fallback_zone)
    except (AccessError, TypeError, ValueError):
        return Preferences(events=dict(DEFAULT_EVENTS), timezone=fallback_zone)


def _read(stored: dict, fallback_zone: str) -> Preferences:
    events = dict(DEFAULT_EVENTS)
    for kind, channels in (stored.get("events") or {}).items():
        if kind in KINDS and isinstance(channels, list):
            events[kind] = tuple(c for c in CHANNELS if c in channels)
    return clean({**stored, "events": events, "timezone": stored.get("timezone") or fallback_zone})


def clean(values: dict) -> Preferences:
    """Preferences from what a member submitted; a clear refusal for anything wrong."""
    raw_events = values.get("events")
    if not isinstance(raw_events, dict):
        raise AccessError("preferences.bad_events")
    events = {}
    for kind in KINDS:
        channels = raw_events.get(kind, ())
        if not isinstance(channels, list | tuple) or any(c not in CHANNELS for c in channels):
            raise AccessError("preferences.bad_events")
        events[kind] = tuple(c for c in CHANNELS if c in channels)
    delay = values.get("mail_delay", DEFAULT_DELAY)
    if isinstance(delay, str) and delay.isdigit():
        delay = int(delay)
    if delay not in MAIL_DELAYS or isinstance(delay, bool):
        raise AccessError("preferences.bad_delay")
    quiet_from, quiet_to = values.get("quiet_from", "22:00"), values.get("quiet_to", "07:00")
    if not all(isinstance(t, str) and CLOCK.fullmatch(t) for t in (quiet_from, quiet_to)):
        raise AccessError("preferences.bad_time")
    if quiet_from == quiet_to:
        raise AccessError("preferences.empty_quiet")
    timezone = values.get("timezone")
    if timezone not in timezones():
        raise AccessError("organization.bad_timezone")
    return Preferences(
        events=events,
        mail_delay=delay,
        quiet=values.get("quiet") is True,
        quiet_from=quiet_from,
        quiet_to=quiet_to,
        timezone=timezone,
    )


def get(s: Session, identity: Identity) -> Preferences:
    return of(s.get(User, identity.user_id), s.get(Organization, identity.organization_id))


# Notices consult a member's preferences for each notice, many a second on a busy team: each
# process keeps them this long. A change applies at once in the process that saved it (the
# member's own tab), within this long in the others.
KEPT_SECONDS = 15.0
_kept: dict[tuple[int, int], tuple[float, Preferences]] = {}


def current(s: Session, identity: Identity) -> Preferences:
    key = (identity.user_id, identity.organization_id)
    found = _kept.get(key)
    if found is None or time.monotonic() - found[0] > KEPT_SECONDS:
        if len(_kept) > 10_000:  # members come and go: never let it grow without end
            _kept.clear()
        found = _kept[key] = (time.monotonic(), get(s, identity))
    return found[1]


def save(s: Session, identity: Identity, values: dict) -> Preferences:
    preferences = clean(values)
    _kept.pop((identity.user_id, identity.organization_id), None)
    user = s.get(User, identity.user_id)
    user.notify = preferences.as_dict()
    s.add(user)
    return preferences
