"""Business hours: when a number or team answers, and the messages sent on its behalf.

A team's hours apply to the conversations it owns; other conversations follow their
number's hours; with neither, PyTake is always open. Times are local to the hours' time
zone (else the organization's), so daylight-saving changes need no edits.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo

from sqlmodel import Session, select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.i18n import Term
from pytake.models import BusinessHours, Channel, Conversation, Organization, Role, Team, utcnow
from pytake.services import audit
from pytake.services.conversations import valid_id
from pytake.services.organization import settings_of, timezones

DAYS = range(7)  # Monday=0, as datetime.weekday()
MAX_INTERVALS = 3
MAX_HOLIDAYS = 366
MAX_MESSAGE = 4096
LOOK_BACK_DAYS = 15  # a closed stretch longer than this is one period
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def clean_weekly(weekly: object) -> dict[str, list[list[str]]]:
    """``{day: [[open, close], ...]}`` checked: HH:MM, open before close, no overlaps;
    "24:00" closes at midnight."""
    if not isinstance(weekly, dict):
        raise AccessError("hours.bad_schedule")
    clean: dict[str, list[list[str]]] = {}
    for day in DAYS:
        intervals = weekly.get(str(day)) or []
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise AccessError("hours.bad_schedule")
        spans = []
        for interval in intervals:
            if (
                not isinstance(interval, list | tuple)
                or len(interval) != 2
                or not all(isinstance(v, str) for v in interval)
                or not _TIME.match(interval[0])
                or not (_TIME.match(interval[1]) or interval[1] == "24:00")
                or _minutes(interval[0]) >= _minutes(interval[1])
            ):
                raise AccessError("hours.bad_interval", day=Term(f"hours.day.{day}"))
            spans.append([interval[0], interval[1]])
        spans.sort()
        if any(_minutes(a[1]) > _minutes(b[0]) for a, b in itertools.pairwise(spans)):
            raise AccessError("hours.overlap", day=Term(f"hours.day.{day}"))
        if spans:
            clean[str(day)] = spans
    return clean


def clean_holidays(holidays: object) -> list[str]:
    if isinstance(holidays, str):
        holidays = [h for h in re.split(r"[\s,;]+", holidays) if h]
    if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
        raise AccessError("hours.bad_holiday", value="…")
    days = set()
    for value in holidays:
        try:
            days.add(dt.date.fromisoformat(value).isoformat())
        except (TypeError, ValueError):
            raise AccessError("hours.bad_holiday", value=str(value)[:20]) from None
    return sorted(days)


def _zone(hours: BusinessHours, organization: Organization) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(hours.timezone or settings_of(organization)["timezone"])


def _intervals(hours: BusinessHours, day: dt.date) -> list[tuple[int, int]]:
    if day.isoformat() in (hours.holidays or []):
        return []
    spans = (hours.weekly or {}).get(str(day.weekday())) or []
    return [(_minutes(a), _minutes(b)) for a, b in spans]


def is_open(hours: BusinessHours, zone: zoneinfo.ZoneInfo, at: dt.datetime) -> bool:
    local = at.astimezone(zone)
    now = local.hour * 60 + local.minute
    return any(start <= now < end for start, end in _intervals(hours, local.date()))


def closed_since(hours: BusinessHours, zone: zoneinfo.ZoneInfo, at: dt.datetime) -> str:
    """When the closed stretch containing ``at`` began (UTC, ISO): the key of one "period"
    for the away message. Longer than ``LOOK_BACK_DAYS``: one period, "closed"."""
    local = at.astimezone(zone)
    now = local.hour * 60 + local.minute
    for back in range(LOOK_BACK_DAYS):
        day = local.date() - dt.timedelta(days=back)
        ends = [end for _, end in _intervals(hours, day) if back or end <= now]
        if ends:
            naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=max(ends))
            return naive.replace(tzinfo=zone).astimezone(dt.UTC).isoformat()
    return "closed"


def open_seconds(
    hours: BusinessHours, zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime
) -> int:
    """How many seconds between ``start`` and ``end`` fall within the hours: a wait that
    spans a night or a weekend counts only the time someone could have answered."""
    if end <= start:
        return 0
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        midnight = dt.datetime.combine(day, dt.time(), zone)
        for opens, closes in _intervals(hours, day):
            # Wall-clock times of that day, placed in the zone (daylight saving included).
            begin = (midnight.replace(tzinfo=None) + dt.timedelta(minutes=opens)).replace(
                tzinfo=zone
            )
            finish = (midnight.replace(tzinfo=None) + dt.timedelta(minutes=closes)).replace(
                tzinfo=zone
            )
            overlap = min(end, finish) - max(start, begin)
            total += max(overlap.total_seconds(), 0)
        day += dt.timedelta(days=1)
    return round(total)


def seconds_between(
    s: Session, conversation: Conversation, start: dt.datetime, end: dt.datetime
) -> int:
    """Business seconds by the conversation's hours; without hours, every second counts."""
    hours = effective(s, conversation)
    if hours is None:
        return max(round((end - start).total_seconds()), 0)
    return open_seconds(
        hours, _zone(hours, s.get(Organization, conversation.organization_id)), start, end
    )


