"""Files a browser uploads, saved to the staging folder before a service accepts them."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import reflex as rx

from pytake.settings import get_settings

CHUNK = 1024 * 1024


def _staging_file() -> Path:
    folder = get_settings().media_root / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder)
    os.close(handle)
    return Path(name)


async def stage(upload: rx.UploadFile, limit: int) -> Path | None:
    """Save an upload to the staging folder; None (and nothing kept) past ``limit`` bytes,
    so a huge file is never written whole."""
    path = await asyncio.to_thread(_staging_file)
    handle = await asyncio.to_thread(path.open, "wb")
    size = 0
    try:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                break
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    if size > limit:
        await asyncio.to_thread(path.unlink, True)
        return None
    return path
