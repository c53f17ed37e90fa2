"""The state of the template editor: the draft, its example files staged until submitted,
and what the preview shows of it (the views are in ``editor`` and the modules it uses)."""

from __future__ import annotations

import asyncio
import base64
import copy
import re
from pathlib import Path

import reflex as rx

from pytake import sniff
from pytake.auth.errors import AccessError
from pytake.channels.whatsapp import templates as rules
from pytake.jobs import templates as template_jobs
from pytake.models import Role
from pytake.services import templates
from pytake.services.outbound import StagedFile
from pytake.ui import uploads
from pytake.ui.guard import GuardedState, access
from pytake.ui.pages.templates.listing import TemplatesState
from pytake.ui.session import in_transaction, translated

PREVIEW_MAX = 512 * 1024  # larger image examples show as a placeholder, not inline
NEW_DRAFT = {"name": "", "category": "utility", "language": "pt_BR", **rules.EMPTY_DRAFT}


@access(min_role=Role.ADMIN)  # templates are admins' (services.templates), uploads too
class TemplateEditorState(GuardedState):
    """The editor of a new template, or of an existing one (``editing_id``) whose name and
    language stay and whose category is locked once approved."""

    open: bool = False
    editing_id: int = 0
    category_locked: bool = False
    accounts: list[dict] = []
    account: str = ""
    name: str = ""
    category: str = "utility"
    language: str = "pt_BR"
    header_format: str = "none"
    header: str = ""
    header_handle: str = ""  # the example Meta has; an edit keeps it unless a file replaces it
    body: str = ""
    footer: str = ""
    examples: dict[str, str] = {}
    buttons: list[dict] = []
    auth: dict = {}  # an authentication template's choices (Meta writes its text)
    offer: dict = {}  # a limited-time offer above the body: enabled, text, expires
    # A carousel: enabled, format, cards (body, examples, buttons, header_handle, and the
    # chosen file's name); each card's small image preview apart (it is large), and its
    # staged file backend-only. The three lists stay the same length.
    carousel: dict = {}
    card_previews: list[str] = []
    _card_files: list[dict] = []
    call_permission: bool = False  # the template asks leave to call the customer on WhatsApp
    example_name: str = ""  # the example file chosen for a media header
    example_preview: str = ""  # a small image example, as a data: URL
    problem: str = ""
    submitting: bool = False
    _example: dict = {}  # the staged file: path, mime, name
    _stored: dict = {}  # an edited template's header format and handle

    def _fill(self, values: dict) -> None:
        """Open on these values (a stored template's), the rest as a new template has them."""
        self._discard_example()
        self._discard_cards()
        first = self.accounts[0]["value"] if self.accounts else ""
        for field, default in {**copy.deepcopy(NEW_DRAFT), "account": first}.items():
            setattr(self, field, values.get(field) or default)
        self.auth = {**self.auth, "expiry": str(self.auth.get("expiry") or "")}
        cards = [{**card, "file": ""} for card in self.carousel.get("cards", [])]
        self.carousel = {**self.carousel, "cards": cards}
        self._card_files, self.card_previews = [{} for _ in cards], ["" for _ in cards]
        self.editing_id = values.get("id", 0)
        self.category_locked = values.get("category_locked", False)
        self._stored = {k: values.get(k, "") for k in ("header_format", "header_handle")}
        self.open, self.problem = True, ""

    @rx.event
    async def start(self):
        try:
            self.accounts = await in_transaction(templates.accounts, self._identity())
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self._fill({})

    @rx.event
    async def start_edit(self, template_id: int):
        """Open the editor on a stored template, if Meta would take an edit of it now."""
        identity = self._identity()
        listing = await self.get_state(TemplatesState)
        try:
            self.accounts = await in_transaction(templates.accounts, identity)
            values = await in_transaction(templates.edit_draft, identity, template_id)
        except AccessError as refusal:  # shown on the page: the editor stays closed
            listing.problem = await translated(self, refusal)
            return
        listing.problem = ""
        self._fill(values)

    @rx.event
    def close(self, _open: bool = False):
        self.open = False
        self._discard_example()
        self._discard_cards()

    def _discard_example(self) -> None:
        uploads.discard(self._example)
        self._example, self.example_name, self.example_preview = {}, "", ""

    def _discard_cards(self) -> None:
        for staged in self._card_files:
            uploads.discard(staged)
        self._card_files = [{} for _ in self._card_files]
        self.card_previews = ["" for _ in self._card_files]

    @rx.event
    def set_field(self, field: str, value: str):
        """One text field of the draft; anything else a client names is ignored."""
        if field in ("account", "name", "category", "language", "header", "body", "footer"):
            setattr(self, field, value[: rules.MAX_URL] if isinstance(value, str) else "")
        elif field == "header_format" and value in rules.HEADER_FORMATS:
            # Another kind of header needs another example: the stored one only fits its own.
            self.header_format = value
            self._discard_example()
            kept = value == self._stored.get("header_format")
            self.header_handle = self._stored.get("header_handle", "") if kept else ""

    @rx.event
    def set_example(self, variable: str, value: str):
        if isinstance(variable, str) and isinstance(value, str) and len(self.examples) < 100:
            self.examples = {**self.examples, variable[:40]: value[:200]}

    async def _stage(self, kind: str, files: list[rx.UploadFile]) -> tuple[dict, str] | None:
        """An example file checked against Meta's types and sizes for a ``kind`` header,
        kept in the staging folder until the template is submitted: the staged file, and a
        small image's preview (a data: URL). None, with the problem shown, if refused."""
        upload = files[0]
        mime = (upload.content_type or "").split(";")[0].strip().lower()
        limit = rules.EXAMPLE_FILES[kind][1]
        staged = await uploads.stage(upload, limit)
        try:
            if staged is None:
                raise AccessError("send.file_too_large", limit_mb=round(limit / 2**20, 1))
            size = (await asyncio.to_thread(staged.stat)).st_size
            rules.check_example(kind, mime, size)
            if not await asyncio.to_thread(sniff.agrees, staged, mime):
                raise AccessError("send.file_mismatch")
        except AccessError as refusal:
            if staged is not None:
                await asyncio.to_thread(staged.unlink, True)
            self.problem = await translated(self, refusal)
            return None
        self.problem = ""
        name = Path(upload.name or "example").name
        preview = ""
        if kind == "image" and size <= PREVIEW_MAX:
            data = await asyncio.to_thread(staged.read_bytes)
            preview = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        return {"path": str(staged), "mime": mime, "name": name}, preview

    @rx.event
    async def attach_example(self, files: list[rx.UploadFile]):
        """The media header's example file."""
        kind = self.header_format
        if not files or kind not in rules.EXAMPLE_FILES:
            return
        found = await self._stage(kind, files)
        if found is not None:
            self._discard_example()
            self._example, self.example_preview = found
            self.example_name = self._example["name"]

    @rx.event
    async def attach_card(self, files: list[rx.UploadFile], index: int):
        """A carousel card's example image or video, replacing the one it had."""
        cards = list(self.carousel.get("cards", []))
        kind = self.carousel.get("format")
        if not files or kind not in rules.EXAMPLE_FILES:  # product cards take no file
            return
        if not isinstance(index, int) or not 0 <= index < len(cards):
            return
        found = await self._stage(kind, files)
        if found is None:
            return
        staged, preview = found
        await asyncio.to_thread(uploads.discard, self._card_files[index])
        self._card_files = [*self._card_files[:index], staged, *self._card_files[index + 1 :]]
        previews = self.card_previews
        self.card_previews = [*previews[:index], preview, *previews[index + 1 :]]
        cards[index] = {**cards[index], "file": staged["name"]}
        self.carousel = {**self.carousel, "cards": cards}

    @rx.event
    def set_carousel(self, key: str, value: str | bool):
        """Cards on or off, and their media kind (another kind needs other examples)."""
        if key == "enabled" and isinstance(value, bool):
            cards = self.carousel.get("cards") or [_blank_card(), _blank_card()]
            self.carousel = {**self.carousel, "enabled": value, "cards": cards}
            if len(self._card_files) != len(cards):  # the first cards
                self._card_files, self.card_previews = [{} for _ in cards], ["" for _ in cards]
        elif key == "format" and value in rules.CARD_FORMATS:
            self._discard_cards()
            # Product cards take other buttons than media cards: each starts again with one.
            kinds = ["spm"] if value == "product" else ["quick_reply"]
            given = self.carousel.get("cards", [])
            cards = [{**_blank_card(kinds), "body": c["body"]} for c in given]
            self.carousel = {**self.carousel, "format": value, "cards": cards}

    def _cards_changed(self, cards: list[dict]) -> None:
        self.carousel = {**self.carousel, "cards": cards}

    @rx.event
    def add_card(self):
        cards = list(self.carousel.get("cards", []))
        if len(cards) < rules.MAX_CARDS:
            first = ["spm"] if self.carousel.get("format") == "product" else ["quick_reply"]
            kinds = [b["type"] for b in cards[0]["buttons"]] if cards else first
            self._cards_changed([*cards, _blank_card(kinds)])
            self._card_files, self.card_previews = (
                [*self._card_files, {}],
                [*self.card_previews, ""],
            )

    @rx.event
    def remove_card(self, index: int):
        cards = list(self.carousel.get("cards", []))
        if isinstance(index, int) and 0 <= index < len(cards):
            uploads.discard(self._card_files[index])
            self._card_files = self._card_files[:index] + self._card_files[index + 1 :]
            self.card_previews = self.card_previews[:index] + self.card_previews[index + 1 :]
            self._cards_changed(cards[:index] + cards[index + 1 :])

    @rx.event
    def set_card(self, index: int, value: str):
        """A card's text."""
        cards = list(self.carousel.get("cards", []))
        if isinstance(index, int) and 0 <= index < len(cards) and isinstance(value, str):
            cards[index] = {**cards[index], "body": value[: rules.MAX_CARD_BODY]}
            self._cards_changed(cards)

    @rx.event
    def set_card_example(self, index: int, variable: str, value: str):
        cards = list(self.carousel.get("cards", []))
        if (
            isinstance(index, int)
            and 0 <= index < len(cards)
            and isinstance(variable, str)
            and isinstance(value, str)
        ):
            examples = {**cards[index].get("examples", {}), variable[:40]: value[:200]}
            cards[index] = {**cards[index], "examples": dict(list(examples.items())[:20])}
            self._cards_changed(cards)

    @rx.event
    def add_card_button(self, kind: str):
        """Every card has the same buttons: one is added to each."""
        cards = list(self.carousel.get("cards", []))
        product = self.carousel.get("format") == "product"
        offered = rules.PRODUCT_CARD_BUTTONS if product else rules.CARD_BUTTONS
        most = 1 if product else rules.MAX_CARD_BUTTONS
        if kind in offered and cards and len(cards[0]["buttons"]) < most:
            blank = {"type": kind, **dict.fromkeys(rules.BUTTON_FIELDS, "")}
            self._cards_changed([{**c, "buttons": [*c["buttons"], blank]} for c in cards])

    @rx.event
    def remove_card_button(self, position: int):
        cards = list(self.carousel.get("cards", []))
        if isinstance(position, int) and cards and 0 <= position < len(cards[0]["buttons"]):
            self._cards_changed(
                [
                    {**c, "buttons": [b for n, b in enumerate(c["buttons"]) if n != position]}
                    for c in cards
                ]
            )

    @rx.event
    def set_card_button(self, index: int, position: int, key: str, value: str):
        cards = list(self.carousel.get("cards", []))
        if (
            isinstance(index, int)
            and 0 <= index < len(cards)
            and isinstance(position, int)
            and 0 <= position < len(cards[index]["buttons"])
            and key in rules.BUTTON_FIELDS
            and isinstance(value, str)
        ):
            buttons = list(cards[index]["buttons"])
            buttons[position] = {**buttons[position], key: value[: rules.MAX_URL]}
            cards[index] = {**cards[index], "buttons": buttons}
            self._cards_changed(cards)

    @rx.event
    def set_auth(self, key: str, value: str | bool):
        """One choice of an authentication template; anything else a client names is ignored."""
        chosen = key in ("security", "terms") and isinstance(value, bool)
        if chosen or (key == "otp" and value in rules.OTP_TYPES):
            self.auth = {**self.auth, key: value}
        elif key in ("expiry", "text", "autofill", "package", "signature") and isinstance(
            value, str
        ):
            self.auth = {**self.auth, key: value[:224]}

    @rx.event
    def set_call_permission(self, on: bool):
        self.call_permission = on is True

    @rx.event
    def set_offer(self, key: str, value: str | bool):
        if key in ("enabled", "expires") and isinstance(value, bool):
            self.offer = {**self.offer, key: value}
        elif key == "text" and isinstance(value, str):
            self.offer = {**self.offer, key: value[: rules.MAX_OFFER]}

    @rx.event
    def add_button(self, kind: str):
        if kind in rules.BUTTON_KINDS and len(self.buttons) < rules.MAX_BUTTONS:
            blank = dict.fromkeys(rules.BUTTON_FIELDS, "")
            self.buttons = [*self.buttons, {"type": kind, **blank}]

    @rx.event
    def remove_button(self, index: int):
        if isinstance(index, int) and 0 <= index < len(self.buttons):
            self.buttons = self.buttons[:index] + self.buttons[index + 1 :]

    @rx.event
    def set_button(self, index: int, key: str, value: str):
        if (
            isinstance(index, int)
            and 0 <= index < len(self.buttons)
            and key in rules.BUTTON_FIELDS
            and isinstance(value, str)
        ):
            changed = list(self.buttons)
            changed[index] = {**changed[index], key: value[: rules.MAX_URL]}
            self.buttons = changed

    @rx.var
    def variables(self) -> list[str]:
        """The variables the header and body use, each needing an example for Meta's review."""
        header = _header_text(self.header_format, self.header)
        found = rules.VARIABLE.findall(header) + rules.VARIABLE.findall(self.body)
        return list(dict.fromkeys(found))

    @rx.var
    def media_header(self) -> bool:
        return self.header_format in rules.EXAMPLE_FILES

    @rx.var
    def app_missing(self) -> bool:
        """A new example must be uploaded under the number's Meta app, and none is set."""
        chosen = next((a for a in self.accounts if a["value"] == self.account), {})
        return self.media_header and not self.header_handle and not chosen.get("has_app")

    @rx.var
    def authentication(self) -> bool:
        return self.category == "authentication"

    @rx.var
    def offering(self) -> bool:
        return self.category == "marketing" and self.offer.get("enabled") is True

    @rx.var
    def carousel_on(self) -> bool:
        return self.category == "marketing" and self.carousel.get("enabled") is True

    @rx.var
    def cards(self) -> list[dict]:
        """The cards as the editor and the preview show them, each with its variables."""
        shown = []
        for entry in self.carousel.get("cards", []):
            examples = entry.get("examples", {})
            text = rules.VARIABLE.sub(lambda m, e=examples: e.get(m[1]) or m[0], entry["body"])
            variables = list(dict.fromkeys(rules.VARIABLE.findall(entry["body"])))
            shown.append({**entry, "variables": variables, "shown": text})
        return shown

    @rx.var
    def preview(self) -> str:
        if self.authentication:
            expiry = str(self.auth.get("expiry") or "").strip()
            return rules.authentication_text(
                rules.EXAMPLE_CODE,
                security=self.auth.get("security") is True,
                minutes=int(expiry) if re.fullmatch(r"[0-9]{1,3}", expiry) else 0,
            )
        header = _header_text(self.header_format, self.header)
        footer = "" if self.offering else self.footer  # the offer shows above, in its box
        text = "\n\n".join(p.strip() for p in (header, self.body, footer) if p.strip())
        return rules.VARIABLE.sub(lambda m: self.examples.get(m[1]) or m[0], text)

    @rx.var
    def preview_buttons(self) -> list[dict[str, str]]:
        """The bubble's buttons: their text, or the term of a button WhatsApp labels itself."""
        if self.authentication:
            fixed = "templates.button_autofill" if self.auth.get("otp") == "one_tap" else ""
            text = str(self.auth.get("text") or "")
            return [{"text": text, "term": "" if text else fixed or "templates.button_copy_code"}]
        return [
            {"text": "", "term": "templates.button_copy_code"}
            if b["type"] == "copy_code"
            else {"text": b.get("text", ""), "term": ""}
            for b in self.buttons
        ]

    @rx.event
    async def submit(self):
        draft = {
            "name": self.name,
            "category": self.category,
            "language": self.language,
            "header_format": self.header_format,
            "header": _header_text(self.header_format, self.header),
            "header_handle": self.header_handle,
            "body": self.body,
            "footer": self.footer,
            "examples": {k: v for k, v in self.examples.items() if k in self.variables},
            "buttons": [
                {k: v for k, v in b.items() if v} | {"type": b["type"]} for b in self.buttons
            ],
            "auth": self.auth,
            "offer": self.offer if self.category == "marketing" else {},
            "call_permission": self.call_permission and not self.carousel_on,
            "carousel": {
                **self.carousel,
                "cards": [
                    {k: card[k] for k in ("body", "examples", "buttons", "header_handle")}
                    for card in self.carousel.get("cards", [])
                ],
            }
            if self.carousel_on
            else {},
        }
        example = _staged_file(self._example) if self._example and self.media_header else None
        cards = {n: _staged_file(f) for n, f in enumerate(self._card_files) if f}
        self.submitting, self.problem = True, ""
        yield
        try:
            if self.editing_id:
                await template_jobs.edit(
                    self._identity(), self.editing_id, draft, example, cards=cards
                )
            else:
                await template_jobs.submit(
                    self._identity(), _id(self.account), draft, example, cards=cards
                )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        finally:
            self.submitting = False
        self.open = False
        self._discard_example()
        self._discard_cards()
        yield TemplatesState.load


def _blank_card(kinds: list[str] | None = None) -> dict:
    blank = dict.fromkeys(rules.BUTTON_FIELDS, "")
    buttons = [{"type": kind, **blank} for kind in kinds or ["quick_reply"]]
    return {
        "body": "",
        "examples": {},
        "buttons": buttons,
        "header_handle": "",
        "file": "",
    }


def _staged_file(staged: dict) -> StagedFile:
    return StagedFile(Path(staged["path"]), staged["mime"], staged["name"])


def _header_text(header_format: str, header: str) -> str:
    """The header's text, when the header is text (a media header keeps none)."""
    return header if header_format == "text" else ""


def _id(value: str) -> int | None:
    return int(value) if re.fullmatch(r"[0-9]{1,18}", value or "") else None
