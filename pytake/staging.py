"""The staging folder: files a browser uploaded, kept until a service takes them (a send
moves its file away) or the user drops them. A file left behind (a tab closed with a
template's example chosen, a worker stopped mid-send) is swept after a day."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from pytake.settings import get_settings

KEPT = dt.timedelta(hours=24)


def folder() -> Path:
    return get_settings().media_root / "staging"


def new_file() -> Path:
    """An empty file of its own in the staging folder."""
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=where)
    os.close(handle)
    return Path(name)


def sweep(kept: dt.timedelta = KEPT) -> int:
    """Delete staged files last written longer than ``kept`` ago; returns how many."""
    where = folder()
    if not where.is_dir():
        return 0
    oldest = time.time() - kept.total_seconds()
    swept = 0
    for entry in os.scandir(where):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < oldest:
                os.unlink(entry.path)
                swept += 1
        except FileNotFoundError:  # taken by its service meanwhile
            continue
    return swept
