"""Applying normalized inbound events: contacts, conversations, messages, statuses.

Applying an event is idempotent: the unique constraints (message per channel and platform
id, contact per organization and id, one unresolved conversation per contact and number)
decide races, statuses only move forward and reactions keep their latest time, so the same
event applied twice, or by two workers at once, changes nothing the second time. Callers run
each event in its own savepoint.

Customers' messages and reactions are applied by ``inbound_messages``, statuses and the
updates waiting for their message by ``inbound_statuses``; events about the number or the
business account, here.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from pytake.channels.base import (
    ChannelError,
    Event,
    Ignored,
    InboundMessage,
    PlatformError,
    Reaction,
    StatusUpdate,
    TemplateStatusUpdate,
)
from pytake.models import Channel, MessageTemplate
from pytake.services import inbound_messages, inbound_statuses, templates
from pytake.services.effects import Effects

log = logging.getLogger("pytake.inbound")


def apply(s: Session, channel: Channel, event: Event, effects: Effects) -> None:
    if isinstance(event, InboundMessage):
        inbound_messages.apply_message(s, channel, event, effects)
    elif isinstance(event, Reaction):
        inbound_messages.apply_reaction(s, channel, event, effects)
    elif isinstance(event, StatusUpdate):
        if event.reference:
            inbound_statuses.reconcile(s, channel, event.message_id, event.reference)
        inbound_statuses.apply_status(
            s, channel, event.message_id, event.status, event.at, event.errors, effects
        )
    elif isinstance(event, TemplateStatusUpdate):
        _template_status(s, channel, event)
    elif isinstance(event, ChannelError):
        _channel_error(s, channel, event.errors)
    elif isinstance(event, Ignored) and event.problem:
        effects.problems.append(event.problem)


# Account-level events ------------------------------------------------------------------------


def _template_status(s: Session, channel: Channel, event: TemplateStatusUpdate) -> None:
    stored = s.exec(
        select(MessageTemplate).where(
            MessageTemplate.organization_id == channel.organization_id,
            MessageTemplate.account_id == event.account,
            MessageTemplate.name == event.name,
            MessageTemplate.language == event.language,  # both in the adapter's normal form
        )
    )
    approved = False
    for template in stored:
        if event.at and template.status_at and template.status_at > event.at:
            continue  # a replayed or delayed webhook older than what we know
        template.status = event.status
        template.rejected_reason = event.reason if event.reason not in (None, "NONE") else None
        template.status_at = event.at or template.status_at
        approved = approved or event.status == "APPROVED"
    if approved:  # the next periodic sync fetches what Meta approved (it may word it itself)
        config = channel.config or {}
        channel.config = {k: v for k, v in config.items() if k != templates.SYNCED_AT}


def _channel_error(s: Session, channel: Channel, errors: tuple[PlatformError, ...]) -> None:
    text = "; ".join(f"{e.code}: {e.title} {e.details}".strip() for e in errors)
    channel.last_error = text[:2000]
    log.warning("channel %s reported: %s", channel.id, text)
