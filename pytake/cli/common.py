"""What the command groups share: the refusal they print, reading secrets without leaving
them in the shell's history, and running a command inside one organization's transaction."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session

    from pytake.models import Organization

PASSWORD_ENV = "PYTAKE_PASSWORD"  # noqa: S105 (the variable's name)


class CommandError(Exception):
    """A refusal to print as one line."""


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


def with_org(
    fn: Callable[[Session, Organization, argparse.Namespace], str],
) -> Callable[[argparse.Namespace], str]:
    """Run ``fn(session, org, args)`` in one transaction on an up-to-date schema; it takes
    SQLite's write lock up front, so a running server's writes make it wait, not fail."""

    def run(args: argparse.Namespace) -> str:
        from pytake import db, migrations
        from pytake.services import accounts

        migrations.upgrade()
        with db.session(write=True) as s:
            org = accounts.find_organization(s, args.org)
            return fn(s, org, args)

    return run
