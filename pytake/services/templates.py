"""WhatsApp message templates: kept in step with Meta, edited where Meta allows, and filled
in for sending.

Meta names a template by (business account, name, language). A sync writes what Meta lists
and marks what it no longer lists as deleted; the status webhook keeps each one current in
between (``inbound._template_status``), and ``status_at`` decides which of the two is newer.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.channels.base import Template
from pytake.channels.whatsapp import templates as rules
from pytake.i18n import Term
from pytake.models import Channel, Contact, MessageTemplate, Role, utcnow
from pytake.services import conversations
from pytake.services.contacts import attributes_of

SENDABLE = "APPROVED"
DELETED = "DELETED"
MARKETING = "MARKETING"
SYNC_EVERY = dt.timedelta(hours=6)
MAX_VALUE = 1024  # Meta's limit for one parameter's text
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA = ("IMAGE", "VIDEO", "DOCUMENT")
# Meta edits only these; an approved one at most once a day and ten times in 30 days.
EDITABLE = ("APPROVED", "REJECTED", "PAUSED")
EDIT_GAP = dt.timedelta(hours=24)
EDIT_WINDOW, EDITS_IN_WINDOW = dt.timedelta(days=30), 10


def accounts_to_sync(s: Session, *, organization_id: int | None = None, due_only: bool) -> list:
    """One channel per (organization, business account) whose templates should be fetched."""
    query = select(Channel).where(
        Channel.is_active, Channel.account_id.is_not(None), Channel.token_invalid_at.is_(None)
    )
    if organization_id is not None:
        query = query.where(Channel.organization_id == organization_id)
    chosen: dict[tuple[int, str], Channel] = {}
    for channel in s.exec(query.order_by(Channel.id)):
        synced = (channel.config or {}).get("templates_synced_at")
        if due_only and synced and dt.datetime.fromisoformat(synced) > utcnow() - SYNC_EVERY:
            continue
        chosen.setdefault((channel.organization_id, channel.account_id), channel)
    return list(chosen.values())


def apply(
    s: Session, channel_id: int, listed: list[Template], fetched_at: dt.datetime
) -> dict[str, int]:
    """Write one account's list; a status webhook newer than the fetch is kept."""
    channel = s.get(Channel, channel_id)
    org, account = channel.organization_id, channel.account_id
    known = {
        (t.name, t.language): t
        for t in s.exec(
            select(MessageTemplate).where(
                MessageTemplate.organization_id == org, MessageTemplate.account_id == account
            )
        )
    }
    counts = {"added": 0, "updated": 0, "deleted": 0}
    for item in listed:
        row = known.pop((item.name, item.language), None)
        if row is None:
            row = MessageTemplate(
                organization_id=org, account_id=account, name=item.name, language=item.language
            )
            s.add(row)
            counts["added"] += 1
        else:
            counts["updated"] += 1
        row.external_id, row.category, row.components = (
            item.external_id,
            item.category,
            item.components,
        )
        if row.status_at is None or row.status_at <= fetched_at:
            row.status, row.rejected_reason, row.status_at = item.status, item.reason, fetched_at
        row.updated_at = utcnow()
    for row in known.values():  # Meta no longer lists it: deleted there
        if row.status != DELETED and (row.status_at is None or row.status_at <= fetched_at):
            row.status, row.status_at, row.updated_at = DELETED, fetched_at, utcnow()
            counts["deleted"] += 1
    for sibling in s.exec(
        select(Channel).where(Channel.organization_id == org, Channel.account_id == account)
    ):
        sibling.config = {
            **(sibling.config or {}),
            "templates_synced_at": fetched_at.isoformat(),
            "templates_error": None,
        }
    return counts


def sync_failed(s: Session, channel_id: int, error: str) -> None:
    channel = s.get(Channel, channel_id)
    channel.config = {**(channel.config or {}), "templates_error": error[:500]}


