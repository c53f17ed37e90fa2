"""How durations read on the dashboard and in reports."""

import pytest

from pytake.ui.numbers import duration


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (-3, "0 s"),
        (45.9, "45 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600 + 5 * 60, "1 h 05"),
        (86400 * 2 + 3600 * 4 + 59, "2 d 4 h"),
    ],
)
def test_durations(seconds, shown):
    assert duration(seconds) == shown
