"""The templates page: WhatsApp templates (synced, created, deleted) and quick replies."""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import re
from pathlib import Path

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.channels.whatsapp import templates as rules
from pytake.jobs import templates as template_jobs
from pytake.services import quick_replies, teams, templates
from pytake.services.outbound import StagedFile
from pytake.ui import uploads
from pytake.ui.forms import EditorMixin, confirm, editor_dialog, error_callout
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.session import SessionState, in_transaction, t, translated

EXAMPLE_UPLOAD_ID = "template-example-upload"
PREVIEW_MAX = 512 * 1024  # larger image examples show as a placeholder, not inline
_ELLIPSIS = {"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}
NEW_DRAFT = {"name": "", "category": "utility", "language": "pt_BR", **rules.EMPTY_DRAFT}


class TemplatesState(GuardedState):
    rows: list[dict] = []
    synced_at: str = ""
    sync_error: str = ""
    syncing: bool = False
    problem: str = ""

    @rx.event
    async def load(self):
        found = await in_transaction(templates.listing, self._identity())
        self.rows, self.synced_at, self.sync_error = (
            found["rows"],
            found["synced_at"],
            found["error"],
        )
        return QuickRepliesState.load

    @rx.event
    async def delete(self, template_id: int):
        """Delete at Meta, then here; the name cannot be used again for 30 days."""
        try:
            await template_jobs.delete(self._identity(), template_id)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.problem = ""
        await self.load()

    @rx.event
    async def sync_now(self):
        """Admins fetch the list from Meta now instead of waiting for the periodic sync."""
        try:
            org = templates.may_sync(self._identity())
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.syncing, self.problem = True, ""
        yield
        try:
            await template_jobs.sync(org)
        finally:
            self.syncing = False
        await self.load()


class QuickRepliesState(EditorMixin, GuardedState):
    """The organization's quick replies; supervisors and up change them (checked in the
    service as well)."""

    rows: list[dict] = []
    teams: list[dict] = []

    @rx.event
    async def load(self):
        identity = self._identity()
        self.rows = await in_transaction(quick_replies.listing, identity)
        self.teams = [
            {"value": str(team["id"]), "name": team["name"]}
            for team in await in_transaction(teams.listing, identity.organization_id)
        ]

    @rx.event
    def start(self, reply_id: int):
        found = next((r for r in self.rows if r["id"] == reply_id), None)
        self._open_editor(found or {"id": 0, "shortcut": "", "body": "", "team_id": 0})

    @rx.event
    async def save(self, form: dict):
        form = form if isinstance(form, dict) else {}
        team = form.get("team")
        save = functools.partial(
            quick_replies.save,
            shortcut=form.get("shortcut"),
            body=form.get("body"),
            team_id=int(team) if isinstance(team, str) and team.isdigit() else None,
            reply_id=self.editing.get("id") or None,
        )
        await self._save_editor(save)

    @rx.event
    async def delete(self, reply_id: int):
        try:
            await in_transaction(quick_replies.delete, self._identity(), reply_id)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        await self.load()
        return None


def _quick_reply_dialog() -> rx.Component:
    reply = QuickRepliesState.editing
    return editor_dialog(
        QuickRepliesState,
        ("quick_replies.add", "quick_replies.edit"),
        QuickRepliesState.save,
        "quick-reply-save",
        rx.text(t("quick_replies.shortcut"), size="2", weight="medium"),
        rx.input(
            name="shortcut",
            default_value=reply["shortcut"].to(str),
            placeholder="hello",
            max_length=40,
            required=True,
            width="100%",
            data_testid="quick-reply-shortcut",
        ),
        rx.text(t("quick_replies.body"), size="2", weight="medium"),
        rx.text_area(
            name="body",
            default_value=reply["body"].to(str),
            rows="5",
            max_length=4096,
            required=True,
            width="100%",
            data_testid="quick-reply-body",
        ),
        rx.text(t("quick_replies.variables"), size="1", color=rx.color("gray", 10)),
        rx.text(t("quick_replies.team"), size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(width="100%"),
            rx.select.content(
                rx.select.item(t("quick_replies.everyone"), value="all"),
                rx.foreach(
                    QuickRepliesState.teams,
                    lambda team: rx.select.item(team["name"], value=team["value"].to(str)),
                ),
            ),
            name="team",
            default_value=rx.cond(reply["team_id"].to(int) > 0, reply["team_id"].to(str), "all"),
        ),
    )


def _quick_replies() -> rx.Component:
    manage = SessionState.user_role != "agent"
    return rx.vstack(
        rx.hstack(
            rx.text(t("quick_replies.hint"), size="2", color=rx.color("gray", 11)),
            rx.spacer(),
            rx.cond(
                manage,
                rx.button(
                    rx.icon("plus", size=14),
                    t("quick_replies.add"),
                    variant="soft",
                    on_click=QuickRepliesState.start(0),
                    data_testid="quick-reply-add",
                ),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            QuickRepliesState.rows.length() > 0,
            card(
                rx.foreach(
                    QuickRepliesState.rows,
                    lambda reply: rx.hstack(
                        rx.vstack(
                            rx.hstack(
                                rx.code("/" + reply["shortcut"].to(str)),
                                rx.cond(
                                    reply["team"].to(str) != "",
                                    rx.badge(reply["team"], variant="outline", size="1"),
                                ),
                                spacing="2",
                            ),
                            rx.text(reply["body"], size="2", white_space="pre-wrap"),
                            spacing="1",
                            flex="1",
                        ),
                        rx.cond(
                            manage,
                            rx.hstack(
                                rx.icon_button(
                                    rx.icon("pencil", size=14),
                                    variant="ghost",
                                    on_click=QuickRepliesState.start(reply["id"].to(int)),
                                    aria_label="edit",
                                ),
                                rx.icon_button(
                                    rx.icon("trash-2", size=14),
                                    variant="ghost",
                                    color_scheme="red",
                                    on_click=QuickRepliesState.delete(reply["id"].to(int)),
                                    aria_label="delete",
                                ),
                            ),
                        ),
                        width="100%",
                        padding="10px 0",
                        border_bottom=f"1px solid {rx.color('gray', 4)}",
                        data_testid="quick-reply-row",
                    ),
                )
            ),
            empty_state("zap", "quick_replies.empty_title", "quick_replies.empty_body"),
        ),
        _quick_reply_dialog(),
        spacing="3",
        width="100%",
    )


STATUS_COLORS = {
    "approved": "green",
    "pending": "amber",
    "in_appeal": "amber",
    "rejected": "red",
    "paused": "orange",
    "disabled": "gray",
}


def _template_row(row: rx.Var) -> rx.Component:
    status = row["status"].to(str)
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.code(row["name"]),
                rx.text(
                    row["preview"],
                    size="1",
                    color=rx.color("gray", 11),
                    white_space="pre-wrap",
                    max_width="480px",
                ),
                spacing="1",
            )
        ),
        rx.table.cell(row["language"]),
        rx.table.cell(SessionState.tr["templates.category_" + row["category"].to(str)].to(str)),
        rx.table.cell(
            rx.vstack(
                rx.badge(
                    SessionState.tr["templates.status_" + status].to(str),
                    color_scheme=rx.match(
                        status, *[(k, v) for k, v in STATUS_COLORS.items()], "gray"
                    ),
                    data_testid="template-status",
                ),
                rx.cond(
                    row["reason"].to(str) != "",
                    rx.text(row["reason"], size="1", color=rx.color("red", 11)),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    SessionState.is_admin & row["editable"].to(bool),
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        variant="ghost",
                        on_click=TemplateEditorState.start_edit(row["id"].to(int)),
                        aria_label="edit",
                        data_testid="template-edit",
                    ),
                ),
                _delete_button(row["id"].to(int), status),
                spacing="3",
            )
        ),
        data_testid="template-row",
    )


