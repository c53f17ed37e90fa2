"""Inbox, contacts, templates and dashboard: the organization's data, as the caller may see it."""

from __future__ import annotations

import reflex as rx

from pytake.realtime import push
from pytake.services import directory
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.session import SessionState, in_transaction, t

STATUSES = ["open", "pending", "snoozed", "resolved"]


def _when(value: rx.Var) -> rx.Component:
    return rx.cond(
        value != "",
        rx.moment(
            value,
            from_now=True,
            locale=SessionState.moment_locale,
            font_size="12px",
            color=rx.color("gray", 10),
        ),
        rx.text("—", size="1", color=rx.color("gray", 10)),
    )


class InboxState(GuardedState):
    status: str = "open"
    rows: list[dict] = []

    @rx.event
    async def load(self):
        identity = self._identity()
        push.watch(self.router.session.client_token, (push.INBOX, identity.organization_id))
        await self._reload()

    async def _reload(self) -> None:
        language = (await self.get_state(SessionState)).language
        self.rows = await in_transaction(
            directory.conversations, self._identity(), status=self.status, language=language
        )

    @rx.event
    async def on_changed(self, conversation_id: int):
        """Pushed by the server when a conversation of this organization changed."""
        await self._reload()

    @rx.event
    async def set_status(self, status: str | list[str]):
        if not isinstance(status, str) or status not in STATUSES:
            return
        self.status = status
        await self._reload()


def _conversation_row(row: rx.Var) -> rx.Component:
    return rx.link(
        _conversation_summary(row),
        href="/inbox/" + row["id"].to(str),
        underline="none",
        color="inherit",
        data_testid="conversation-row",
    )


def window_badge(expires: rx.Var, open_: rx.Var) -> rx.Component:
    """Open with the time it closes ("closes in 3 hours"), or closed."""
    return rx.cond(
        open_,
        rx.badge(
            rx.icon("clock", size=12),
            rx.el.span(
                t("inbox.window_closes"),
                " ",
                rx.moment(expires, from_now=True, locale=SessionState.moment_locale),
            ),
            color_scheme="green",
            variant="soft",
            gap="4px",
            data_testid="window-open",
        ),
        rx.badge(
            rx.icon("lock", size=12),
            t("inbox.window_closed"),
            color_scheme="gray",
            variant="soft",
            gap="4px",
            data_testid="window-closed",
        ),
    )


def _conversation_summary(row: rx.Var) -> rx.Component:
    unread = row["unread"].to(int) > 0
    return rx.hstack(
        rx.avatar(fallback=row["contact"].to(str)[:1], size="3", radius="full"),
        rx.vstack(
            rx.hstack(
                rx.text(row["contact"], weight="bold", size="2"),
                rx.text(row["number"], size="1", color=rx.color("gray", 10)),
                align="baseline",
                spacing="2",
            ),
            rx.hstack(
                rx.cond(
                    row["preview_out"].to(bool),
                    rx.icon("check", size=14, color=rx.color("gray", 10), flex_shrink="0"),
                ),
                rx.text(
                    row["preview"],
                    size="2",
                    color=rx.cond(unread, rx.color("gray", 12), rx.color("gray", 11)),
                    weight=rx.cond(unread, "medium", "regular"),
                    white_space="nowrap",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    data_testid="row-preview",
                ),
                align="center",
                spacing="1",
                max_width="100%",
                overflow="hidden",
            ),
            rx.text(row["channel"], size="1", color=rx.color("gray", 10)),
            spacing="1",
            min_width="0",
            flex="1",
        ),
        rx.vstack(
            _when(row["last_activity"].to(str)),
            rx.hstack(
                window_badge(row["window_expires_at"].to(str), row["window_open"].to(bool)),
                rx.cond(
                    unread,
                    rx.badge(
                        row["unread"],
                        variant="solid",
                        radius="full",
                        data_testid="unread",
                    ),
                ),
                spacing="2",
                align="center",
            ),
            align="end",
            spacing="1",
            flex_shrink="0",
        ),
        align="center",
        spacing="3",
        padding="12px 16px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        _hover={"background": rx.color("gray", 2)},
    )


