"""Members' browsers subscribed to Web Push: added from the browser itself, listed and
removed by their owner only."""

from __future__ import annotations

import base64
import binascii

from sqlmodel import Session, select

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import PushDevice
from pytake.services.conversations import valid_id
from pytake.settings import get_settings

MAX_DEVICES = 20  # per member: the oldest goes when a new one comes
MAX_ENDPOINT = 1000
BROWSERS = (  # the first that appears in the user agent names it (Edge and Opera say Chrome)
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def subscribe(
    s: Session, identity: Identity, subscription: object, user_agent: str | None
) -> PushDevice:
    """Keep the browser's subscription (``PushSubscription.toJSON()``) for this member. The
    same browser signed in by someone else is theirs from now on."""
    endpoint, p256dh, auth = _parse(subscription)
    device = s.exec(select(PushDevice).where(PushDevice.endpoint == endpoint)).first()
    if device is None:
        device = PushDevice(endpoint=endpoint, user_id=identity.user_id, p256dh="", auth="")
    device.user_id, device.organization_id = identity.user_id, identity.organization_id
    device.p256dh, device.auth, device.last_error = p256dh, auth, None
    device.label = label(user_agent)
    s.add(device)
    s.flush()
    older = s.exec(
        select(PushDevice)
        .where(PushDevice.user_id == identity.user_id)
        .order_by(PushDevice.id.desc())
        .offset(MAX_DEVICES)
    ).all()
    for stale in older:
        s.delete(stale)
    return device


def _parse(subscription: object) -> tuple[str, str, str]:
    if not isinstance(subscription, dict):
        raise AccessError("devices.bad_subscription")
    endpoint = subscription.get("endpoint")
    keys = subscription.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        raise AccessError("devices.bad_subscription")
    if len(endpoint) > MAX_ENDPOINT or not get_settings().push_service_allowed(endpoint):
        raise AccessError("devices.service_not_allowed")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    point, secret = _decoded(p256dh), _decoded(auth)
    # An uncompressed P-256 point, and a 16-byte authentication secret (RFC 8291).
    if point is None or len(point) != 65 or point[0] != 4 or secret is None or len(secret) != 16:
        raise AccessError("devices.bad_subscription")
    return endpoint, p256dh, auth


def _decoded(value: object) -> bytes | None:
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def label(user_agent: str | None) -> str:
    """ "Chrome on Android", from the user agent; what the member sees in their device list."""
    agent = user_agent or ""
    browser = next((name for mark, name in BROWSERS if mark in agent), "")
    system = next((name for mark, name in SYSTEMS if mark in agent), "")
    return " · ".join(x for x in (browser, system) if x)[:120]


def listed(s: Session, identity: Identity) -> list[dict]:
    rows = s.exec(
        select(PushDevice)
        .where(PushDevice.user_id == identity.user_id)
        .order_by(PushDevice.id.desc())
    ).all()
    return [
        {
            "id": d.id,
            "label": d.label,
            "endpoint": d.endpoint,
            "created_at": f"{d.created_at:%Y-%m-%d}",
            "last_used_at": f"{d.last_used_at:%Y-%m-%d %H:%M} UTC" if d.last_used_at else "",
            "last_error": d.last_error or "",
        }
        for d in rows
    ]


def forget(s: Session, identity: Identity, device_id: object) -> None:
    """Only the member's own devices; someone else's is refused as if it did not exist."""
    device = s.get(PushDevice, device_id) if valid_id(device_id) else None
    if device is None or device.user_id != identity.user_id:
        raise AccessError("devices.not_found")
    s.delete(device)


def forget_endpoint(s: Session, identity: Identity, endpoint: object) -> None:
    if not isinstance(endpoint, str):
        return
    device = s.exec(
        select(PushDevice).where(
            PushDevice.endpoint == endpoint, PushDevice.user_id == identity.user_id
        )
    ).first()
    if device is not None:
        s.delete(device)
