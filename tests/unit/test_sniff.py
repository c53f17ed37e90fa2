"""Uploads are what their declared type says: signatures checked, real files never refused."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from pytake import sniff, staging

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
OGG = b"OggS\x00\x02" + b"\x00" * 40
PDF = b"%PDF-1.7\n" + b"\x00" * 32
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def _mp4(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x02\x00" + b"\x00" * 32


@pytest.mark.parametrize(
    ("content", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (OGG, "audio/ogg"),
        (PDF, "application/pdf"),
        (_mp4(b"isom"), "video/mp4"),
        (_mp4(b"M4A "), "audio/mp4"),
        (_mp4(b"mp42"), "audio/mp4"),  # an M4A whose encoder wrote another brand
        (_mp4(b"3gp5"), "video/3gpp"),
        (
            b"PK\x03\x04\x14\x00" + b"\x00" * 40,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "application/msword"),
        ("Olá, tudo bem? 👋 مرحبا".encode(), "text/plain"),  # no signature to check
    ],
)
def test_real_files_pass(tmp_path, content, mime):
    path = tmp_path / "file"
    path.write_bytes(content)
    assert sniff.agrees(path, mime)


@pytest.mark.parametrize(
    ("content", "mime"),
    [
        (HTML, "image/png"),
        (HTML, "image/jpeg"),
        (PNG, "image/jpeg"),  # a picture, but not the one it claims to be
        (HTML, "video/mp4"),
        (HTML, "audio/ogg"),
        (HTML, "application/pdf"),
        (HTML, "application/vnd.ms-excel"),
        (b"", "image/png"),
    ],
)
def test_files_that_are_not_what_they_claim_are_refused(tmp_path, content, mime):
    path = tmp_path / "file"
    path.write_bytes(content)
    assert not sniff.agrees(path, mime)


def test_staged_files_left_behind_are_swept_after_a_day(settings_env, tmp_path):
    settings_env(media_dir=str(tmp_path))
    old, fresh = staging.new_file(), staging.new_file()
    day_ago = time.time() - dt.timedelta(hours=25).total_seconds()
    os.utime(old, (day_ago, day_ago))
    assert staging.sweep() == 1
    assert not old.exists() and fresh.exists()
    assert staging.sweep() == 0
