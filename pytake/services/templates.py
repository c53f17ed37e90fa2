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
import zoneinfo

import sqlalchemy as sa
from sqlmodel import Session, select

from pytake.auth.errors import AccessError, NotAllowed
from pytake.auth.sessions import Identity
from pytake.channels.base import Template
from pytake.channels.whatsapp import templates as rules
from pytake.i18n import Term
from pytake.models import Channel, Contact, MessageTemplate, Organization, Role, utcnow
from pytake.services import conversations
from pytake.services.contacts import attributes_of
from pytake.services.organization import settings_of

SENDABLE = "APPROVED"
DELETED = "DELETED"
MARKETING = "MARKETING"
SYNC_EVERY = dt.timedelta(hours=6)
SYNCED_AT = "templates_synced_at"  # in the channel's config: when its account was fetched
MAX_VALUE = 1024  # Meta's limit for one parameter's text
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA = ("IMAGE", "VIDEO", "DOCUMENT")
# A location header's parts: where (required), and what to call it (optional).
_COORDINATES, _NAMING = ("latitude", "longitude"), ("name", "address")
_PLACE = _COORDINATES + _NAMING
# A multi-product button's limits.
MAX_SECTIONS, MAX_PRODUCTS, MAX_SECTION_TITLE = 10, 30, 24
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
        synced = (channel.config or {}).get(SYNCED_AT)
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
            SYNCED_AT: fetched_at.isoformat(),
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
    synced = [c[SYNCED_AT] for c in configs if c.get(SYNCED_AT)]
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
        **rules.draft_of(row.components or [], row.category),
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
    stored = rules.draft_of(row.components or [], row.category)
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


def _field(key: str, label: str, kind: str, *, optional: bool = False) -> dict:
    """``card``: the carousel card (from 1) the value belongs to; 0 for the message."""
    return {"key": key, "label": label, "kind": kind, "optional": optional, "card": 0}


def _authentication(template: MessageTemplate) -> bool:
    return template.category.upper() == "AUTHENTICATION"


def variables(template: MessageTemplate) -> list[dict]:
    """What the agent fills in, in the order WhatsApp shows it: each text variable of the
    header and body, a media header's link, a location header's place, an offer's end,
    button values (a link's end, a code, products). An authentication template takes its
    one code, which WhatsApp puts both in the text and in the button."""
    if _authentication(template):
        return [_field("code", "code", "code")]
    return _fields(template.components or [])


def _fields(components: list) -> list[dict]:
    """The values these components take; a carousel card's are keyed ``card:<i>:…``."""
    fields: list[dict] = []
    for component in components:
        kind = str(component.get("type", "")).upper()
        header_format = str(component.get("format", "")).upper()
        if kind == "HEADER" and header_format in _MEDIA:
            fields.append(_field("header:link", header_format.lower(), "link"))
        elif kind == "HEADER" and header_format == "LOCATION":
            for part in _PLACE:
                fields.append(_field(f"header:{part}", part, "location", optional=part in _NAMING))
        elif kind == "HEADER" and header_format == "PRODUCT":
            fields.append(_field("header:product", "item", "product"))
        elif kind in ("HEADER", "BODY"):
            for name in _VARIABLE.findall(str(component.get("text") or "")):
                key = f"{kind.lower()}:{name}"
                if key not in {f["key"] for f in fields}:
                    fields.append(_field(key, name, "text"))
        elif kind == "LIMITED_TIME_OFFER" and _offer_expires(component):
            fields.append(_field("offer:expires", "expires", "expiry"))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                key, button_kind = f"button:{index}", str(button.get("type", "")).upper()
                if button_kind == "URL" and _VARIABLE.search(str(button.get("url") or "")):
                    fields.append(_field(key, "url", "button"))
                elif button_kind == "COPY_CODE":
                    fields.append(_field(key, "code", "button"))
                elif button_kind == "CATALOG":  # the product its thumbnail shows
                    fields.append(_field(key, "product", "product"))
                elif button_kind == "MPM":
                    fields.append(_field(key, "products", "products"))
        elif kind == "CAROUSEL":
            for index, card in enumerate(component.get("cards") or []):
                for field in _fields(card.get("components") or []):
                    # A card's media is given by link only (one file goes with a message).
                    label = f"card_{field['label']}" if field["kind"] == "link" else field["label"]
                    key = f"card:{index}:{field['key']}"
                    fields.append({**field, "key": key, "label": label, "card": index + 1})
    return fields


