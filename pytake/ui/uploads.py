"""Files a browser uploads, saved to the staging folder before a service accepts them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import reflex as rx

from pytake import staging

CHUNK = 1024 * 1024


def one_file(trigger: rx.Component, upload_id: str, on_drop, **props) -> rx.Component:
    """Pick one file with ``trigger`` (no dragging onto the page); ``on_drop`` receives the
    files, and ``args`` come after them (a card's index…)."""
    args = props.pop("args", ())
    return rx.upload.root(
        trigger,
        id=upload_id,
        max_files=1,
        multiple=False,
        no_drag=True,
        on_drop=on_drop(rx.upload_files(upload_id=upload_id), *args),
        **props,
    )


def choose_button(label: rx.Component, testid: str, size: str = "2") -> rx.Component:
    return rx.button(
        rx.icon("upload", size=12 if size == "1" else 14),
        label,
        size=size,
        variant="soft",
        type="button",
        data_testid=testid,
    )


def discard(staged: dict) -> None:
    """Forget a staged file the user changed their mind about (an empty dict: none)."""
    if staged:
        Path(staged["path"]).unlink(missing_ok=True)


async def stage(upload: rx.UploadFile, limit: int) -> Path | None:
    """Save an upload to the staging folder; None (and nothing kept) past ``limit`` bytes,
    so a huge file is never written whole."""
    path = await asyncio.to_thread(staging.new_file)
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