def may_sync(identity: Identity) -> int:
    """Admins ask Meta for the list now; the organization to sync."""
    if not identity.at_least(Role.ADMIN):
        raise NotAllowed("access.denied")
    return identity.organization_id


def listing(s: Session, identity: Identity) -> dict:
    """The templates page: every template but deleted ones, and how the last sync went."""
    org = identity.organization_id
    rows = s.exec(
        select(MessageTemplate)
        .where(MessageTemplate.organization_id == org, MessageTemplate.status != DELETED)
        .order_by(MessageTemplate.name, MessageTemplate.language)
        .limit(1000)
    ).all()
    configs = [
        c.config or {}
        for c in s.exec(select(Channel).where(Channel.organization_id == org, Channel.is_active))
    ]
    synced = [c["templates_synced_at"] for c in configs if c.get("templates_synced_at")]
    return {
        "rows": [
            {
                "id": row.id,
                "name": row.name,
                "language": row.language,
                "category": row.category.lower(),
                "status": row.status.lower(),
                "reason": row.rejected_reason or "",
                "preview": render(row, {}),
                "editable": row.status in EDITABLE,
            }
            for row in rows
        ],
        "synced_at": min(synced) if synced else "",
        "error": next((c["templates_error"] for c in configs if c.get("templates_error")), ""),
        "channels": len(configs),
    }


# Creating and deleting ------------------------------------------------------------------------


def accounts(s: Session, identity: Identity) -> list[dict]:
    """The business accounts an admin can create templates in: one entry per account."""
    may_sync(identity)
    chosen = accounts_to_sync(s, organization_id=identity.organization_id, due_only=False)
    return [
        {
            "value": str(c.id),
            "name": f"{c.name} ({c.display_number or c.account_id})",
            "has_app": bool(app_of(c)),  # media headers need it to upload their example
        }
        for c in chosen
    ]


def app_of(channel: Channel) -> str:
    """The Meta app a media header's example file is uploaded under ("" when not set)."""
    return str((channel.config or {}).get("app_id") or "")


def account_of(s: Session, identity: Identity, channel_id: object) -> Channel:
    """The channel whose business account receives a new template; admins only."""
    may_sync(identity)
    channel = s.get(Channel, channel_id) if conversations.valid_id(channel_id) else None
    if channel is None or channel.organization_id != identity.organization_id:
        raise AccessError("template.account_invalid")
    if not channel.account_id:
        raise AccessError("template.account_invalid")
    return channel


def record_created(s: Session, channel_id: int, created: Template) -> int:
    """The submitted template, as Meta registered it (usually PENDING review)."""
    channel = s.get(Channel, channel_id)
    row = MessageTemplate(
        organization_id=channel.organization_id,
        account_id=channel.account_id,
        external_id=created.external_id,
        name=created.name,
        language=created.language,
        category=created.category,
        status=created.status or "PENDING",
        components=created.components,
        status_at=utcnow(),
        updated_at=utcnow(),
    )
    s.add(row)
    s.flush()
    return row.id


def _own_template(
    s: Session, identity: Identity, template_id: object
) -> tuple[MessageTemplate, Channel]:
    """An admin's template (not deleted) and a channel of its account."""
    may_sync(identity)
    row = s.get(MessageTemplate, template_id) if conversations.valid_id(template_id) else None
    if row is None or row.organization_id != identity.organization_id or row.status == DELETED:
        raise AccessError("template.not_found")
    channel = s.exec(
        select(Channel).where(
            Channel.organization_id == row.organization_id, Channel.account_id == row.account_id
        )
    ).first()
    if channel is None:
        raise AccessError("template.account_invalid")
    return row, channel


def deletable(
    s: Session, identity: Identity, template_id: object
) -> tuple[MessageTemplate, Channel]:
    """The template and a channel of its account, if an admin may delete it now."""
    row, channel = _own_template(s, identity, template_id)
    if row.status == "DISABLED":
        raise AccessError("template.disabled_kept")
    return row, channel