def effective(s: Session, conversation: Conversation) -> BusinessHours | None:
    """The hours a conversation follows: its team's, else its number's."""
    team_id, channel_id = conversation.team_id, conversation.channel_id

    def find() -> BusinessHours | None:
        if team_id is not None:
            found = s.exec(select(BusinessHours).where(BusinessHours.team_id == team_id)).first()
            if found is not None:
                return found
        return s.exec(select(BusinessHours).where(BusinessHours.channel_id == channel_id)).first()

    return db.memo(s, ("hours", team_id, channel_id), find)


def state(s: Session, conversation: Conversation, at: dt.datetime | None = None):
    """``(hours, open?, period key)`` for a conversation, or None without hours."""
    hours = effective(s, conversation)
    if hours is None:
        return None
    zone = _zone(hours, s.get(Organization, conversation.organization_id))
    at = at or utcnow()
    opened = is_open(hours, zone, at)
    return hours, opened, None if opened else closed_since(hours, zone, at)


# Administration --------------------------------------------------------------------------------


def _owner(s: Session, identity: Identity, kind: object, owner_id: object) -> dict:
    """The number or team the hours belong to, in the caller's organization."""
    identity.require(Role.ADMIN)
    model = {"channel": Channel, "team": Team}.get(kind) if isinstance(kind, str) else None
    row = s.get(model, owner_id) if model is not None and valid_id(owner_id) else None
    if row is None or row.organization_id != identity.organization_id:
        raise AccessError("hours.owner_not_found")
    return {f"{kind}_id": row.id}


def _find(s: Session, owner: dict) -> BusinessHours | None:
    [(column, value)] = owner.items()
    return s.exec(select(BusinessHours).where(getattr(BusinessHours, column) == value)).first()


def save(s: Session, identity: Identity, kind: object, owner_id: object, form: object) -> None:
    """Set a number's or team's hours and messages (admins)."""
    owner = _owner(s, identity, kind, owner_id)
    form = form if isinstance(form, dict) else {}
    zone = form.get("timezone") or ""
    if zone and zone not in timezones():
        raise AccessError("organization.bad_timezone")
    texts = {}
    for name in ("away_message", "greeting_message"):
        value = form.get(name) or ""
        if not isinstance(value, str) or len(value.strip()) > MAX_MESSAGE:
            raise AccessError("hours.message_too_long", max=MAX_MESSAGE)
        texts[name] = value.strip()
    weekly = clean_weekly(form.get("weekly"))
    holidays = clean_holidays(form.get("holidays") or [])
    hours = _find(s, owner) or BusinessHours(organization_id=identity.organization_id, **owner)
    hours.timezone, hours.weekly, hours.holidays = zone, weekly, holidays
    hours.away_message, hours.greeting_message = texts["away_message"], texts["greeting_message"]
    hours.updated_at = utcnow()
    s.add(hours)
    audit.record(
        s,
        "hours.saved",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=f"{kind}:{owner_id}",
        timezone=zone,
        weekly=weekly,
        holidays=len(holidays),
    )


def clear(s: Session, identity: Identity, kind: object, owner_id: object) -> None:
    """Always open again, with no automatic messages."""
    hours = _find(s, _owner(s, identity, kind, owner_id))
    if hours is not None:
        s.delete(hours)
        audit.record(
            s,
            "hours.cleared",
            organization_id=identity.organization_id,
            actor_user_id=identity.user_id,
            subject=f"{kind}:{owner_id}",
        )


def overview(s: Session, identity: Identity) -> list[dict]:
    """Every number and team with its hours (or none), for the settings page."""
    identity.require(Role.ADMIN)
    org = identity.organization_id
    saved = {
        (h.channel_id and ("channel", h.channel_id)) or ("team", h.team_id): h
        for h in s.exec(select(BusinessHours).where(BusinessHours.organization_id == org))
    }
    owners = [
        ("channel", c.id, c.name)
        for c in s.exec(
            select(Channel).where(Channel.organization_id == org).order_by(Channel.name)
        )
    ] + [
        ("team", t.id, t.name)
        for t in s.exec(select(Team).where(Team.organization_id == org).order_by(Team.name))
    ]
    rows = []
    for kind, owner_id, name in owners:
        hours = saved.get((kind, owner_id))
        rows.append(
            {
                "kind": kind,
                "id": owner_id,
                "name": name,
                "set": hours is not None,
                "timezone": hours.timezone if hours else "",
                "weekly": {str(d): (hours.weekly or {}).get(str(d), []) for d in DAYS}
                if hours
                else {},
                "holidays": "\n".join(hours.holidays or []) if hours else "",
                "away_message": hours.away_message if hours else "",
                "greeting_message": hours.greeting_message if hours else "",
            }
        )
    return rows
