"""Inbound media: downloaded through the Graph API as its own job, retried, never lost."""

import hashlib

import pytest
import sqlalchemy as sa

from pytake import db
from pytake.channels.base import PlatformCallError
from pytake.channels.whatsapp import graph
from pytake.jobs import media
from pytake.models import Attachment, Message
from pytake.sandbox import payloads as p
from pytake.settings import get_settings
from tests.integration.conftest import ANA, rows

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def _make_due() -> None:
    with db.session() as s:
        s.execute(sa.update(Attachment).values(next_attempt_at=None))


async def test_image_is_downloaded_and_stored(whatsapp):
    media_id = whatsapp.sim.add_media(JPEG, "image/jpeg")
    await whatsapp.send(p.image(media_id, caption="box", sender=ANA))
    await whatsapp.drain()
    (attachment,) = rows(Attachment)
    assert attachment.state == "done" and attachment.error is None
    assert (attachment.mime_type, attachment.size_bytes) == ("image/jpeg", len(JPEG))
    assert attachment.sha256 == hashlib.sha256(JPEG).hexdigest()
    stored = get_settings().media_root / attachment.storage_path
    assert stored.read_bytes() == JPEG
    assert not list(stored.parent.glob(".partial-*"))
    (message,) = rows(Message)
    assert message.type == "image" and message.content == {"caption": "box"}


async def test_expired_url_is_fetched_again(whatsapp):
    media_id = whatsapp.sim.add_media(JPEG, "image/jpeg")
    whatsapp.sim.fail_next(404, path="media_download")
    await whatsapp.send(p.image(media_id, sender=ANA))
    await whatsapp.drain()
    (attachment,) = rows(Attachment)
    assert attachment.state == "done" and attachment.attempts == 1
    assert whatsapp.sim.calls["media_url"] == 2


async def test_download_failing_then_succeeding(whatsapp):
    media_id = whatsapp.sim.add_media(b"OggS voice", "audio/ogg")
    whatsapp.sim.fail_next(500, path="media_download")
    await whatsapp.send(p.audio(media_id, voice=True, sender=ANA))
    await whatsapp.drain()
    (attachment,) = rows(Attachment)
    assert attachment.state == "pending" and attachment.next_attempt_at is not None
    assert "500" in attachment.error
    _make_due()
    await whatsapp.drain()
    (attachment,) = rows(Attachment)
    assert attachment.state == "done" and attachment.attempts == 2
    assert rows(Message)[0].content == {"voice": True}


async def test_graph_errors_retry_until_the_last_attempt(whatsapp, settings_env):
    settings_env(job_max_attempts="2")
    media_id = whatsapp.sim.add_media(JPEG, "image/jpeg")
    whatsapp.sim.fail_next(190, path="media_url", count=2)
    await whatsapp.send(p.image(media_id, sender=ANA))
    await whatsapp.drain()
    _make_due()
    await whatsapp.drain()
    (attachment,) = rows(Attachment)
    assert attachment.state == "failed" and attachment.attempts == 2
    assert "190" in attachment.error
    # An agent asks again once the token is fixed.
    with db.session() as s:
        assert media.retry(s, whatsapp.organization_id + 1, attachment.id) is False  # not theirs
        assert media.retry(s, whatsapp.organization_id, attachment.id) is True
    await whatsapp.drain()
    assert rows(Attachment)[0].state == "done"


async def test_wrong_type_or_too_large_fails_without_retrying(whatsapp):
    html = whatsapp.sim.add_media(b"<html><script>x</script>", "text/html")
    huge = whatsapp.sim.add_media(b"\xff\xd8" + b"0" * (5 * 1024 * 1024 + 1), "image/jpeg")
    await whatsapp.send(p.image(html, sender=ANA), p.image(huge, sender=ANA))
    await whatsapp.drain()
    wrong_type, too_large = rows(Attachment)
    assert (wrong_type.state, too_large.state) == ("failed", "failed")
    assert "text/html" in wrong_type.error and "too large" in too_large.error
    assert wrong_type.attempts == too_large.attempts == 1
    assert not list(get_settings().media_root.rglob("*.*"))  # nothing of either was kept


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/x.jpg",
        "http://lookaside.fbsbx.com/x",
        "file:///etc/passwd",
        "https://graph.simulator.evil.example/x",
    ],
)
async def test_media_is_fetched_only_from_meta_hosts(whatsapp, tmp_path, url):
    with pytest.raises(PlatformCallError) as raised:
        await graph.GraphClient().download(url, "token", tmp_path / "f", 1024)
    assert not raised.value.retryable
