"""Labels: the organization's tags for conversations (billing, vip, bug…)."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.models import Label, Role

MAX_LABELS = 200
COLORS = ("gray", "red", "orange", "amber", "green", "teal", "blue", "indigo", "purple", "pink")
_NAME = re.compile(r"^[\w][\w .&+/-]{0,39}$", re.UNICODE)


def listing(s: Session, organization_id: int) -> list[dict]:
    rows = s.exec(
        select(Label).where(Label.organization_id == organization_id).order_by(Label.name)
    ).all()
    return [
        {
            "id": label.id,
            "name": label.name,
            "color": label.color if label.color in COLORS else "gray",
        }
        for label in rows
    ]


def create(s: Session, identity: Identity, name: object, color: object = "gray") -> Label:
    """Supervisors and up keep the list short and shared; agents pick from it."""
    if not identity.at_least(Role.SUPERVISOR):
        raise NotAllowed("label.not_allowed")
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not _NAME.match(name):
        raise AccessError("label.bad_name")
    if color not in COLORS:
        color = "gray"
    org = identity.organization_id
    existing = s.exec(select(Label).where(Label.organization_id == org, Label.name == name)).first()
    if existing is not None:
        return existing
    if len(s.exec(select(Label.id).where(Label.organization_id == org)).all()) >= MAX_LABELS:
        raise AccessError("label.too_many", max=MAX_LABELS)
    label = Label(organization_id=org, name=name, color=color)
    s.add(label)
    s.flush()
    return label