def _card_values(values: dict, index: int) -> dict:
    """One carousel card's values, keyed as a template's own (the catalog is everyone's)."""
    prefix = f"card:{index}:"
    own = {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
    return {**own, "catalog": values.get("catalog", ""), "card": index}


def _offer_expires(component: dict) -> bool:
    offer = component.get("limited_time_offer")
    return isinstance(offer, dict) and offer.get("has_expiration") is True


def _checked_values(
    fields: list[dict], values: dict[str, str], zone: dt.tzinfo, now: dt.datetime
) -> dict:
    """Each field's value as Meta takes it, or the first refusal, before Meta sees it."""
    checked: dict = {}
    for field in fields:
        value = values.get(field["key"], "")
        # A variable by its name; a part WhatsApp names by its words ("the card's image").
        named = field["label"] if field["kind"] == "text" else _label(field)
        if not value and not field["optional"]:
            raise AccessError("template.value_missing", field=named)
        if len(value) > MAX_VALUE:
            raise AccessError("send.field_too_long", field=named, limit=MAX_VALUE)
        kind = field["kind"]
        if kind == "link" and value and not value.startswith("https://"):
            raise AccessError("template.link_invalid")
        if kind == "code" and len(value) > rules.MAX_CODE:
            raise AccessError("send.field_too_long", field=named, limit=rules.MAX_CODE)
        if kind == "location" and field["label"] in _COORDINATES:
            value = _coordinate(value, field["label"])
        elif kind == "expiry":
            value = _expiry_ms(value, zone, now)
        elif kind == "products":
            value = _sections(value)
        checked[field["key"]] = value
    return checked


def _label(field: dict) -> Term:
    return Term(f"thread.template_label_{field['label']}")


def _coordinate(value: str, label: str) -> float:
    limit = 90 if label == "latitude" else 180
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        number = math.inf
    if not -limit <= number <= limit:
        raise AccessError("template.coordinate_invalid", field=label, limit=limit)
    return number


def _expiry_ms(value: str, zone: dt.tzinfo, now: dt.datetime) -> int:
    """When the offer ends (a date and time in the organization's zone, or with an offset),
    as Meta's milliseconds since the epoch; it must still be ahead."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise AccessError("template.expiry_invalid") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    if moment <= now:
        raise AccessError("template.expiry_past")
    return int(moment.timestamp() * 1000)


def _sections(value: str) -> list[dict]:
    """Products to show, a section a line: "Title: SKU1, SKU2" (one line may skip the
    title). Meta takes up to 10 sections and 30 products."""
    sections = []
    for line in filter(None, (line.strip() for line in value.splitlines())):
        title, _, skus = line.rpartition(":")
        items = [sku.strip() for sku in skus.split(",") if sku.strip()]
        if not items or len(title.strip()) > MAX_SECTION_TITLE:
            raise AccessError("template.products_invalid")
        sections.append({"title": title.strip(), "product_items": items})
    count = sum(len(section["product_items"]) for section in sections)
    untitled = len(sections) > 1 and any(not section["title"] for section in sections)
    if not sections or len(sections) > MAX_SECTIONS or count > MAX_PRODUCTS or untitled:
        raise AccessError("template.products_invalid")
    return sections


def compose(
    template: MessageTemplate,
    values: dict[str, str],
    *,
    zone: dt.tzinfo = dt.UTC,
    now: dt.datetime | None = None,
    header_file: bool = False,
    catalog: str = "",
) -> dict:
    """The outbound content for this template with these values, and its preview text.

    Every variable needs a non-empty value (Meta's 132000/132008 otherwise). With
    ``header_file`` the media header comes as a file sent along, not as a link. A product
    header or card names an item of the number's ``catalog``."""
    if template.status != SENDABLE:
        raise AccessError("template.not_sendable", status=template.status.lower())
    values = {k: v.strip() for k, v in values.items() if isinstance(k, str) and isinstance(v, str)}
    fields = variables(template)
    if header_file:
        if not any(f["key"] == "header:link" for f in fields):
            raise AccessError("send.file_unexpected")
        fields = [{**f, "optional": True} if f["key"] == "header:link" else f for f in fields]
        values = {**values, "header:link": ""}
    checked = _checked_values(fields, values, zone, now or utcnow())
    if not catalog and any(f["key"].endswith("header:product") for f in fields):
        raise AccessError("template.catalog_missing")
    checked["catalog"] = catalog
    if _authentication(template):
        components = _code_components(template, checked["code"])
    else:
        # Positional templates number their variables ({{1}}); named ones name them.
        named = any(not f["label"].isdigit() for f in fields if f["kind"] == "text")
        components = []
        for component in template.components or []:
            components.extend(_parameters(component, checked, named))
    return {
        "name": template.name,
        "language": template.language,
        "components": components,
        "preview": render(template, values),
        "buttons": _button_titles(template, values),
    }


def _code_components(template: MessageTemplate, code: str) -> list[dict]:
    """An authentication code goes in the text and, as a URL parameter, in its button."""
    parts = [{"type": "body", "parameters": [{"type": "text", "text": code}]}]
    if any(str(c.get("type", "")).upper() == "BUTTONS" for c in template.components or []):
        parameters = [{"type": "text", "text": code}]
        parts.append({"type": "button", "sub_type": "url", "index": "0", "parameters": parameters})
    return parts


def _parameters(component: dict, checked: dict, named: bool) -> list[dict]:
    """One stored component's parameters for the send (none when it takes no values)."""
    kind = str(component.get("type", "")).upper()
    header_format = str(component.get("format", "")).upper()
    if kind == "HEADER" and header_format in _MEDIA:
        media, link = header_format.lower(), checked["header:link"]
        parameter = {"type": media, media: {"link": link} if link else {}}  # {}: a file's id
        return [{"type": "header", "parameters": [parameter]}]
    if kind == "HEADER" and header_format == "PRODUCT":
        item = {"product_retailer_id": checked["header:product"], "catalog_id": checked["catalog"]}
        return [{"type": "header", "parameters": [{"type": "product", "product": item}]}]
    if kind == "HEADER" and header_format == "LOCATION":
        place = {part: checked[f"header:{part}"] for part in _PLACE if checked[f"header:{part}"]}
        return [{"type": "header", "parameters": [{"type": "location", "location": place}]}]
    if kind in ("HEADER", "BODY"):
        names = list(dict.fromkeys(_VARIABLE.findall(str(component.get("text") or ""))))
        if not names:
            return []
        parameters = [
            _text_parameter(name, checked[f"{kind.lower()}:{name}"], named) for name in names
        ]
        return [{"type": kind.lower(), "parameters": parameters}]
    if kind == "CAROUSEL":
        cards = [
            {
                "card_index": index,
                "components": [
                    part
                    for inner in card.get("components") or []
                    for part in _parameters(inner, _card_values(checked, index), named)
                ],
            }
            for index, card in enumerate(component.get("cards") or [])
        ]
        return [{"type": "carousel", "cards": cards}]
    if kind == "LIMITED_TIME_OFFER" and "offer:expires" in checked:
        offer = {"expiration_time_ms": checked["offer:expires"]}
        parameter = {"type": "limited_time_offer", "limited_time_offer": offer}
        return [{"type": "limited_time_offer", "parameters": [parameter]}]
    if kind != "BUTTONS":
        return []
    parts = []
    for index, button in enumerate(component.get("buttons") or []):
        button_kind = str(button.get("type", "")).upper()
        parameter = _button_parameter(button_kind, button, index, checked)
        if parameter is not None:
            parts.append(
                {
                    "type": "button",
                    "sub_type": button_kind.lower(),
                    "index": str(index),
                    "parameters": [parameter],
                }
            )
    return parts


def _button_parameter(kind: str, button: dict, index: int, checked: dict) -> dict | None:
    """A button's send parameter; None when it takes none (a link without variable…)."""
    if kind == "QUICK_REPLY":
        if "card" not in checked:
            return None  # the reply carries the button's own text
        # A card's quick reply says which card was tapped (it comes back with the reply).
        payload = f"card-{checked['card'] + 1}:{button.get('text') or index}"
        return {"type": "payload", "payload": payload}
    value = checked.get(f"button:{index}")
    if not value:
        return None
    if kind == "COPY_CODE":
        return {"type": "coupon_code", "coupon_code": value}
    if kind == "CATALOG":
        return {"type": "action", "action": {"thumbnail_product_retailer_id": value}}
    if kind == "MPM":
        sections = [  # a lone section may go untitled
            {"product_items": [{"product_retailer_id": p} for p in s["product_items"]]}
            | ({"title": s["title"]} if s["title"] else {})
            for s in value
        ]
        thumbnail = value[0]["product_items"][0]
        return {
            "type": "action",
            "action": {"thumbnail_product_retailer_id": thumbnail, "sections": sections},
        }
    return {"type": "text", "text": value}


def _button_titles(template: MessageTemplate, values: dict[str, str]) -> list[str]:
    """What the customer sees under the message: each button's text ("📋 CODE" for a code)."""
    titles = []
    for component in template.components or []:
        if str(component.get("type", "")).upper() != "BUTTONS":
            continue
        for index, button in enumerate(component.get("buttons") or []):
            kind = str(button.get("type", "")).upper()
            if kind == "COPY_CODE":
                titles.append(f"📋 {values.get(f'button:{index}', '')}".strip())
            elif _authentication(template):
                titles.append(f"📋 {button.get('text') or values.get('code', '')}".strip())
            else:
                titles.append(str(button.get("text") or ""))
    return [title for title in titles if title]


def render(template: MessageTemplate, values: dict[str, str]) -> str:
    """The text the customer will read; variables not filled in yet stay as {{name}}."""
    if _authentication(template):
        return _code_text(template, values.get("code") or "{{1}}")
    return _rendered(template.components or [], values)


def _rendered(components: list, values: dict[str, str]) -> str:
    parts = []
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and str(component.get("format", "")).upper() == "PRODUCT":
            parts.append("🛍 " + (values.get("header:product") or "…"))
        elif kind == "HEADER" and str(component.get("format", "")).upper() == "LOCATION":
            place = [values.get(f"header:{part}") or "" for part in _NAMING]
            parts.append("📍 " + ("\n".join(p for p in place if p) or "…"))
        elif kind == "LIMITED_TIME_OFFER":
            parts.append("⏰ " + str((component.get("limited_time_offer") or {}).get("text", "")))
        elif kind == "CAROUSEL":
            for index, card in enumerate(component.get("cards") or []):
                text = _rendered(card.get("components") or [], _card_values(values, index))
                parts.append(f"[{index + 1}] {text}")
        elif kind in ("HEADER", "BODY", "FOOTER"):
            prefix = kind.lower()
            text = str(component.get("text") or "")
            parts.append(_VARIABLE.sub(lambda m, p=prefix: values.get(f"{p}:{m[1]}") or m[0], text))
    return "\n\n".join(part for part in parts if part)


def _code_text(template: MessageTemplate, code: str) -> str:
    """Meta's text for an authentication template: as listed once synced; until then (as
    submitted, without text) Meta's English wording of the same choices."""
    parts = {str(c.get("type", "")).upper(): c for c in template.components or []}
    body, footer = parts.get("BODY", {}), parts.get("FOOTER", {})
    if not body.get("text"):
        minutes = footer.get("code_expiration_minutes")
        return rules.authentication_text(
            code,
            security=body.get("add_security_recommendation") is True,
            minutes=minutes if isinstance(minutes, int) else 0,
        )
    text = _VARIABLE.sub(lambda _: code, str(body["text"]))
    return "\n\n".join(p for p in (text, str(footer.get("text") or "")) if p)


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
    s: Session,
    identity: Identity,
    conversation_id: object,
    template_id: object,
    values: dict,
    *,
    header_file: bool = False,
) -> dict:
    """The content to send; an offer's end is read in the organization's time zone."""
    template = chosen(s, identity, conversation_id, template_id)
    zone = zoneinfo.ZoneInfo(settings_of(s.get(Organization, template.organization_id))["timezone"])
    channel = s.get(Channel, conversations.get(s, identity, conversation_id).channel_id)
    catalog = str((channel.config or {}).get("catalog_id") or "")
    return compose(template, values, zone=zone, header_file=header_file, catalog=catalog)
