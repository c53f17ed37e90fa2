"""The commands on stored webhook events: list them, and queue failed ones again."""

from __future__ import annotations

import argparse


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


# Arguments ------------------------------------------------------------------------------


def add_events(commands: argparse._SubParsersAction) -> None:
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
