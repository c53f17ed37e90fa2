"""Labels: the organization's tags for conversations (billing, vip, bug…)."""

from __future__ import annotations

import regex
from sqlmodel import Session, select

from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.models import Label, Role
from pytake.services import audit
from pytake.services.conversations import valid_id

MAX_LABELS = 200
COLORS = ("gray", "red", "orange", "amber", "green", "teal", "blue", "indigo", "purple", "pink")
# 1 to 40 characters: letters, digits, spaces, . & + / - and emoji (with their skin tones,
# joiners and presentation selectors: "🔥 Urgente", "👍🏽 ok"); never markup or controls.
_NAME = regex.compile(
    r"^(?=.{1,40}\Z)[\w\p{Extended_Pictographic}]"
    r"[\w .&+/\-\p{Extended_Pictographic}\p{Emoji_Modifier}\u200d\ufe0f]*\Z"
)


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


def _check(identity: Identity) -> None:
    """Supervisors and up keep the list short and shared; agents pick from it."""
    if not identity.at_least(Role.SUPERVISOR):
        raise NotAllowed("label.not_allowed")


def _name(value: object) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not _NAME.match(name):
        raise AccessError("label.bad_name")
    return name


def _get(s: Session, identity: Identity, label_id: object) -> Label:
    label = s.get(Label, label_id) if valid_id(label_id) else None
    if label is None or label.organization_id != identity.organization_id:
        raise AccessError("label.not_found")
    return label


def create(s: Session, identity: Identity, name: object, color: object = "gray") -> Label:
    _check(identity)
    name = _name(name)
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


def update(s: Session, identity: Identity, label_id: object, name: object, color: object) -> Label:
    """Rename or recolour; conversations keep the label (they refer to it by id)."""
    _check(identity)
    label = _get(s, identity, label_id)
    name = _name(name)
    if color not in COLORS:
        raise AccessError("label.bad_color")
    clash = s.exec(
        select(Label.id).where(
            Label.organization_id == identity.organization_id, Label.name == name
        )
    ).first()
    if clash is not None and clash != label.id:
        raise AccessError("label.name_taken")
    before = {"name": label.name, "color": label.color}
    label.name, label.color = name, color
    audit.record(
        s,
        "label.updated",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=f"label:{label.id}",
        before=before,
        after={"name": name, "color": color},
    )
    return label


def delete(s: Session, identity: Identity, label_id: object) -> None:
    """Taken off every conversation too (the link rows cascade)."""
    _check(identity)
    label = _get(s, identity, label_id)
    audit.record(
        s,
        "label.deleted",
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=f"label:{label.id}",
        name=label.name,
    )
    s.delete(label)
