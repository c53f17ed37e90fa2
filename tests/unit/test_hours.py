"""Business hours: the schedule's rules, open or closed at an instant, and the closed
period an away message belongs to (local time, daylight saving, holidays)."""

import datetime as dt
import zoneinfo

import pytest

from pytake.auth.errors import AccessError
from pytake.models import BusinessHours
from pytake.services import hours

SP = zoneinfo.ZoneInfo("America/Sao_Paulo")
NY = zoneinfo.ZoneInfo("America/New_York")
WEEKDAYS = {str(d): [["08:00", "12:00"], ["13:00", "18:00"]] for d in range(5)}


def at(zone, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone).astimezone(dt.UTC)


def schedule(**values) -> BusinessHours:
    return BusinessHours(organization_id=1, channel_id=1, weekly=WEEKDAYS, **values)


def test_the_weekly_schedule_is_checked():
    assert hours.clean_weekly({"0": [["13:00", "18:00"], ["08:00", "12:00"]], "6": []}) == {
        "0": [["08:00", "12:00"], ["13:00", "18:00"]]
    }
    assert hours.clean_weekly({"5": [["00:00", "24:00"]]}) == {"5": [["00:00", "24:00"]]}
    for bad in (
        {"0": [["18:00", "08:00"]]},
        {"0": [["08:00", "08:00"]]},
        {"0": [["8:00", "12:00"]]},
        {"0": [["24:00", "24:00"]]},
        {"0": [["08:00", "12:00"], ["11:00", "14:00"]]},
        {"0": [["08:00", "09:00"]] * 4},
        {"0": "08:00-18:00"},
        ["08:00"],
    ):
        with pytest.raises(AccessError):
            hours.clean_weekly(bad)


def test_holidays_are_dates():
    assert hours.clean_holidays("2026-12-25\n2026-12-25, 2027-01-01") == [
        "2026-12-25",
        "2027-01-01",
    ]
    with pytest.raises(AccessError) as refused:
        hours.clean_holidays("25/12/2026")
    assert "25/12/2026" in refused.value.message("en")


def test_open_in_local_time_with_a_lunch_break_and_holidays():
    week = schedule(holidays=["2026-12-25"])
    wednesday = (2026, 12, 2)
    assert hours.is_open(week, SP, at(SP, *wednesday, 8, 0))
    assert hours.is_open(week, SP, at(SP, *wednesday, 11, 59))
    assert not hours.is_open(week, SP, at(SP, *wednesday, 12, 30))  # lunch
    assert not hours.is_open(week, SP, at(SP, *wednesday, 18, 0))  # closing time is closed
    assert not hours.is_open(week, SP, at(SP, 2026, 12, 5, 10, 0))  # Saturday
    assert not hours.is_open(week, SP, at(SP, 2026, 12, 25, 10, 0))  # Friday, a holiday
    # 10:00 in São Paulo is 08:00 in New York: the zone decides.
    assert not hours.is_open(week, NY, at(SP, *wednesday, 9, 30))


def test_the_closed_period_starts_at_the_last_closing_time():
    week = schedule()
    lunch = hours.closed_since(week, SP, at(SP, 2026, 12, 2, 12, 40))
    assert lunch == at(SP, 2026, 12, 2, 12, 0).isoformat()
    night = hours.closed_since(week, SP, at(SP, 2026, 12, 2, 23, 0))
    early = hours.closed_since(week, SP, at(SP, 2026, 12, 3, 6, 0))
    assert night == early == at(SP, 2026, 12, 2, 18, 0).isoformat()  # one night, one period
    weekend = {
        hours.closed_since(week, SP, at(SP, 2026, 12, d, h, 0))
        for d, h in ((4, 20), (6, 9), (7, 7))
    }
    assert weekend == {at(SP, 2026, 12, 4, 18, 0).isoformat()}  # Friday evening to Monday
    assert hours.closed_since(BusinessHours(weekly={}), SP, at(SP, 2026, 12, 2, 9)) == "closed"


def test_daylight_saving_moves_nothing_in_local_time():
    week = schedule()
    assert hours.is_open(week, NY, at(NY, 2026, 3, 6, 9, 0))  # EST, Friday
    assert hours.is_open(week, NY, at(NY, 2026, 3, 9, 9, 0))  # EDT, Monday
    assert not hours.is_open(week, NY, at(NY, 2026, 3, 9, 7, 30))


def test_the_form_reads_a_closing_time_of_midnight_as_the_end_of_the_day():
    from pytake.ui.pages.settings.hours import _fields, _weekly

    form = {"d6_a_from": "00:00", "d6_a_to": "00:00", "d0_a_from": "09:00", "d0_a_to": "18:00"}
    weekly = _weekly(form)
    assert hours.clean_weekly(weekly) == {"0": [["09:00", "18:00"]], "6": [["00:00", "24:00"]]}
    back = _fields({"weekly": weekly})
    assert back["d6_a_to"] == "00:00" and back["d0_a_to"] == "18:00" and back["d1_b_from"] == ""
    assert _weekly({"d2_b_to": "12:00"}) == {"2": [["", "12:00"]]}  # refused by the service


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        # Within one morning; across lunch (closed 12 to 13).
        ((2026, 11, 9, 9, 0), (2026, 11, 9, 10, 30), 90),
        ((2026, 11, 9, 11, 30), (2026, 11, 9, 13, 30), 60),
        # Asked at night, answered the next morning: only the morning counts.
        ((2026, 11, 9, 22, 0), (2026, 11, 10, 8, 20), 20),
        # Friday 17:30 to Monday 08:15: the weekend counts for nothing.
        ((2026, 11, 13, 17, 30), (2026, 11, 16, 8, 15), 45),
        # Entirely outside the hours, or backwards.
        ((2026, 11, 14, 10, 0), (2026, 11, 15, 18, 0), 0),
        ((2026, 11, 9, 10, 0), (2026, 11, 9, 9, 0), 0),
        # Two full weekdays: 9 hours each.
        ((2026, 11, 10, 0, 0), (2026, 11, 12, 0, 0), 18 * 60),
    ],
)
def test_open_seconds_count_only_the_hours(start, end, minutes):
    found = hours.open_seconds(schedule(), SP, at(SP, *start), at(SP, *end))
    assert found == minutes * 60


def test_open_seconds_skip_holidays_and_follow_daylight_saving():
    holiday = schedule(holidays=["2026-11-20"])  # a Friday
    friday_to_monday = (at(SP, 2026, 11, 19, 17, 0), at(SP, 2026, 11, 23, 9, 0))
    assert hours.open_seconds(holiday, SP, *friday_to_monday) == (60 + 60) * 60
    # New York springs forward on Sunday 8 March 2026; the Monday still has 9 open hours,
    # counted in local time, though that week's UTC offsets differ from the week before.
    monday = (at(NY, 2026, 3, 9, 0, 0), at(NY, 2026, 3, 10, 0, 0))
    assert hours.open_seconds(schedule(), NY, *monday) == 9 * 3600
    # The Sunday itself is 23 hours long: an all-day schedule counts 23.
    all_day = BusinessHours(organization_id=1, channel_id=1, weekly={"6": [["00:00", "24:00"]]})
    sunday = (at(NY, 2026, 3, 8, 0, 0), at(NY, 2026, 3, 9, 0, 0))
    assert hours.open_seconds(all_day, NY, *sunday) == 23 * 3600