def _delete_button(template_id: rx.Var, status: rx.Var) -> rx.Component:
    return rx.cond(
        SessionState.is_admin & (status != "disabled"),
        confirm(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                aria_label="delete",
                data_testid="template-delete",
            ),
            "templates.delete_title",
            "templates.delete_body",
            "templates.delete",
            TemplatesState.delete(template_id),
        ),
    )


def templates_page() -> rx.Component:
    return shell(
        "nav.templates",
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger(t("templates.whatsapp_tab"), value="whatsapp"),
                rx.tabs.trigger(
                    t("quick_replies.tab"), value="quick", data_testid="quick-replies-tab"
                ),
            ),
            rx.tabs.content(_whatsapp_templates(), value="whatsapp", padding_top="16px"),
            rx.tabs.content(_quick_replies(), value="quick", padding_top="16px"),
            default_value="whatsapp",
            width="100%",
        ),
    )


def _whatsapp_templates() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.cond(
                TemplatesState.synced_at != "",
                rx.text(
                    t("templates.synced"),
                    " ",
                    rx.moment(
                        TemplatesState.synced_at,
                        from_now=True,
                        locale=SessionState.moment_locale,
                    ),
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.text(t("templates.never_synced"), size="2", color=rx.color("gray", 11)),
            ),
            rx.spacer(),
            rx.cond(
                SessionState.is_admin,
                rx.hstack(
                    rx.button(
                        rx.icon("refresh-cw", size=14),
                        t("templates.sync_now"),
                        loading=TemplatesState.syncing,
                        on_click=TemplatesState.sync_now,
                        variant="soft",
                        data_testid="templates-sync",
                    ),
                    rx.button(
                        rx.icon("plus", size=14),
                        t("templates.new"),
                        on_click=TemplateEditorState.start,
                        data_testid="template-new",
                    ),
                    spacing="2",
                ),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            (TemplatesState.sync_error != "") | (TemplatesState.problem != ""),
            rx.callout(
                rx.cond(
                    TemplatesState.problem != "",
                    TemplatesState.problem,
                    t("templates.sync_failed") + " " + TemplatesState.sync_error,
                ),
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                width="100%",
                data_testid="templates-problem",
            ),
        ),
        rx.cond(
            TemplatesState.rows.length() > 0,
            card(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(t("templates.name")),
                            rx.table.column_header_cell(t("templates.language")),
                            rx.table.column_header_cell(t("templates.category")),
                            rx.table.column_header_cell(t("templates.status")),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(TemplatesState.rows, _template_row)),
                    width="100%",
                )
            ),
            empty_state("file-text", "templates.empty_title", "templates.empty_body"),
        ),
        _editor(),
        spacing="4",
        width="100%",
    )


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


