"""The contact panel: who the customer is, what we know of them, and what came before.

Reached through a conversation the caller may see, so an agent learns nothing of a customer
whose conversations are hidden from them.
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from pytake import phones
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import Attachment, Contact, Conversation, Message, utcnow
from pytake.services import conversations
from pytake.services.conversations import visible_to
from pytake.services.names import MAX_NAME

MAX_ATTRIBUTES = 30
MAX_VALUE = 500
HISTORY = 20
MEDIA = 12
PROFILE_NAME = "profile_name"  # kept by the inbound pipeline, shown but not edited here
_KEY = re.compile(r"^[\w][\w .-]{0,39}$", re.UNICODE)


def attributes_of(contact: Contact) -> dict[str, str]:
    """The custom attributes by their name in any case ("Plan", "plan"): what templates and
    quick replies fill variables from."""
    return {key.casefold(): str(value) for key, value in (contact.attributes or {}).items()}


def profile(s: Session, identity: Identity, conversation_id: object) -> dict:
    conversation = conversations.get(s, identity, conversation_id)
    contact = s.get(Contact, conversation.contact_id)
    history = s.exec(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, visible_to(identity))
        .order_by(Conversation.id.desc())
        .limit(HISTORY)
    ).all()
    media = s.exec(
        select(Attachment, Message.type)
        .join(Message, Message.id == Attachment.message_id)
        .where(
            col(Message.conversation_id).in_([c.id for c in history]),
            Attachment.state == "done",
        )
        .order_by(Attachment.id.desc())
        .limit(MEDIA)
    ).all()
    return {
        "name": contact.name or "",
        "number": phones.for_people(contact.wa_id or ""),
        "bsuid": contact.bsuid or "",
        "username": contact.username or "",
        "profile_name": str((contact.attributes or {}).get(PROFILE_NAME) or ""),
        "attributes": [
            {"key": key, "value": str(value)}
            for key, value in sorted((contact.attributes or {}).items())
            if key != PROFILE_NAME
        ],
        "history": [
            {
                "id": c.id,
                "status": c.status,
                "at": (c.last_activity_at or c.created_at).isoformat(),
                "current": c.id == conversation.id,
            }
            for c in history
        ],
        "media": [
            {
                "url": f"/media/{attachment.id}",
                "kind": kind,
                "name": attachment.filename or kind,
            }
            for attachment, kind in media
        ],
    }


def rename(
    s: Session, identity: Identity, conversation_id: object, name: object
) -> tuple[int, int]:
    """The agent's name for the customer; a later WhatsApp profile name does not replace it."""
    conversation = conversations.get(s, identity, conversation_id)
    name = " ".join(name.split()) if isinstance(name, str) else None
    if not name or len(name) > MAX_NAME:
        raise AccessError("contact.bad_name", max=MAX_NAME)
    contact = s.get(Contact, conversation.contact_id, with_for_update=True)
    contact.name, contact.updated_at = name, utcnow()
    return conversation.organization_id, conversation.id


def set_attribute(
    s: Session, identity: Identity, conversation_id: object, key: object, value: object
) -> tuple[int, int]:
    """Set one custom attribute (plan: gold, city: Recife…); an empty value removes it."""
    conversation = conversations.get(s, identity, conversation_id)
    key = " ".join(key.split()) if isinstance(key, str) else ""
    if not _KEY.match(key) or key == PROFILE_NAME:
        raise AccessError("contact.bad_attribute", max_key=40)
    if not isinstance(value, str):
        raise AccessError("contact.bad_attribute", max_key=40)
    value = value.strip()
    if len(value) > MAX_VALUE:
        raise AccessError("contact.attribute_too_long", max=MAX_VALUE)
    contact = s.get(Contact, conversation.contact_id, with_for_update=True)
    attributes = dict(contact.attributes or {})
    if value:
        attributes[key] = value
    else:
        attributes.pop(key, None)
    if len([k for k in attributes if k != PROFILE_NAME]) > MAX_ATTRIBUTES:
        raise AccessError("contact.too_many_attributes", max=MAX_ATTRIBUTES)
    contact.attributes, contact.updated_at = attributes, utcnow()
    return conversation.organization_id, conversation.id