def inbox_page() -> rx.Component:
    return shell(
        "nav.inbox",
        rx.vstack(
            rx.box(  # scrolls sideways on a phone rather than cutting a status off
                rx.segmented_control.root(
                    *[rx.segmented_control.item(t(f"status.{s}"), value=s) for s in STATUSES],
                    value=InboxState.status,
                    on_change=InboxState.set_status,
                    size=rx.breakpoints(initial="1", sm="2"),
                ),
                overflow_x="auto",
                max_width="100%",
            ),
            rx.cond(
                InboxState.rows.length() > 0,
                card(rx.foreach(InboxState.rows, _conversation_row), padding="0"),
                empty_state("inbox", "inbox.empty_title", "inbox.empty_body"),
            ),
            spacing="4",
            width="100%",
        ),
    )


class ContactsState(GuardedState):
    search: str = ""
    rows: list[dict] = []

    @rx.event
    async def load(self):
        self.rows = await in_transaction(directory.contacts, self._identity(), search=self.search)

    @rx.event(debounce=300)
    async def set_search(self, value: str):
        self.search = value[:100] if isinstance(value, str) else ""
        await self.load()


def contacts_page() -> rx.Component:
    header = rx.table.header(
        rx.table.row(
            rx.table.column_header_cell(t("contacts.name")),
            rx.table.column_header_cell(t("contacts.number")),
            rx.table.column_header_cell(t("contacts.username")),
            rx.table.column_header_cell(t("contacts.created")),
        )
    )
    return shell(
        "nav.contacts",
        rx.vstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder=t("contacts.search"),
                value=ContactsState.search,
                on_change=ContactsState.set_search,
                width="100%",
                max_width="420px",
                size="3",
            ),
            rx.cond(
                ContactsState.rows.length() > 0,
                card(
                    rx.table.root(
                        header,
                        rx.table.body(
                            rx.foreach(
                                ContactsState.rows,
                                lambda row: rx.table.row(
                                    rx.table.cell(row["name"]),
                                    rx.table.cell(row["number"]),
                                    rx.table.cell(row["username"]),
                                    rx.table.cell(_when(row["created_at"].to(str))),
                                ),
                            )
                        ),
                        width="100%",
                    )
                ),
                empty_state("contact", "contacts.empty_title", "contacts.empty_body"),
            ),
            spacing="4",
            width="100%",
        ),
    )


class TemplatesState(GuardedState):
    rows: list[dict] = []

    @rx.event
    async def load(self):
        self.rows = await in_transaction(directory.templates, self._identity())


def templates_page() -> rx.Component:
    return shell(
        "nav.templates",
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
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            TemplatesState.rows,
                            lambda row: rx.table.row(
                                rx.table.cell(rx.code(row["name"])),
                                rx.table.cell(row["language"]),
                                rx.table.cell(row["category"]),
                                rx.table.cell(rx.badge(row["status"])),
                            ),
                        )
                    ),
                    width="100%",
                )
            ),
            empty_state("file-text", "templates.empty_title", "templates.empty_body"),
        ),
    )


class DashboardState(GuardedState):
    counts: dict[str, int] = {}

    @rx.event
    async def load(self):
        self.counts = await in_transaction(directory.dashboard, self._identity())


def _stat(key: str, icon: str) -> rx.Component:
    return card(
        rx.hstack(
            rx.center(
                rx.icon(icon, size=20, color=rx.color("accent", 11)),
                background=rx.color("accent", 3),
                border_radius="10px",
                width="40px",
                height="40px",
            ),
            rx.vstack(
                rx.text(t(f"dashboard.{key}"), size="2", color=rx.color("gray", 11)),
                rx.heading(DashboardState.counts.get(key, 0), size="7", data_testid=f"stat-{key}"),
                spacing="0",
            ),
            align="center",
            spacing="4",
        )
    )


def dashboard_page() -> rx.Component:
    return shell(
        "nav.dashboard",
        rx.grid(
            _stat("open", "message-circle"),
            _stat("pending", "clock"),
            _stat("unassigned", "user-x"),
            _stat("messages_today", "messages-square"),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
    )
