"""What a messaging platform looks like to the core: normalized events in, messages out.

An adapter turns a platform's webhook bodies into the events below and the outbound shapes
below into API calls. The core (ingest, conversations, outbox) only ever sees these types, so
a second platform fits by writing its adapter.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class MessageType(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"  # content["voice"] tells a recorded voice note from an audio file
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    BUTTON_REPLY = "button_reply"  # tap on an interactive reply button
    LIST_REPLY = "list_reply"  # choice of an interactive list row
    FLOW_REPLY = "flow_reply"  # a completed form (WhatsApp Flow)
    TEMPLATE_BUTTON = "template_button"  # tap on a template's quick-reply button
    ORDER = "order"
    REACTION = "reaction"
    INTERACTIVE = "interactive"  # sent by us: reply buttons or a list
    TEMPLATE = "template"  # sent by us: a pre-approved template
    SYSTEM = "system"  # e.g. the customer changed number
    ACTIVITY = "activity"  # what agents did (assigned, resolved…), in the conversation's history
    UNSUPPORTED = "unsupported"  # kept and shown as such, never dropped


MEDIA_TYPES = frozenset(
    {
        MessageType.IMAGE,
        MessageType.AUDIO,
        MessageType.VIDEO,
        MessageType.DOCUMENT,
        MessageType.STICKER,
    }
)


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    RECEIVED = "received"  # inbound messages
    # The request may have reached the platform, but no answer came: never resent blindly.
    UNKNOWN = "unknown"


# Statuses only move forward; ``failed`` is terminal.
STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.UNKNOWN: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.PLAYED: 4,
    DeliveryStatus.FAILED: 9,
}


@dataclass(frozen=True, slots=True)
class PlatformError:
    code: int | None
    title: str
    details: str = ""

    def as_dict(self) -> dict:
        return {"code": self.code, "title": self.title, "details": self.details}


@dataclass(frozen=True, slots=True)
class ContactRef:
    """A customer as the platform names them: by phone-based id, scoped id, or both."""

    external_id: str | None = None  # WhatsApp: wa_id (digits)
    scoped_id: str | None = None  # WhatsApp: business-scoped user id (BSUID)
    name: str | None = None
    username: str | None = None
    # Other spellings of external_id the platform uses for the same person (Brazil's 9th digit).
    aliases: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.external_id or self.scoped_id)


@dataclass(frozen=True, slots=True)
class MediaRef:
    media_id: str
    mime_type: str | None = None
    sha256: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: str  # the platform's id of the receiving number
    external_id: str
    sender: ContactRef
    sent_at: dt.datetime
    type: MessageType
    content: dict
    media: MediaRef | None = None
    reply_to: str | None = None
    errors: tuple[PlatformError, ...] = ()
    # System messages about identity: the customer's new ids.
    new_identity: ContactRef | None = None


@dataclass(frozen=True, slots=True)
class Reaction:
    channel: str
    external_id: str
    sender: ContactRef
    sent_at: dt.datetime
    target_id: str
    emoji: str | None  # None: the reaction was removed


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    channel: str
    message_id: str
    status: DeliveryStatus
    at: dt.datetime
    recipient: ContactRef | None = None
    errors: tuple[PlatformError, ...] = ()
    reference: str | None = None  # our own id, echoed back (WhatsApp: biz_opaque_callback_data)


@dataclass(frozen=True, slots=True)
class TemplateStatusUpdate:
    account: str  # WhatsApp: WABA id
    template_id: str | None
    name: str
    language: str
    status: str
    reason: str | None = None
    category: str | None = None
    at: dt.datetime | None = None  # when the platform decided it


@dataclass(frozen=True, slots=True)
class Template:
    """A pre-approved message template as the platform lists it (language in normal form)."""

    external_id: str | None
    name: str
    language: str
    category: str
    status: str
    components: list
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelError:
    """A problem the platform reports about the number or the app, not about a message."""

    channel: str
    errors: tuple[PlatformError, ...]


@dataclass(frozen=True, slots=True)
class Ignored:
    """An authentic notification the core has no use for (kept in the raw event)."""

    channel: str | None
    kind: str
    problem: str | None = None  # set when the item was authentic but malformed


Event = InboundMessage | Reaction | StatusUpdate | TemplateStatusUpdate | ChannelError | Ignored


class PayloadError(ValueError):
    """An authentic body that cannot be understood; it is quarantined, not retried."""


@dataclass(frozen=True, slots=True)
class Routing:
    """Which of our channels a webhook body names, read before its signature is checked."""

    numbers: frozenset[str] = frozenset()  # receiving numbers (WhatsApp: phone_number_id)
    accounts: frozenset[str] = frozenset()  # accounts, for account-level events (WABA ids)
    # The first customer it concerns (receiving number and customer's id), so that one
    # customer's webhooks are applied in the order they arrived, whichever worker has them.
    customer: str | None = None


# Outbound ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message as stored (the same content shapes as inbound), ready for an adapter."""

    to: ContactRef
    type: MessageType | str
    content: dict
    reply_to: str | None = None  # the quoted message's platform id
    reference: str | None = None  # our id, for the platform to echo in its statuses
    media_id: str | None = None  # the platform's id of the uploaded file


