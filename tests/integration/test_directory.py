"""The shell's read models: scoped to the caller's organization and, for agents, to their work."""

import pytest

from pytake import db
from pytake.auth.sessions import Identity
from pytake.models import Organization, Role
from pytake.services import directory
from pytake.services import templates as template_service
from tests.integration.conftest import who


def test_supervisor_sees_the_whole_organization_and_nothing_else(world):
    with db.session() as s:
        contacts = directory.contacts(s, who(world, "ana", Role.SUPERVISOR))
        templates = template_service.listing(s, who(world, "ana", Role.OWNER))["rows"]
    assert {c["name"] for c in contacts} == {f"acme customer {n}" for n in range(3)}
    assert templates == []


@pytest.mark.parametrize(("term", "count"), [("customer 1", 1), ("%", 0), ("_", 0), ("5511", 3)])
def test_contact_search_treats_wildcards_literally(world, term, count):
    with db.session() as s:
        assert len(directory.contacts(s, who(world, "ana", Role.AGENT), search=term)) == count


def test_members_are_the_organizations_own():
    with db.session() as s:
        org = Organization(name="Solo", slug="solo")
        s.add(org)
        s.flush()
        identity = Identity(1, org.id, Role.OWNER, "sid", "x", "x@x.co", None)
        assert directory.members(s, org.id, me=1) == []
        assert directory.organization(s, identity) == {
            "name": "Solo",
            "slug": "solo",
            "channels": 0,
        }
