"""Which tabs a change may bring a notice to, decided in memory (``notices.may_concern``):
what happened is then read (``notices.news``) only for those changes."""

import dataclasses
import datetime as dt

import pytest

from pytake.models import Role
from pytake.services import notices
from pytake.services.scope import Facts, Scope

ANA, BIA, SALES, SUPPORT = 1, 2, 10, 20
BEFORE = Facts(
    conversation_id=7,
    organization_id=1,
    status="open",
    assignee_id=None,
    team_id=SALES,
    channel_id=1,
    unread=True,
    label_ids=frozenset(),
    last_activity=dt.datetime(2026, 12, 6, 12, 0),
    customer_wrote=True,
    last_note=3,
)


def _member(user: int = ANA, teams=(SALES,), role: Role = Role.AGENT, rule: str = "own"):
    return Scope(user, 1, role, rule, frozenset(teams))


def _after(**changes) -> Facts:
    return dataclasses.replace(BEFORE, **changes)


@pytest.mark.parametrize(
    ("member", "before", "after", "expected"),
    [
        # Another message in an unassigned conversation the customer started earlier: no one.
        (_member(), BEFORE, _after(), False),
        # The customer's first message in the team's queue: its members may hear of it.
        (_member(), _after(customer_wrote=False), _after(), True),
        (_member(teams=(SUPPORT,), rule="all"), _after(customer_wrote=False), _after(), False),
        # A message in Ana's conversation: Ana, not Bia.
        (_member(), _after(assignee_id=ANA), _after(assignee_id=ANA), True),
        (_member(BIA, rule="all"), _after(assignee_id=ANA), _after(assignee_id=ANA), False),
        # Given to Ana.
        (_member(), BEFORE, _after(assignee_id=ANA), True),
        # A new private note may mention anyone who can open the conversation.
        (_member(BIA, rule="all"), BEFORE, _after(last_note=4), True),
        (_member(BIA, teams=(SUPPORT,), rule="team"), BEFORE, _after(last_note=4), False),
        # A conversation this worker did not know (new, or reopened): those who see it.
        (_member(BIA, rule="all"), None, _after(), True),
        # Gone, or never theirs to see.
        (_member(), BEFORE, None, False),
        (_member(teams=(SUPPORT,), rule="team"), None, _after(), False),
        # A supervisor sees everything, yet hears only of what concerns them.
        (_member(BIA, role=Role.SUPERVISOR), BEFORE, _after(), False),
    ],
)
def test_a_change_may_concern_only_members_it_could_bring_a_notice(member, before, after, expected):
    assert notices.may_concern(member, before, after) is expected