def _recent_edits(row: MessageTemplate, now: dt.datetime) -> list[dt.datetime]:
    times = [dt.datetime.fromisoformat(t) for t in row.approved_edits or []]
    return sorted(t for t in times if now - t < EDIT_WINDOW)


def editable(
    s: Session, identity: Identity, template_id: object
) -> tuple[MessageTemplate, Channel]:
    """The template and a channel of its account, if Meta would take an edit of it now:
    approved, rejected or paused, and an approved one not edited in the last 24 hours nor
    ten times in 30 days (as far as PyTake edited it)."""
    row, channel = _own_template(s, identity, template_id)
    if row.status not in EDITABLE or not row.external_id:
        raise AccessError(
            "template.not_editable", status=Term(f"templates.status_{row.status.lower()}")
        )
    if row.status == "APPROVED":
        now = utcnow()
        recent = _recent_edits(row, now)
        if recent and now - recent[-1] < EDIT_GAP:
            hours = max(1, math.ceil((recent[-1] + EDIT_GAP - now) / dt.timedelta(hours=1)))
            raise AccessError("template.edit_once_a_day", hours=hours)
        if len(recent) >= EDITS_IN_WINDOW:
            raise AccessError("template.edit_monthly_limit", limit=EDITS_IN_WINDOW)
    return row, channel


def edit_draft(s: Session, identity: Identity, template_id: object) -> dict:
    """The editor's values for an edit: the stored template read back, its account, and
    whether its category may change (not for an approved one)."""
    row, channel = editable(s, identity, template_id)
    return {
        **rules.draft_of(row.components or []),
        "id": row.id,
        "account": str(channel.id),
        "name": row.name,
        "language": row.language,
        "category": row.category.lower(),
        "category_locked": row.status == "APPROVED",
    }


def edit_change(row: MessageTemplate, checked: dict) -> bool:
    """Whether an edit changes the category; refused for an approved template, as is a
    switch between numbered and named variables (Meta keeps the template's format)."""
    category_changed = checked["category"].upper() != row.category.upper()
    if category_changed and row.status == "APPROVED":
        raise AccessError("template.category_locked")
    stored = rules.draft_of(row.components or [])
    names = rules.VARIABLE.findall(stored["header"] + stored["body"])
    given = checked["examples"]["header"] | checked["examples"]["body"]
    if names and given and any(not name.isdigit() for name in names) != checked["named"]:
        raise AccessError("template.variables_kept")
    return category_changed


def record_edited(
    s: Session, template_id: int, category: str, components: list, *, approved: bool
) -> None:
    """Submitted: in review again; an edit made while ``approved`` counts towards Meta's
    limits."""
    row = s.get(MessageTemplate, template_id)
    now = utcnow()
    if approved:
        row.approved_edits = [t.isoformat() for t in [*_recent_edits(row, now), now]]
    row.category, row.components = category.upper(), components
    row.status, row.rejected_reason, row.status_at, row.updated_at = "PENDING", None, now, now


def record_deleted(s: Session, template_id: int) -> None:
    row = s.get(MessageTemplate, template_id)
    row.status, row.status_at, row.updated_at = DELETED, utcnow(), utcnow()


# Sending ------------------------------------------------------------------------------------


def variables(template: MessageTemplate) -> list[dict]:
    """What the agent fills in: each text variable of the header, body and buttons, and the
    link of a media header, in the order WhatsApp shows them."""
    fields: list[dict] = []
    for component in template.components or []:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and str(component.get("format", "")).upper() in _MEDIA:
            fields.append(
                {"key": "header:link", "label": str(component["format"]).lower(), "kind": "link"}
            )
        elif kind in ("HEADER", "BODY"):
            for name in _VARIABLE.findall(str(component.get("text") or "")):
                key = f"{kind.lower()}:{name}"
                if key not in {f["key"] for f in fields}:
                    fields.append({"key": key, "label": name, "kind": "text"})
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                button_kind = str(button.get("type", "")).upper()
                if button_kind == "URL" and _VARIABLE.search(str(button.get("url") or "")):
                    fields.append({"key": f"button:{index}", "label": "url", "kind": "button"})
                elif button_kind == "COPY_CODE":
                    fields.append({"key": f"button:{index}", "label": "code", "kind": "button"})
    return fields


