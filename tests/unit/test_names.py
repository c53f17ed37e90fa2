import pytest

from pytake.services.names import initials


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Maria Silva Santos", "MS"),
        ("maria", "M"),
        ("Ágata Núñez", "ÁN"),
        ("B< Costa", "BC"),  # marks are never initials
        ("<b>Bob</b> Silva", "BS"),
        ("🙂 Ana", "A"),
        ("+55 11 98765-4321", "?"),  # no letters
        ("", "?"),
        ("   ", "?"),
    ],
)
def test_initials_are_letters_only(name, shown):
    assert initials(name) == shown
