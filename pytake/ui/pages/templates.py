"""The templates page: WhatsApp templates (synced, created, deleted) and quick replies."""

from __future__ import annotations

import functools
import re

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.channels.whatsapp import templates as rules
from pytake.jobs import templates as template_jobs
from pytake.services import quick_replies, teams, templates
from pytake.ui.forms import EditorMixin, editor_dialog, error_callout
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.session import SessionState, in_transaction, t, translated

BUTTON_KINDS = ("quick_reply", "url", "phone", "copy_code")


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
            rx.cond(
                SessionState.is_admin & (status != "disabled"),
                rx.alert_dialog.root(
                    rx.alert_dialog.trigger(
                        rx.icon_button(
                            rx.icon("trash-2", size=14),
                            variant="ghost",
                            color_scheme="red",
                            aria_label="delete",
                            data_testid="template-delete",
                        )
                    ),
                    rx.alert_dialog.content(
                        rx.alert_dialog.title(t("templates.delete_title")),
                        rx.alert_dialog.description(t("templates.delete_body")),
                        rx.hstack(
                            rx.alert_dialog.cancel(
                                rx.button(t("thread.cancel"), variant="soft", color_scheme="gray")
                            ),
                            rx.alert_dialog.action(
                                rx.button(
                                    t("templates.delete"),
                                    color_scheme="red",
                                    on_click=TemplatesState.delete(row["id"].to(int)),
                                    data_testid="template-delete-confirm",
                                )
                            ),
                            justify="end",
                            spacing="2",
                        ),
                    ),
                ),
            )
        ),
        data_testid="template-row",
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
    open: bool = False
    accounts: list[dict] = []
    account: str = ""
    name: str = ""
    category: str = "utility"
    language: str = "pt_BR"
    header: str = ""
    body: str = ""
    footer: str = ""
    examples: dict[str, str] = {}
    buttons: list[dict] = []
    problem: str = ""
    submitting: bool = False

    @rx.event
    async def start(self):
        try:
            self.accounts = await in_transaction(templates.accounts, self._identity())
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.account = self.accounts[0]["value"] if self.accounts else ""
        self.name, self.header, self.body, self.footer = "", "", "", ""
        self.category, self.language, self.examples, self.buttons = "utility", "pt_BR", {}, []
        self.open, self.problem = True, ""

    @rx.event
    def close(self, _open: bool = False):
        self.open = False

    @rx.event
    def set_field(self, field: str, value: str):
        """One text field of the draft; anything else a client names is ignored."""
        if field in ("account", "name", "category", "language", "header", "body", "footer"):
            setattr(self, field, value[: rules.MAX_URL] if isinstance(value, str) else "")

    @rx.event
    def set_example(self, variable: str, value: str):
        if isinstance(variable, str) and isinstance(value, str) and len(self.examples) < 100:
            self.examples = {**self.examples, variable[:40]: value[:200]}

    @rx.event
    def add_button(self, kind: str):
        if kind in BUTTON_KINDS and len(self.buttons) < rules.MAX_BUTTONS:
            self.buttons = [
                *self.buttons,
                {"type": kind, "text": "", "url": "", "phone": "", "example": ""},
            ]

    @rx.event
    def remove_button(self, index: int):
        if isinstance(index, int) and 0 <= index < len(self.buttons):
            self.buttons = self.buttons[:index] + self.buttons[index + 1 :]

    @rx.event
    def set_button(self, index: int, key: str, value: str):
        if (
            isinstance(index, int)
            and 0 <= index < len(self.buttons)
            and key in ("text", "url", "phone", "example")
            and isinstance(value, str)
        ):
            changed = list(self.buttons)
            changed[index] = {**changed[index], key: value[: rules.MAX_URL]}
            self.buttons = changed

    @rx.var
    def variables(self) -> list[str]:
        """The variables the header and body use, each needing an example for Meta's review."""
        found = rules.VARIABLE.findall(self.header) + rules.VARIABLE.findall(self.body)
        return list(dict.fromkeys(found))

    @rx.var
    def preview(self) -> str:
        parts = [self.header, self.body, self.footer]
        text = "\n\n".join(p.strip() for p in parts if p.strip())
        return rules.VARIABLE.sub(lambda m: self.examples.get(m[1]) or m[0], text)

    @rx.event
    async def submit(self):
        draft = {
            "name": self.name,
            "category": self.category,
            "language": self.language,
            "header": self.header,
            "body": self.body,
            "footer": self.footer,
            "examples": {k: v for k, v in self.examples.items() if k in self.variables},
            "buttons": [
                {k: v for k, v in b.items() if v} | {"type": b["type"]} for b in self.buttons
            ],
        }
        self.submitting, self.problem = True, ""
        yield
        try:
            await template_jobs.submit(self._identity(), _id(self.account), draft)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        finally:
            self.submitting = False
        self.open = False
        yield TemplatesState.load