def compose(template: MessageTemplate, values: dict[str, str]) -> dict:
    """The outbound content for this template with these values, and its preview text.

    Every variable needs a non-empty value (Meta's 132000/132008 otherwise)."""
    if template.status != SENDABLE:
        raise AccessError("template.not_sendable", status=template.status.lower())
    values = {k: v.strip() for k, v in values.items() if isinstance(k, str) and isinstance(v, str)}
    fields = variables(template)
    for field in fields:
        value = values.get(field["key"], "")
        if not value:
            raise AccessError("template.value_missing", field=field["label"])
        if len(value) > MAX_VALUE:
            raise AccessError("send.field_too_long", field=field["label"], limit=MAX_VALUE)
        if field["kind"] == "link" and not value.startswith("https://"):
            raise AccessError("template.link_invalid")
    # Positional templates number their variables ({{1}}); named ones name them ({{order}}).
    named = any(not f["label"].isdigit() for f in fields if f["kind"] == "text")
    wanted = {f["key"] for f in fields}
    components = []
    for component in template.components or []:
        kind = str(component.get("type", "")).upper()
        text = str(component.get("text") or "")
        if kind == "HEADER" and str(component.get("format", "")).upper() in _MEDIA:
            media = str(component["format"]).lower()
            components.append(
                {
                    "type": "header",
                    "parameters": [{"type": media, media: {"link": values["header:link"]}}],
                }
            )
        elif kind in ("HEADER", "BODY"):
            names = list(dict.fromkeys(_VARIABLE.findall(text)))
            if names:
                components.append(
                    {
                        "type": kind.lower(),
                        "parameters": [
                            _text_parameter(name, values[f"{kind.lower()}:{name}"], named)
                            for name in names
                        ],
                    }
                )
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                key = f"button:{index}"
                if key in wanted:
                    button_kind = str(button.get("type", "")).upper()
                    parameter = (
                        {"type": "coupon_code", "coupon_code": values[key]}
                        if button_kind == "COPY_CODE"
                        else {"type": "text", "text": values[key]}
                    )
                    components.append(
                        {
                            "type": "button",
                            "sub_type": button_kind.lower(),
                            "index": str(index),
                            "parameters": [parameter],
                        }
                    )
    return {
        "name": template.name,
        "language": template.language,
        "components": components,
        "preview": render(template, values),
        "buttons": _button_titles(template, values),
    }


def _button_titles(template: MessageTemplate, values: dict[str, str]) -> list[str]:
    """What the customer sees under the message: each button's text ("📋 CODE" for a code)."""
    titles = []
    for component in template.components or []:
        if str(component.get("type", "")).upper() != "BUTTONS":
            continue
        for index, button in enumerate(component.get("buttons") or []):
            if str(button.get("type", "")).upper() == "COPY_CODE":
                titles.append(f"📋 {values.get(f'button:{index}', '')}".strip())
            else:
                titles.append(str(button.get("text") or ""))
    return [title for title in titles if title]


def render(template: MessageTemplate, values: dict[str, str]) -> str:
    """The text the customer will read; variables not filled in yet stay as {{name}}."""
    parts = []
    for component in template.components or []:
        kind = str(component.get("type", "")).upper()
        if kind in ("HEADER", "BODY", "FOOTER"):
            prefix = kind.lower()
            text = str(component.get("text") or "")
            parts.append(_VARIABLE.sub(lambda m, p=prefix: values.get(f"{p}:{m[1]}") or m[0], text))
    return "\n\n".join(part for part in parts if part)


