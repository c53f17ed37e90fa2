"""The commands on an organization and its people: ``init``, ``user``, ``org`` and ``team``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytake.cli.common import PASSWORD_ENV, CommandError, read_password, with_org
from pytake.settings import get_settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from pytake.models import Organization


def _name_from_email(email: str) -> str:
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace(".", " ").split()) or local


def cmd_init(args: argparse.Namespace) -> str:
    from pytake import db, migrations
    from pytake.services import accounts

    password = read_password(args.password, confirm=True)
    migrations.upgrade()
    with db.session(write=True) as s:
        org, user = accounts.setup(
            s,
            organization=args.org,
            name=args.name or _name_from_email(args.email),
            email=args.email,
            password=password,
            language=args.language,
        )
    return f"created organization {org.name!r} (slug {org.slug}) with owner {user.email}"


def cmd_org_add(args: argparse.Namespace) -> str:
    from pytake import db, migrations
    from pytake.services import accounts

    migrations.upgrade()
    with db.session(write=True) as s:
        existing = accounts.has_account(s, args.owner_email)
    # An existing account keeps its password: none is asked for.
    password = "" if existing else read_password(args.password, confirm=True)
    with db.session(write=True) as s:
        org, user = accounts.add_organization(
            s,
            organization=args.name,
            owner_email=args.owner_email,
            owner_name=args.owner_name or _name_from_email(args.owner_email),
            password=password,
            language=args.language,
        )
        account = "existing account" if existing else "new account"
        return (
            f"created organization {org.name!r} (slug {org.slug}) owned by {user.email} ({account})"
        )


@with_org
def cmd_user_add(s: Session, org: Organization, args: argparse.Namespace) -> str:
    from pytake.services import accounts

    role = accounts.parse_role(args.role)
    password = read_password(args.password, confirm=True)
    user = accounts.add_user(
        s,
        organization_id=org.id,
        email=args.email,
        name=args.name or _name_from_email(args.email),
        password=password,
        role=role,
    )
    return f"added {user.email} to {org.name} as {role.value} (user id {user.id})"


@with_org
def cmd_user_invite(s: Session, org: Organization, args: argparse.Namespace) -> str:
    """Print the link; it is given to the person by hand (the CLI sends no e-mail)."""
    from pytake.services import invitations

    invitation, token = invitations.invite_as_operator(s, org.id, email=args.email, role=args.role)
    url = invitations.link(token)
    if url.startswith("/"):
        note = " (prefix it with PyTake's address, or set PYTAKE_PUBLIC_URL)"
    else:
        note = ""
    return (
        f"invited {invitation.email} to {org.name} as {invitation.role}; the link works once, "
        f"for {get_settings().invitation_hours} hours{note}:\n{url}"
    )


@with_org
def cmd_user_set_role(s: Session, org: Organization, args: argparse.Namespace) -> str:
    from pytake.services import accounts

    role = accounts.parse_role(args.role)
    user = accounts.find_user(s, org.id, args.email)
    accounts.set_role(s, organization_id=org.id, user_id=user.id, role=role)
    return f"{user.email} is now {role.value} in {org.name}"


def _set_active(active: bool) -> Callable[[argparse.Namespace], str]:
    @with_org
    def command(s: Session, org: Organization, args: argparse.Namespace) -> str:
        from pytake.services import accounts

        user = accounts.find_user(s, org.id, args.email)
        accounts.set_active(s, organization_id=org.id, user_id=user.id, active=active)
        verb = "reactivated" if active else "deactivated (all sessions signed out)"
        return f"{user.email} {verb}"

    return command


@with_org
def cmd_user_reset_password(s: Session, org: Organization, args: argparse.Namespace) -> str:
    from pytake.services import accounts

    user = accounts.find_user(s, org.id, args.email)
    password = read_password(args.password, confirm=True)
    accounts.reset_password(s, organization_id=org.id, user_id=user.id, password=password)
    return f"password of {user.email} reset (all sessions signed out)"


@with_org
def cmd_user_list(s: Session, org: Organization, _args: argparse.Namespace) -> str:
    from pytake.services import directory

    rows = directory.members(s, org.id)
    width = max((len(r["email"]) for r in rows), default=5)
    lines = [f"{'EMAIL':<{width}}  {'ROLE':<10}  {'ACTIVE':<6}  NAME"]
    lines += [
        f"{r['email']:<{width}}  {r['role']:<10}  {'yes' if r['active'] else 'no':<6}  {r['name']}"
        for r in rows
    ]
    return "\n".join(lines)


ORG_FIELDS = ("name", "language", "timezone", "visibility", "reopen_hours", "retention_days")


@with_org
def cmd_org_set(s: Session, org: Organization, args: argparse.Namespace) -> str:
    from pytake.services import organization

    changes = {f: getattr(args, f) for f in ORG_FIELDS if getattr(args, f) is not None}
    if not changes:
        raise CommandError("nothing to change: give at least one setting (see --help)")
    now = organization.update(s, org.id, changes)
    said = [f"{field.replace('_', ' ')} {now[field]!r}" for field in changes]
    return f"{now['name']}: " + "; ".join(said)


VISIBILITY_HELP = {
    "all": "every conversation",
    "organization": "their own, their teams' and every unassigned conversation",
    "team": "their own and their teams' conversations, and unassigned ones of no team",
    "own": "their own, and unassigned ones of their teams or of no team",
}


@with_org
def cmd_team_add(s: Session, org: Organization, args: argparse.Namespace) -> str:
    from pytake.services import teams

    team = teams.create(s, org.id, args.name)
    return f"created team {team.name!r} in {org.name}"


@with_org
def cmd_team_member(s: Session, org: Organization, args: argparse.Namespace) -> str:
    from pytake.services import teams

    team = teams.find(s, org.id, args.team)
    user = teams.set_member(s, org.id, team, args.email, member=not args.remove)
    return f"{user.email} {'left' if args.remove else 'is in'} team {team.name!r}"


@with_org
def cmd_team_list(s: Session, org: Organization, _args: argparse.Namespace) -> str:
    from pytake.services import teams

    rows = teams.listing(s, org.id)
    width = max((len(r["name"]) for r in rows), default=4)
    lines = [f"{'TEAM':<{width}}  MEMBERS"]
    lines += [
        f"{r['name']:<{width}}  {', '.join(m['name'] for m in r['members']) or '-'}" for r in rows
    ]
    return "\n".join(lines)


# Arguments ------------------------------------------------------------------------------


def add_init(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser("init", help="create the first organization and its owner")
    init.add_argument("--org", required=True, help="organization name")
    init.add_argument("--email", required=True)
    init.add_argument("--name", help="owner's name (default: from the e-mail)")
    _password_argument(init)
    init.add_argument("--language", choices=["en", "pt-BR"], help="owner's interface language")
    init.set_defaults(handler=cmd_init)


def add_user(commands: argparse._SubParsersAction) -> None:
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", metavar="ACTION", required=True
    )
    add = user.add_parser("add", help="add a user to an organization")
    _org_email(add)
    add.add_argument("--name")
    add.add_argument("--role", required=True, help="owner, admin, supervisor or agent")
    _password_argument(add)
    add.set_defaults(handler=cmd_user_add)

    invite = user.add_parser("invite", help="invite someone by a link; prints the link")
    _org_email(invite)
    invite.add_argument("--role", required=True, help="owner, admin, supervisor or agent")
    invite.set_defaults(handler=cmd_user_invite)

    set_role = user.add_parser("set-role", help="change a user's role")
    _org_email(set_role)
    set_role.add_argument("--role", required=True, help="owner, admin, supervisor or agent")
    set_role.set_defaults(handler=cmd_user_set_role)

    for name, active, text in (
        ("deactivate", False, "deactivate a user and end their sessions"),
        ("activate", True, "reactivate a user"),
    ):
        action = user.add_parser(name, help=text)
        _org_email(action)
        action.set_defaults(handler=_set_active(active))

    reset = user.add_parser("reset-password", help="set a new password; sessions end")
    _org_email(reset)
    _password_argument(reset)
    reset.set_defaults(handler=cmd_user_reset_password)

    listing = user.add_parser("list", help="list an organization's users")
    listing.add_argument("--org", required=True)
    listing.set_defaults(handler=cmd_user_list)


def add_org(commands: argparse._SubParsersAction) -> None:
    org = commands.add_parser("org", help="organization settings")
    org_actions = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    org_add = org_actions.add_parser("add", help="create another organization and its owner")
    org_add.add_argument("--name", required=True, help="the organization's name")
    org_add.add_argument("--owner-email", required=True, help="its owner (an account or a new one)")
    org_add.add_argument("--owner-name", help="a new owner's name (default: from the e-mail)")
    _password_argument(org_add)
    org_add.add_argument("--language", choices=["en", "pt-BR"], help="a new owner's language")
    org_add.set_defaults(handler=cmd_org_add)
    org_set = org_actions.add_parser("set", help="change an organization's settings")
    org_set.add_argument("--org", required=True, help="organization name or slug")
    org_set.add_argument("--name", help="the organization's name")
    org_set.add_argument("--language", help="default language of users who chose none (en, pt-BR)")
    org_set.add_argument("--timezone", help="IANA time zone, e.g. America/Sao_Paulo")
    org_set.add_argument(
        "--retention-days",
        type=int,
        help="delete resolved conversations older than this (0 keeps them; 30 to 3650)",
    )
    org_set.add_argument(
        "--reopen-hours",
        type=float,
        help="a customer writing within this many hours of resolution reopens the "
        "conversation; later, a new one starts (default 24; 0 always starts a new one)",
    )
    org_set.add_argument(
        "--visibility",
        choices=sorted(VISIBILITY_HELP),
        help="what agents see: " + "; ".join(f"{k}: {v}" for k, v in VISIBILITY_HELP.items()),
    )
    org_set.set_defaults(handler=cmd_org_set)


def add_team(commands: argparse._SubParsersAction) -> None:
    team = commands.add_parser("team", help="manage teams").add_subparsers(
        dest="team_command", metavar="ACTION", required=True
    )
    team_add = team.add_parser("add", help="create a team")
    team_add.add_argument("--org", required=True, help="organization name or slug")
    team_add.add_argument("--name", required=True)
    team_add.set_defaults(handler=cmd_team_add)
    team_member = team.add_parser("member", help="put a user in a team, or take them out")
    _org_email(team_member)
    team_member.add_argument("--team", required=True, help="the team's name")
    team_member.add_argument("--remove", action="store_true", help="take the user out")
    team_member.set_defaults(handler=cmd_team_member)
    team_list = team.add_parser("list", help="list an organization's teams and members")
    team_list.add_argument("--org", required=True)
    team_list.set_defaults(handler=cmd_team_list)


def _org_email(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, help="organization name or slug")
    parser.add_argument("--email", required=True)


def _password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password",
        help=f"the password, or - to read it from standard input (default: ${PASSWORD_ENV}, "
        "standard input when piped, else a prompt)",
    )