def _id(value: str) -> int | None:
    return int(value) if re.fullmatch(r"[0-9]{1,18}", value or "") else None


def _field(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(t(label), size="2", weight="medium"), control, spacing="1", width="100%"
    )


def _choice(field: str, value: rx.Var, options: list[tuple[str, rx.Var]]) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid=f"template-{field}"),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in options]),
        value=value,
        on_change=lambda chosen: TemplateEditorState.set_field(field, chosen),
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
    kind = button["type"].to(str)

    def typed(key: str, placeholder, limit: int) -> rx.Component:
        return rx.input(
            value=button[key].to(str),
            on_change=lambda value: TemplateEditorState.set_button(index, key, value),
            placeholder=placeholder,
            max_length=limit,
            size="1",
            flex="1",
            data_testid=f"template-button-{key}",
        )

    return rx.hstack(
        rx.badge(SessionState.tr["templates.button_" + kind].to(str), size="1"),
        rx.cond(kind != "copy_code", typed("text", t("templates.button_text"), 25)),
        rx.cond(kind == "url", typed("url", "https://example.com/order/{{1}}", 2000)),
        rx.cond(kind == "phone", typed("phone", "+5511912345678", 20)),
        rx.cond(
            (kind == "url") | (kind == "copy_code"),
            typed("example", t("templates.example"), 200),
        ),
        rx.icon_button(
            rx.icon("x", size=12),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=TemplateEditorState.remove_button(index),
            aria_label="remove",
        ),
        width="100%",
        align="center",
        spacing="2",
    )


def _draft_preview() -> rx.Component:
    """The draft as a WhatsApp bubble, examples in place of its variables."""
    return rx.vstack(
        rx.text(t("templates.preview"), size="2", weight="medium"),
        rx.box(
            rx.box(
                rx.text(TemplateEditorState.preview, size="2", white_space="pre-wrap"),
                rx.foreach(
                    TemplateEditorState.buttons,
                    lambda b: rx.center(
                        rx.text(
                            rx.cond(
                                b["type"].to(str) == "copy_code",
                                t("templates.button_copy_code"),
                                b["text"].to(str),
                            ),
                            size="2",
                            color=rx.color("accent", 11),
                        ),
                        border_top=f"1px solid {rx.color('gray', 5)}",
                        padding_top="6px",
                        margin_top="6px",
                    ),
                ),
                background=rx.color("gray", 1),
                border_radius="10px",
                padding="10px 12px",
                max_width="100%",
                box_shadow="0 1px 1px rgba(0,0,0,0.08)",
                data_testid="template-draft-preview",
            ),
            background=rx.color("green", 3),
            border_radius="12px",
            padding="16px 12px",
            width="100%",
        ),
        spacing="2",
        flex="1 1 220px",
        min_width="0",
    )


def _editor() -> rx.Component:
    draft = TemplateEditorState
    fields = rx.vstack(
        rx.cond(
            draft.accounts.length() > 1,
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
        _field("templates.name", _text_input("name", draft.name, 512, placeholder="order_update")),
        rx.hstack(
            _field(
                "templates.category",
                _choice(
                    "category",
                    draft.category,
                    [(c, t(f"templates.category_{c}")) for c in rules.CATEGORIES],
                ),
            ),
            _field(
                "templates.language",
                _choice("language", draft.language, [(c, c) for c in rules.LANGUAGES]),
            ),
            width="100%",
        ),
        _field("templates.header", _text_input("header", draft.header, rules.MAX_HEADER)),
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
        _field("templates.footer", _text_input("footer", draft.footer, rules.MAX_FOOTER)),
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
                for kind in BUTTON_KINDS
            ],
            wrap="wrap",
            spacing="2",
        ),
        spacing="3",
        flex="1 1 300px",
        min_width="0",
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("templates.new")),
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
