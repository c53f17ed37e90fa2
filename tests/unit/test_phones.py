import pytest

from pytake.phones import for_people


@pytest.mark.parametrize(
    ("wa_id", "shown"),
    [
        ("5511987654321", "+55 11 98765-4321"),  # a Brazilian mobile
        ("551187654321", "+55 11 8765-4321"),  # as WhatsApp knows one registered before the 9
        ("551133334444", "+55 11 3333-4444"),  # a landline
        ("14155550123", "+1 415-555-0123"),
        ("491701234567", "+49 170 1234567"),
        ("+55 (11) 98765-4321", "+55 11 98765-4321"),  # typed by a person
    ],
)
def test_numbers_are_grouped_as_their_country_writes_them(wa_id, shown):
    assert for_people(wa_id) == shown


@pytest.mark.parametrize(
    "wa_id",
    ["99887766554433221100", "0044", "1555", "5500000000000"],
)
def test_a_number_nobody_can_place_keeps_every_digit(wa_id):
    assert for_people(wa_id) == f"+{wa_id}"


def test_nothing_shows_nothing():
    assert for_people("") == "" and for_people("abc") == ""
