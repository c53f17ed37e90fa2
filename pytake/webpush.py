"""Web Push to members' browsers: the deployment's VAPID key pair (RFC 8292), payloads
encrypted for each browser (RFC 8291, aes128gcm, by pywebpush) and POSTed to its push service.

The key pair is made once, by whichever worker needs it first, and kept encrypted in the
database so every worker signs with the same key: browsers' subscriptions are bound to it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException
from sqlmodel import Session

from pytake import crypto, egress
from pytake.models import DeploymentSecret
from pytake.settings import get_settings

KEY_NAME = "vapid"
TTL_SECONDS = 6 * 3600  # a push service keeps it this long for a phone that is off
TIMEOUT_SECONDS = 10.0
GONE = (404, 410)  # the subscription expired or was withdrawn: forget the device


def key_pair(s: Session) -> Vapid02:
    row = s.get(DeploymentSecret, KEY_NAME)
    if row is None:
        fresh = Vapid02()
        fresh.generate_keys()
        pem = fresh.private_pem().decode()
        # Two workers may race here: the first one's key is the deployment's.
        try:
            with s.begin_nested():
                s.add(DeploymentSecret(name=KEY_NAME, value=crypto.encrypt_json({"pem": pem})))
        except sa.exc.IntegrityError:
            pass
        row = s.get(DeploymentSecret, KEY_NAME, populate_existing=True)
    return Vapid02.from_pem(crypto.decrypt_json(row.value)["pem"].encode())


def application_key(s: Session) -> str:
    return public_key(key_pair(s))


def public_key(vapid: Vapid02) -> str:
    """The applicationServerKey browsers subscribe with (uncompressed point, base64url)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclasses.dataclass(frozen=True)
class Device:
    id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclasses.dataclass(frozen=True)
class Delivery:
    device_id: int
    ok: bool
    gone: bool = False
    error: str | None = None


async def send(
    client: httpx.AsyncClient, vapid: Vapid02, device: Device, payload: dict
) -> Delivery:
    """Encrypt ``payload`` for the device and hand it to its push service."""
    settings = get_settings()
    if not settings.push_service_allowed(device.endpoint):
        return Delivery(device.id, ok=False, gone=True, error="push service not allowed")
    # Small by construction (a title and a body cut at 140 characters): push services take 4 KB.
    data = json.dumps(payload, ensure_ascii=False).encode()
    keys = {"p256dh": device.p256dh, "auth": device.auth}
    try:
        pusher = WebPusher({"endpoint": device.endpoint, "keys": keys})
        body = pusher.encode(data, "aes128gcm")["body"]
    except (WebPushException, ValueError) as exc:  # keys the browser never could have made
        return Delivery(device.id, ok=False, gone=True, error=f"bad subscription keys: {exc}")
    parts = urlsplit(device.endpoint)
    claims = {
        "sub": settings.vapid_contact,
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + 12 * 3600,
    }
    headers = {
        **vapid.sign(claims),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(TTL_SECONDS),
        "Urgency": "high",
        # One conversation's pushes replace each other on a phone that was offline.
        "Topic": _topic(payload.get("tag", "")),
    }
    try:
        response = await client.post(device.endpoint, content=body, headers=headers)
    except egress.Refused as exc:  # a push service's name resolving into our own network
        return Delivery(device.id, ok=False, error=f"refused: {exc}"[:300])
    except httpx.HTTPError as exc:
        return Delivery(device.id, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    if response.status_code in GONE:
        return Delivery(device.id, ok=False, gone=True, error=f"HTTP {response.status_code}")
    if response.status_code >= 300:
        reason = f"HTTP {response.status_code} {response.text[:200]}"
        return Delivery(device.id, ok=False, error=reason)
    return Delivery(device.id, ok=True)


def _topic(tag: str) -> str:
    """Topics are at most 32 URL-safe characters."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in tag)
    return safe[-32:] or "pytake"


def client() -> httpx.AsyncClient:
    """No redirects: a push service answers where it is asked. Every connection goes through
    the egress guard: a listed push service's name must resolve to public addresses, except
    the origins the operator listed in PYTAKE_PUSH_SERVICES (a self-hosted service)."""
    guard = egress.AsyncGuardedTransport(allow=allowed_internally())
    return httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=guard)


def allowed_internally() -> egress.Allowlist:
    """PYTAKE_EGRESS_ALLOW, and the hosts of the origins listed in PYTAKE_PUSH_SERVICES."""
    origins = [entry for entry in get_settings().push_services.split(",") if "://" in entry]
    return egress.allowlist(*egress.hosts_of(origins))