def _text_parameter(name: str, value: str, named: bool) -> dict:
    parameter = {"type": "text", "text": value}
    if named:
        parameter["parameter_name"] = name
    return parameter


def choices(s: Session, identity: Identity, conversation_id: object) -> list[dict]:
    """The templates this conversation's number can send now: approved ones first, in the
    customer's language first (a contact attribute "language"); the others are listed with
    their status so the agent knows why they cannot be picked."""
    conversation = conversations.get(s, identity, conversation_id)
    channel = s.get(Channel, conversation.channel_id)
    attributes = attributes_of(s.get(Contact, conversation.contact_id))
    spoken = (attributes.get("language") or attributes.get("idioma") or "").replace("-", "_")
    order = [sa.case((MessageTemplate.status == SENDABLE, 0), else_=1)]
    if spoken:  # the customer's language, then its other variants (pt_BR, then pt_PT)
        order.append(
            sa.case(
                (MessageTemplate.language == spoken, 0),
                (MessageTemplate.language.startswith(spoken.split("_")[0], autoescape=True), 1),
                else_=2,
            )
        )
    order += [MessageTemplate.name, MessageTemplate.language]
    rows = s.exec(
        select(MessageTemplate)
        .where(
            MessageTemplate.organization_id == conversation.organization_id,
            MessageTemplate.account_id == channel.account_id,
            MessageTemplate.status != DELETED,
        )
        .order_by(*order)
    ).all()
    # A customer who said STOP gets no marketing: those are listed, not offered.
    refused = {MARKETING} if _opted_out(s, conversation) else set()
    return [
        {
            "id": row.id,
            "value": str(row.id),  # what the picker's select box holds
            "name": row.name,
            "language": row.language,
            "category": row.category.lower(),
            "status": "opted_out" if row.category.upper() in refused else row.status.lower(),
            "sendable": row.status == SENDABLE and row.category.upper() not in refused,
            "reason": row.rejected_reason or "",
            "fields": variables(row),
        }
        for row in rows
    ]


def chosen(s: Session, identity: Identity, conversation_id: object, template_id: object):
    """The template, if it belongs to this conversation's business account."""
    conversation = conversations.get(s, identity, conversation_id)
    channel = s.get(Channel, conversation.channel_id)
    template = (
        s.exec(
            select(MessageTemplate).where(
                MessageTemplate.id == template_id,
                MessageTemplate.organization_id == conversation.organization_id,
                MessageTemplate.account_id == channel.account_id,
            )
        ).first()
        if conversations.valid_id(template_id)
        else None
    )
    if template is None:
        raise AccessError("template.not_found")
    if template.category.upper() == MARKETING and _opted_out(s, conversation):
        raise AccessError("template.opted_out")
    return template


def _opted_out(s: Session, conversation) -> bool:
    return s.get(Contact, conversation.contact_id).opted_out_at is not None


def suggested(s: Session, identity: Identity, conversation_id: object) -> dict[str, str]:
    """Values the agent would otherwise type: the customer's first name for a variable
    called name/nome/first_name, and any contact attribute of the variable's name."""
    conversation = conversations.get(s, identity, conversation_id)
    contact = s.get(Contact, conversation.contact_id)
    known = attributes_of(contact)
    first = (contact.name or "").split(" ")[0]
    for key in ("name", "nome", "first_name", "primeiro_nome"):
        known.setdefault(key, first)
    return known


def preview_for(
    s: Session, identity: Identity, conversation_id: object, template_id: object, values: dict
) -> str:
    return render(chosen(s, identity, conversation_id, template_id), values)


def content_for(
    s: Session, identity: Identity, conversation_id: object, template_id: object, values: dict
) -> dict:
    return compose(chosen(s, identity, conversation_id, template_id), values)
