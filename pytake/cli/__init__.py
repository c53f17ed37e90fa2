"""``python -m pytake``: run the server, migrate, and manage organizations and users.

Exit codes: 0 success, 1 the operation was refused or failed, 2 bad arguments or settings.

Each module holds a group of commands with their arguments: ``server`` (run, worker,
migrate, check), ``organizations`` (init, user, org, team), ``numbers`` (channel, template,
sandbox) and ``events``; this one builds the parser and turns outcomes into exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytake import __version__
from pytake.auth.errors import AccessError
from pytake.cli import events, numbers, organizations, server
from pytake.cli.common import CommandError
from pytake.settings import SettingsError, get_settings

# In the order ``--help`` lists them.
COMMANDS = (
    server.add_run,
    server.add_migrate,
    server.add_check,
    organizations.add_init,
    organizations.add_user,
    organizations.add_org,
    organizations.add_team,
    numbers.add_template,
    numbers.add_channel,
    numbers.add_sandbox,
    server.add_worker,
    events.add_events,
)


def _fail(message: str, code: int) -> int:
    print(f"pytake: error: {message}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytake",
        description="PyTake: customer service on the WhatsApp Business Cloud API.",
    )
    parser.add_argument("--version", action="version", version=f"pytake {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


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