@dataclass(frozen=True, slots=True)
class SendResult:
    external_id: str
    recipient: ContactRef  # the ids the platform reports for the recipient


class PlatformCallError(Exception):
    """A call to the platform failed; ``retryable`` says whether trying again can help.

    ``ambiguous``: the request may have been acted on (no answer after it was sent), so
    repeating it could deliver twice. ``retry_after``: seconds the platform asked us to wait.
    ``throttle``: the limit hit, "number" (throughput) or "recipient" (pair rate).
    ``credentials_rejected``: the channel's token is no longer accepted.
    """

    def __init__(
        self,
        error: PlatformError,
        *,
        retryable: bool,
        http_status: int | None = None,
        ambiguous: bool = False,
        retry_after: float | None = None,
        throttle: str | None = None,
        credentials_rejected: bool = False,
    ) -> None:
        super().__init__(f"{error.code}: {error.title} {error.details}".strip())
        self.error = error
        self.retryable = retryable
        self.http_status = http_status
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.throttle = throttle
        self.credentials_rejected = credentials_rejected

    @classmethod
    def refused(cls, title: str, details: str = "") -> PlatformCallError:
        """Our own refusal (too large, wrong type, untrusted host): trying again won't help."""
        return cls(PlatformError(None, title, details), retryable=False)


@dataclass(frozen=True, slots=True)
class Download:
    path: Path
    mime_type: str
    size: int
    sha256: str  # hex digest of what was stored


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """One question a connection test asked the platform; ``problem`` names what is wrong.

    ``name``: "graph" (the platform answered at all), "token", "number", "account" (the
    number belongs to it) or "webhooks" (the account's events are sent to our app).
    ``problem``: "unreachable", "unavailable", "rejected", "not_found", "no_permission",
    "not_in_account", "not_subscribed" or "refused" (anything else; see ``error``).
    """

    name: str
    problem: str | None = None  # None: fine
    error: PlatformError | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """What the platform says about a number; checks it could not get to are left out."""

    checks: tuple[ConnectionCheck, ...]
    display_number: str | None = None
    verified_name: str | None = None
    quality: str | None = None  # WhatsApp: GREEN, YELLOW, RED or UNKNOWN
    throughput: str | None = None  # WhatsApp: STANDARD, HIGH or NOT_APPLICABLE
    facts: Mapping[str, str] = field(default_factory=dict)  # other platform-specific fields


@dataclass(slots=True)
class Credentials:
    """A channel's decrypted secrets; lives only in backend memory."""

    values: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "")

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        return f"Credentials(keys={sorted(self.values)})"


class ChannelAdapter(Protocol):
    kind: str

    def inspect(self, body: bytes) -> tuple[Routing, str | None]: ...

    def signature(self, headers: Mapping[str, str]) -> str | None: ...

    def signature_valid(self, body: bytes, signature: str | None, secret: str) -> bool: ...

    def webhook_secret(self, credentials: Credentials) -> str: ...

    def parse(self, body: bytes) -> list[Event]: ...

    async def download_media(
        self, number: str, credentials: Credentials, media: MediaRef, dest: Path, max_bytes: int
    ) -> Download: ...

    def check(self, kind: str, content: dict) -> dict:
        """A composed message validated against the platform's rules (raises AccessError)."""
        ...

    async def upload_media(
        self, number: str, credentials: Credentials, path: Path, mime_type: str, filename: str
    ) -> str: ...

    async def send(
        self, number: str, credentials: Credentials, message: OutboundMessage
    ) -> SendResult: ...

    async def mark_read(
        self, number: str, credentials: Credentials, message_id: str, *, typing: bool = False
    ) -> None: ...

    async def list_templates(self, account: str, credentials: Credentials) -> list[Template]:
        """Every template of the business account, all pages of them."""
        ...

    def check_template(self, draft: dict) -> dict:
        """A new template validated against the platform's rules (raises AccessError)."""
        ...

    async def create_template(
        self, account: str, credentials: Credentials, draft: dict
    ) -> Template:
        """Submit a checked draft for review; the template as the platform registered it."""
        ...

    async def edit_template(
        self, credentials: Credentials, template_id: str, draft: dict, *, category: bool
    ) -> list:
        """Submit a checked draft as the template's new content (and its category when
        ``category``); the components as submitted."""
        ...

    async def upload_template_example(
        self, app: str, credentials: Credentials, path: Path, mime_type: str, filename: str
    ) -> str:
        """Upload a media header's example file under the platform app; its handle."""
        ...

    async def delete_template(
        self, account: str, credentials: Credentials, name: str, external_id: str | None
    ) -> None: ...

    async def check_connection(
        self, number: str, account: str | None, credentials: Credentials
    ) -> ConnectionReport:
        """Ask the platform about the number, its account and the webhook subscription, so
        an admin learns what is misconfigured before customers do (raises nothing)."""
        ...