def _field(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(t(label), size="2", weight="medium"), control, spacing="1", width="100%"
    )


def _choice(field: str, value: rx.Var, options: list[tuple[str, rx.Var]], **props) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid=f"template-{field}"),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in options]),
        value=value,
        on_change=lambda chosen: TemplateEditorState.set_field(field, chosen),
        **props,
    )


def _media_icon(size: int) -> rx.Component:
    return rx.match(
        TemplateEditorState.header_format,
        ("image", rx.icon("image", size=size)),
        ("video", rx.icon("video", size=size)),
        rx.icon("file-text", size=size),
    )


def _header_editor() -> rx.Component:
    """The header's kind, then its text or its example file (uploaded to Meta on submit)."""
    draft = TemplateEditorState
    example = rx.vstack(
        rx.hstack(
            uploads.one_file(
                uploads.choose_button(t("templates.example_choose"), "template-example-choose"),
                EXAMPLE_UPLOAD_ID,
                TemplateEditorState.attach_example,
            ),
            rx.cond(
                draft.example_name != "",
                rx.hstack(
                    _media_icon(14),
                    rx.text(draft.example_name, size="2", max_width="220px", **_ELLIPSIS),
                    spacing="1",
                    align="center",
                    data_testid="template-example-file",
                ),
                rx.cond(
                    draft.header_handle != "",
                    rx.text(t("templates.example_kept"), size="2", color=rx.color("gray", 11)),
                ),
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        rx.text(
            rx.match(
                draft.header_format,
                ("image", t("templates.example_hint_image")),
                ("video", t("templates.example_hint_video")),
                t("templates.example_hint_document"),
            ),
            size="1",
            color=rx.color("gray", 10),
        ),
        rx.cond(
            draft.app_missing,
            rx.callout(
                t("template.app_id_missing"),
                icon="info",
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="template-app-missing",
            ),
        ),
        spacing="2",
        width="100%",
    )
    return _field(
        "templates.header",
        rx.vstack(
            rx.hstack(
                rx.box(
                    _choice(
                        "header_format",
                        draft.header_format,
                        [(f, t(f"templates.header_{f}")) for f in rules.HEADER_FORMATS],
                    ),
                    width="150px",
                    flex_shrink="0",
                ),
                rx.cond(
                    draft.header_format == "text",
                    _text_input(
                        "header",
                        draft.header,
                        rules.MAX_HEADER,
                        placeholder=t("templates.header_hint"),
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(draft.media_header, example),
            spacing="2",
            width="100%",
        ),
    )


def _media_preview() -> rx.Component:
    """A media header in the bubble: the image itself when small, else its kind and name."""
    draft = TemplateEditorState
    return rx.cond(
        draft.example_preview != "",
        rx.image(
            src=draft.example_preview,
            width="100%",
            max_height="180px",
            object_fit="cover",
            border_radius="6px",
            margin_bottom="8px",
        ),
        _header_placeholder(
            _media_icon(28),
            rx.text(
                rx.cond(
                    draft.example_name != "",
                    draft.example_name,
                    SessionState.tr["templates.header_" + draft.header_format].to(str),
                ),
                size="1",
                max_width="200px",
                **_ELLIPSIS,
            ),
            "120px",
        ),
    )


def _given_at_send(icon: str, term: str) -> rx.Component:
    """A header given at each send, in the bubble: a map, or a product of the catalog."""
    return _header_placeholder(rx.icon(icon, size=28), rx.text(t(term), size="1"), "110px")


def _header_placeholder(icon: rx.Component, label: rx.Component, height: str) -> rx.Component:
    """A grey box where the bubble's header media will be."""
    return rx.center(
        rx.vstack(icon, label, align="center", spacing="1"),
        height=height,
        width="100%",
        color=rx.color("gray", 10),
        background=rx.color("gray", 4),
        border_radius="6px",
        margin_bottom="8px",
    )


def _card_button(card: int, button: rx.Var, position: rx.Var) -> rx.Component:
    """A card's button: its kind is every card's, its text and link this card's own."""
    return _button_row(
        button,
        lambda key, value: TemplateEditorState.set_card_button(card, position, key, value),
        "template-card-button",
    )


def _card_editor(index: int) -> rx.Component:
    """One card: its example file (uploaded to Meta on submit), its text, its buttons."""
    entry = TemplateEditorState.cards[index]
    product = TemplateEditorState.carousel["format"].to(str) == "product"
    return rx.vstack(
        rx.hstack(
            rx.text(t("templates.card"), f" {index + 1}", size="2", weight="medium"),
            rx.spacer(),
            rx.cond(
                ~product,
                uploads.one_file(
                    uploads.choose_button(
                        t("templates.example_choose"), "template-card-choose", size="1"
                    ),
                    f"template-card-upload-{index}",
                    TemplateEditorState.attach_card,
                    args=(index,),
                ),
            ),
            _remove_button(TemplateEditorState.remove_card(index)),
            width="100%",
            align="center",
        ),
        rx.cond(
            product,
            rx.text(t("templates.product_card_hint"), size="1", color=rx.color("gray", 10)),
            rx.fragment(
                rx.cond(
                    entry["file"].to(str) != "",
                    rx.text(
                        entry["file"].to(str), size="1", color=rx.color("gray", 11), **_ELLIPSIS
                    ),
                    rx.cond(
                        entry["header_handle"].to(str) != "",
                        rx.text(t("templates.example_kept"), size="1", color=rx.color("gray", 11)),
                    ),
                ),
                rx.text_area(
                    value=entry["body"].to(str),
                    on_change=lambda v: TemplateEditorState.set_card(index, v),
                    placeholder=t("templates.card_hint"),
                    max_length=rules.MAX_CARD_BODY,
                    rows="2",
                    width="100%",
                    data_testid="template-card-body",
                ),
                rx.foreach(
                    entry["variables"].to(list[str]),
                    lambda name: rx.hstack(
                        rx.code("{{" + name + "}}"),
                        rx.input(
                            value=entry["examples"].to(dict)[name].to(str),
                            on_change=lambda v: TemplateEditorState.set_card_example(
                                index, name, v
                            ),
                            placeholder=t("templates.example"),
                            size="1",
                            flex="1",
                            data_testid="template-card-example",
                        ),
                        width="100%",
                        align="center",
                    ),
                ),
            ),
        ),
        rx.foreach(
            entry["buttons"].to(list[dict]),
            lambda button, position: _card_button(index, button, position),
        ),
        spacing="2",
        width="100%",
        padding="10px",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        data_testid="template-card",
    )


def _card_button_adder(kind: str) -> rx.Component:
    """Adds a button to every card, offered where the cards' kind takes it."""
    product = TemplateEditorState.carousel["format"].to(str) == "product"
    button = rx.button(
        rx.icon("plus", size=12),
        t(f"templates.button_{kind}"),
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=TemplateEditorState.add_card_button(kind),
        data_testid=f"template-card-add-{kind}",
    )
    if kind in rules.CARD_BUTTONS and kind in rules.PRODUCT_CARD_BUTTONS:
        return button
    return rx.cond(product if kind in rules.PRODUCT_CARD_BUTTONS else ~product, button)


def _carousel_editor() -> rx.Component:
    """A media-card carousel: the body above, then 2 to 10 cards alike."""
    draft = TemplateEditorState
    return rx.vstack(
        rx.hstack(
            rx.text(t("templates.card_format"), size="2", weight="medium"),
            rx.select.root(
                rx.select.trigger(data_testid="template-card-format"),
                rx.select.content(
                    *[
                        rx.select.item(t(f"templates.header_{f}"), value=f)
                        for f in rules.CARD_FORMATS
                    ]
                ),
                value=draft.carousel["format"].to(str),
                on_change=lambda v: TemplateEditorState.set_carousel("format", v),
            ),
            align="center",
            spacing="3",
        ),
        *[rx.cond(draft.cards.length() > n, _card_editor(n)) for n in range(rules.MAX_CARDS)],
        rx.hstack(
            rx.button(
                rx.icon("plus", size=12),
                t("templates.card_add"),
                size="1",
                variant="soft",
                on_click=TemplateEditorState.add_card,
                disabled=draft.cards.length() >= rules.MAX_CARDS,
                data_testid="template-card-add",
            ),
            *[
                _card_button_adder(kind)
                for kind in dict.fromkeys(rules.CARD_BUTTONS + rules.PRODUCT_CARD_BUTTONS)
            ],
            rx.button(
                rx.icon("minus", size=12),
                t("templates.card_button_remove"),
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=TemplateEditorState.remove_card_button(
                    draft.cards[0]["buttons"].to(list).length() - 1
                ),
            ),
            wrap="wrap",
            spacing="2",
        ),
        rx.text(t("templates.card_rules"), size="1", color=rx.color("gray", 10)),
        spacing="3",
        width="100%",
    )


# A WhatsApp bubble in the previews, and a button under it.
_BUBBLE = {
    "background": rx.color("gray", 1),
    "border_radius": "10px",
    "box_shadow": "0 1px 1px rgba(0,0,0,0.08)",
}


def _bubble_button(label, size: str) -> rx.Component:
    return rx.center(
        rx.text(label, size=size, color=rx.color("accent", 11)),
        border_top=f"1px solid {rx.color('gray', 5)}",
        padding_top="6px" if size == "2" else "4px",
        margin_top="6px" if size == "2" else "0",
        width="100%",
    )


def _cards_preview() -> rx.Component:
    """The cards under the bubble, side by side as WhatsApp scrolls them."""
    return rx.hstack(
        rx.foreach(
            TemplateEditorState.cards,
            lambda card, index: rx.vstack(
                rx.cond(
                    TemplateEditorState.card_previews[index] != "",
                    rx.image(
                        src=TemplateEditorState.card_previews[index],
                        width="100%",
                        height="90px",
                        object_fit="cover",
                        border_radius="6px",
                    ),
                    rx.center(
                        rx.match(
                            TemplateEditorState.carousel["format"].to(str),
                            ("video", rx.icon("video", size=22)),
                            ("product", rx.icon("shopping-bag", size=22)),
                            rx.icon("image", size=22),
                        ),
                        height="90px",
                        width="100%",
                        color=rx.color("gray", 10),
                        background=rx.color("gray", 4),
                        border_radius="6px",
                    ),
                ),
                rx.text(card["shown"].to(str), size="1", white_space="pre-wrap"),
                rx.foreach(
                    card["buttons"].to(list[dict]),
                    lambda b: _bubble_button(b["text"].to(str), "1"),
                ),
                padding="8px",
                min_width="150px",
                max_width="150px",
                spacing="1",
                **_BUBBLE,
            ),
        ),
        overflow_x="auto",
        width="100%",
        padding_top="8px",
        spacing="2",
        data_testid="template-cards-preview",
    )


def _offer_preview() -> rx.Component:
    """The offer's box above the body: its line, and the countdown when it shows its end."""
    offer = TemplateEditorState.offer
    return rx.hstack(
        rx.center(
            rx.icon("timer", size=18),
            width="32px",
            height="32px",
            border_radius="50%",
            background=rx.color("accent", 4),
            color=rx.color("accent", 11),
            flex_shrink="0",
        ),
        rx.vstack(
            rx.text(offer["text"].to(str), size="2", weight="bold"),
            rx.cond(
                offer["expires"].to(bool),
                rx.text(t("templates.offer_ends_at_send"), size="1", color=rx.color("gray", 10)),
            ),
            spacing="0",
        ),
        align="center",
        spacing="2",
        padding="8px",
        margin_bottom="8px",
        border_radius="6px",
        background=rx.color("gray", 3),
        data_testid="template-offer-preview",
    )


def _check(label: str, checked: rx.Var, on_change, testid: str) -> rx.Component:
    return rx.text(
        rx.flex(
            rx.checkbox(checked=checked, on_change=on_change, data_testid=testid),
            t(label),
            gap="2",
            align="center",
        ),
        as_="label",
        size="2",
    )


def _auth_input(key: str, placeholder, limit: int, **props) -> rx.Component:
    return rx.input(
        value=TemplateEditorState.auth[key].to(str),
        on_change=lambda value: TemplateEditorState.set_auth(key, value),
        placeholder=placeholder,
        max_length=limit,
        width="100%",
        data_testid=f"template-auth-{key}",
        **props,
    )


def _authentication_editor() -> rx.Component:
    """Meta writes an authentication template's text; the business picks its lines and its
    one-time-password button (one-tap and zero-tap fill the code into its Android app)."""
    auth = TemplateEditorState.auth
    otp = auth["otp"].to(str)
    app = rx.vstack(
        _field("templates.otp_package", _auth_input("package", "com.example.shop", 224)),
        _field("templates.otp_signature", _auth_input("signature", "K8a/AINcGX7", 11)),
        rx.cond(
            otp == "one_tap",
            _field("templates.otp_autofill", _auth_input("autofill", t("templates.optional"), 25)),
        ),
        rx.cond(
            otp == "zero_tap",
            _check(
                "templates.otp_terms",
                auth["terms"].to(bool),
                lambda on: TemplateEditorState.set_auth("terms", on),
                "template-auth-terms",
            ),
        ),
        spacing="3",
        width="100%",
    )
    return rx.vstack(
        rx.callout(t("templates.auth_hint"), icon="info", size="1", width="100%"),
        _check(
            "templates.auth_security",
            auth["security"].to(bool),
            lambda on: TemplateEditorState.set_auth("security", on),
            "template-auth-security",
        ),
        _field(
            "templates.auth_expiry",
            _auth_input("expiry", t("templates.optional"), 2, type="number", min=1, max=90),
        ),
        _field(
            "templates.otp",
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="template-auth-otp"),
                rx.select.content(
                    *[rx.select.item(t(f"templates.otp_{o}"), value=o) for o in rules.OTP_TYPES]
                ),
                value=otp,
                on_change=lambda chosen: TemplateEditorState.set_auth("otp", chosen),
            ),
        ),
        _field("templates.button_text", _auth_input("text", t("templates.optional"), 25)),
        rx.cond(otp != "copy_code", app),
        spacing="3",
        width="100%",
    )


def _offer_editor() -> rx.Component:
    """A limited-time offer: a countdown line above the body (marketing only)."""
    offer = TemplateEditorState.offer
    return rx.vstack(
        _check(
            "templates.offer",
            offer["enabled"].to(bool),
            lambda on: TemplateEditorState.set_offer("enabled", on),
            "template-offer",
        ),
        rx.cond(
            offer["enabled"].to(bool),
            rx.vstack(
                rx.input(
                    value=offer["text"].to(str),
                    on_change=lambda v: TemplateEditorState.set_offer("text", v),
                    placeholder=t("templates.offer_text"),
                    max_length=rules.MAX_OFFER,
                    width="100%",
                    data_testid="template-offer-text",
                ),
                _check(
                    "templates.offer_expires",
                    offer["expires"].to(bool),
                    lambda on: TemplateEditorState.set_offer("expires", on),
                    "template-offer-expires",
                ),
                rx.text(t("templates.offer_hint"), size="1", color=rx.color("gray", 10)),
                spacing="2",
                width="100%",
                padding_left="24px",
            ),
        ),
        spacing="2",
        width="100%",
    )


def _text_input(field: str, value: rx.Var, limit: int, **props) -> rx.Component:
    return rx.input(
        value=value,
        on_change=lambda typed: TemplateEditorState.set_field(field, typed),
        max_length=limit,
        width="100%",
        data_testid=f"template-{field}",
        **props,
    )


def _button_editor(button: rx.Var, index: rx.Var) -> rx.Component:
    return _button_row(
        button,
        lambda key, value: TemplateEditorState.set_button(index, key, value),
        "template-button",
        remove=TemplateEditorState.remove_button(index),
    )


def _button_row(button: rx.Var, change, testid: str, remove=None) -> rx.Component:
    """A button's kind and the fields that kind takes; ``change(key, value)`` keeps them."""
    kind = button["type"].to(str)

    def typed(key: str, placeholder, limit: int) -> rx.Component:
        return rx.input(
            value=button[key].to(str),
            on_change=lambda value: change(key, value),
            placeholder=placeholder,
            max_length=limit,
            size="1",
            flex="1",
            data_testid=f"{testid}-{key}",
        )

    return rx.hstack(
        rx.badge(SessionState.tr["templates.button_" + kind].to(str), size="1"),
        rx.cond(kind != "copy_code", typed("text", t("templates.button_text"), 25)),
        rx.cond(kind == "url", typed("url", "https://example.com/order/{{1}}", 2000)),
        rx.cond(kind == "phone", typed("phone", "+5511912345678", 20)),
        rx.cond(kind == "flow", typed("flow_id", t("templates.flow_id"), 20)),
        rx.cond(kind == "flow", typed("screen", t("templates.flow_screen"), 100)),
        rx.cond(
            (kind == "url") | (kind == "copy_code"),
            typed("example", t("templates.example"), 200),
        ),
        _remove_button(remove) if remove is not None else rx.fragment(),
        width="100%",
        align="center",
        spacing="2",
    )


def _remove_button(on_click) -> rx.Component:
    return rx.icon_button(
        rx.icon("x", size=12),
        size="1",
        variant="ghost",
        color_scheme="gray",
        on_click=on_click,
        aria_label="remove",
    )


def _draft_preview() -> rx.Component:
    """The draft as a WhatsApp bubble, examples in place of its variables."""
    return rx.vstack(
        rx.text(t("templates.preview"), size="2", weight="medium"),
        rx.box(
            rx.box(
                rx.cond(
                    ~TemplateEditorState.authentication,
                    rx.fragment(
                        rx.cond(TemplateEditorState.media_header, _media_preview()),
                        rx.match(
                            TemplateEditorState.header_format,
                            ("location", _given_at_send("map-pin", "templates.location_at_send")),
                            (
                                "product",
                                _given_at_send("shopping-bag", "templates.product_at_send"),
                            ),
                            rx.fragment(),
                        ),
                    ),
                ),
                rx.cond(TemplateEditorState.offering, _offer_preview()),
                rx.text(TemplateEditorState.preview, size="2", white_space="pre-wrap"),
                rx.cond(
                    TemplateEditorState.call_permission & ~TemplateEditorState.carousel_on,
                    rx.hstack(
                        rx.icon("phone-call", size=14),
                        rx.text(t("templates.call_permission_preview"), size="1"),
                        color=rx.color("gray", 11),
                        align="center",
                        spacing="2",
                        margin_top="6px",
                    ),
                ),
                rx.foreach(
                    TemplateEditorState.preview_buttons,
                    lambda b: _bubble_button(
                        rx.cond(b["term"] != "", SessionState.tr[b["term"]].to(str), b["text"]),
                        "2",
                    ),
                ),
                padding="10px 12px",
                max_width="100%",
                data_testid="template-draft-preview",
                **_BUBBLE,
            ),
            rx.cond(TemplateEditorState.carousel_on, _cards_preview()),
            background=rx.color("green", 3),
            border_radius="12px",
            padding="16px 12px",
            width="100%",
        ),
        spacing="2",
        flex="1 1 220px",
        min_width="0",
    )


def _content_editor() -> rx.Component:
    """Header, offer, body with its examples, footer and buttons, or the body and a
    carousel's cards: every kind but authentication."""
    draft = TemplateEditorState
    marketing = draft.category == "marketing"
    body = rx.fragment(
        _field(
            "templates.body",
            rx.text_area(
                value=draft.body,
                on_change=lambda v: TemplateEditorState.set_field("body", v),
                placeholder=t("templates.body_hint"),
                max_length=rules.MAX_BODY,
                rows="5",
                width="100%",
                data_testid="template-body",
            ),
        ),
        rx.foreach(
            draft.variables,
            lambda name: rx.hstack(
                rx.code("{{" + name + "}}"),
                rx.input(
                    value=draft.examples.get(name, "").to(str),
                    on_change=lambda v: TemplateEditorState.set_example(name, v),
                    placeholder=t("templates.example"),
                    size="1",
                    flex="1",
                    data_testid="template-example",
                ),
                width="100%",
                align="center",
            ),
        ),
    )
    standard = rx.vstack(
        _check(
            "templates.call_permission",
            draft.call_permission,
            TemplateEditorState.set_call_permission,
            "template-call-permission",
        ),
        rx.cond(
            ~draft.offering,
            _field("templates.footer", _text_input("footer", draft.footer, rules.MAX_FOOTER)),
        ),
        rx.text(t("templates.buttons"), size="2", weight="medium"),
        rx.foreach(draft.buttons, _button_editor),
        rx.hstack(
            *[
                rx.button(
                    rx.icon("plus", size=12),
                    t(f"templates.button_{kind}"),
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=TemplateEditorState.add_button(kind),
                    data_testid=f"template-add-{kind}",
                )
                for kind in rules.BUTTON_KINDS
            ],
            wrap="wrap",
            spacing="2",
        ),
        spacing="3",
        width="100%",
    )
    return rx.vstack(
        rx.cond(
            marketing,
            _check(
                "templates.carousel",
                draft.carousel["enabled"].to(bool),
                lambda on: TemplateEditorState.set_carousel("enabled", on),
                "template-carousel",
            ),
        ),
        rx.cond(~draft.carousel_on, _header_editor()),
        rx.cond(marketing & ~draft.carousel_on, _offer_editor()),
        body,
        rx.cond(draft.carousel_on, _carousel_editor(), standard),
        spacing="3",
        width="100%",
    )


def _editor() -> rx.Component:
    draft = TemplateEditorState
    editing = draft.editing_id > 0
    fields = rx.vstack(
        rx.cond(
            ~editing & (draft.accounts.length() > 1),
            _field(
                "templates.account",
                rx.select.root(
                    rx.select.trigger(width="100%", data_testid="template-account"),
                    rx.select.content(
                        rx.foreach(
                            draft.accounts,
                            lambda a: rx.select.item(a["name"], value=a["value"].to(str)),
                        )
                    ),
                    value=draft.account,
                    on_change=lambda v: TemplateEditorState.set_field("account", v),
                ),
            ),
        ),
        _field(
            "templates.name",
            _text_input(
                "name",
                draft.name,
                512,
                placeholder="order_update",
                read_only=editing,
                variant=rx.cond(editing, "soft", "surface"),
                color_scheme="gray",
            ),
        ),
        rx.hstack(
            _field(
                "templates.category",
                _choice(
                    "category",
                    draft.category,
                    [(c, t(f"templates.category_{c}")) for c in rules.CATEGORIES],
                    disabled=draft.category_locked,
                ),
            ),
            _field(
                "templates.language",
                _choice(
                    "language",
                    draft.language,
                    [(c, c) for c in rules.LANGUAGES],
                    disabled=editing,
                ),
            ),
            width="100%",
        ),
        rx.cond(draft.authentication, _authentication_editor(), _content_editor()),
        spacing="3",
        flex="1 1 300px",
        min_width="0",
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(editing, t("templates.edit"), t("templates.new"))),
            rx.cond(
                editing,
                rx.dialog.description(
                    t("templates.edit_hint"),
                    size="2",
                    color=rx.color("gray", 11),
                    margin_bottom="12px",
                ),
            ),
            error_callout(
                draft.problem, size="1", margin_bottom="12px", data_testid="template-problem"
            ),
            rx.flex(fields, _draft_preview(), gap="16px", wrap="wrap"),
            rx.hstack(
                rx.dialog.close(rx.button(t("thread.cancel"), variant="soft", color_scheme="gray")),
                rx.button(
                    t("templates.submit"),
                    on_click=TemplateEditorState.submit,
                    loading=draft.submitting,
                    data_testid="template-submit",
                ),
                justify="end",
                width="100%",
                margin_top="16px",
            ),
            max_width="820px",
        ),
        open=draft.open,
        on_open_change=TemplateEditorState.close,
    )
