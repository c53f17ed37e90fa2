"""The commands on WhatsApp numbers: ``channel`` (connect, tune, list), their ``template``s,
and the ``sandbox`` number that plays customers."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from pytake.cli.common import PASSWORD_ENV, CommandError, read_secret, with_org

if TYPE_CHECKING:
    from sqlmodel import Session

    from pytake.models import Organization


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


@with_org
def cmd_channel_add_whatsapp(s: Session, org: Organization, args: argparse.Namespace) -> str:
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


@with_org
def cmd_channel_set(s: Session, org: Organization, args: argparse.Namespace) -> str:
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


# Arguments ------------------------------------------------------------------------------


def add_template(commands: argparse._SubParsersAction) -> None:
    template = commands.add_parser("template", help="WhatsApp message templates").add_subparsers(
        dest="template_command", metavar="ACTION", required=True
    )
    template_sync = template.add_parser("sync", help="fetch templates from Meta now")
    template_sync.add_argument("--org", help="only this organization (name or slug)")
    template_sync.set_defaults(handler=cmd_template_sync)


def add_channel(commands: argparse._SubParsersAction) -> None:
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


def add_sandbox(commands: argparse._SubParsersAction) -> None:
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
