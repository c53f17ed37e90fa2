"""Inbox and contacts: conversations and customers, as the caller may see them."""

from __future__ import annotations

import reflex as rx
from sqlmodel import Session

from pytake.auth.sessions import Identity
from pytake.realtime import changes, push
from pytake.services import directory, inbox, inbox_updates, scope
from pytake.ui.forms import option_filter
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


def _page_and_counts(
    s: Session, identity: Identity, query: inbox.Query, after, language: str, counted: bool
):
    """The page, and the counts when the worker's picture cannot give them (``_reload``)."""
    page = inbox.page(s, identity, query, after=after, language=language)
    return page, inbox.counts(s, identity, query.status) if counted else None


def _options_and_scope(s: Session, identity: Identity):
    return inbox.options(s, identity), scope.scope_of(s, identity)


class InboxState(GuardedState):
    """One page of one view of the inbox; the rest stays in the database."""

    view: str = "all"
    status: str = "open"
    filters: dict[str, int] = {}
    rows: list[dict] = []
    counts: dict[str, int] = {}
    options: dict[str, list[dict]] = {}
    page_number: int = 1
    has_next: bool = False
    _cursors: list = []  # where each page shown so far starts; None for the first
    _next: tuple | None = None  # where the page after this one starts
    _applied: int = 0  # the number of the last update this tab applied (``push.take``)
    _language: str = "en"  # the member's, read with the page

    @rx.event
    async def load(self):
        identity = self._identity()
        self.options, seen_by = await in_transaction(_options_and_scope, identity)
        await push.watch(
            self.router.session.client_token,
            (push.INBOX, identity.organization_id),
            identity.organization_id,
            identity.user_id,
            seen_by,
        )
        self._applied = 0
        await self._first_page()

    async def _first_page(self) -> None:
        self._cursors, self.page_number = [None], 1
        await self._reload()

    def _query(self) -> inbox.Query:
        return inbox.Query.of(self.view, self.status, self.filters)

    async def _reload(self) -> None:
        """Read the page; the counts come from the worker's picture (``realtime.changes``)
        and the updates that arrived meanwhile are applied to the rows read."""
        identity, token = self._identity(), self.router.session.client_token
        language = self._language = (await self.get_state(SessionState)).language
        query = self._query()
        after = self._cursors[-1] if self._cursors else None
        counted = query.status == inbox_updates.RESOLVED or push.scope(token) is None
        (rows, following), counts = await in_transaction(
            _page_and_counts, identity, query, after, language, counted
        )
        # Nothing awaited from here on: what the picture holds and what waits for this tab
        # are one consistent moment (see push._relay).
        seen_by = push.scope(token)
        if seen_by is not None:
            first = len(self._cursors) < 2
            page = inbox_updates.Page(query, rows, following is not None, first, {})
            page.counts = counts or inbox_updates.counted(
                seen_by, query.status, changes.unresolved(identity.organization_id)
            )
            taken = push.take(token, self._applied)
            self._applied = taken.last
            for update in taken.updates:
                inbox_updates.apply(page, seen_by, language, update.change, count=False)
            rows, counts = page.rows, page.counts
            following = inbox_updates.cursor(rows) if page.has_next else None
        self.rows, self.counts = rows, counts or {}
        self.has_next = following is not None
        self._next = following

    async def _take_updates(self, token: str) -> None:
        """Run by the server in this tab's state (``realtime.push``, ``ui.tabs``): the
        changes waiting for it, each moving one row and the counts."""
        taken = push.take(token, self._applied)
        if not push.watching(token):
            return
        seen_by = push.scope(token)
        if seen_by is None:  # the organization's roles, teams or rule changed
            seen_by = await in_transaction(scope.scope_of, self._identity())
            push.rescope(token, seen_by)
            await self._reload()
            return
        if taken.resync:
            await self._reload()  # missed some: read the page again
            return
        self._applied, updates = taken.last, taken.updates
        if not updates:
            return
        language = self._language  # as the page was read: no other state loaded per delta
        query = self._query()
        # The plain values, not Reflex's change-tracking wrappers (one per row read): this
        # runs for every change a tab shows; assigning the results below marks them changed.
        counts = self.get_value("counts")
        page = inbox_updates.Page(
            query, list(self.get_value("rows")), self.has_next, self.page_number == 1, dict(counts)
        )
        shown = False
        for update in updates:
            shown |= inbox_updates.apply(page, seen_by, language, update.change)
        if any(inbox_updates.recount_needed(query, u.change) for u in updates):
            page.counts = await in_transaction(inbox.counts, self._identity(), query.status)
        if shown or page.counts != counts:
            self.rows, self.counts, self.has_next = page.rows, page.counts, page.has_next
            self._next = inbox_updates.cursor(page.rows) if page.has_next else None

    @rx.var
    def chosen(self) -> dict[str, str]:
        """Each filter's chosen value as its select box holds it ("" for none)."""
        return {key: str(self.filters.get(key, "")) for key in inbox.FILTERS}

    @rx.var
    def title_prefix(self) -> str:
        """ "(3) " in the tab's title while three open conversations have unread messages."""
        unread = self.counts.get("unread", 0)
        return f"({unread}) " if unread else ""

    @rx.event
    async def set_view(self, view: str | list[str]):
        if isinstance(view, str) and view in inbox.VIEWS:
            self.view = view
            await self._first_page()

    @rx.event
    async def set_status(self, status: str | list[str]):
        if isinstance(status, str) and status in STATUSES:
            self.status = status
            await self._first_page()

    @rx.event
    async def set_filter(self, key: str, value: str):
        """``value`` is an id from the options, or "any"; the service re-checks both."""
        if key not in inbox.FILTERS or not isinstance(value, str):
            return
        filters = {k: v for k, v in self.filters.items() if k != key}
        if value.isdigit() and len(value) < 19:
            filters[key] = int(value)
        self.filters = filters
        await self._first_page()

    @rx.event
    async def clear_filters(self):
        self.filters = {}
        await self._first_page()

    @rx.event
    async def next_page(self):
        if self.has_next and self._next is not None:
            self._cursors = [*self._cursors, self._next]
            self.page_number += 1
            await self._reload()

    @rx.event
    async def previous_page(self):
        if len(self._cursors) > 1:
            self._cursors = self._cursors[:-1]
            self.page_number -= 1
            await self._reload()


def _conversation_row(row: rx.Var) -> rx.Component:
    return rx.link(
        _conversation_summary(row),
        href="/inbox/" + row["id"].to(str),
        underline="none",
        color="inherit",
        data_testid="conversation-row",
        _focus_visible={"outline": f"2px solid {rx.color('accent', 8)}", "outline_offset": "-2px"},
        display="block",
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
        rx.avatar(fallback=row["initials"].to(str), size="3", radius="full"),
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
            rx.hstack(
                rx.text(row["channel"], size="1", color=rx.color("gray", 10)),
                rx.cond(
                    row["team"].to(str) != "",
                    rx.badge(rx.icon("users", size=10), row["team"], variant="outline", size="1"),
                ),
                rx.foreach(
                    row["labels"].to(list[dict]),
                    lambda label: rx.badge(
                        label["name"],
                        color_scheme=label["color"].to(str),
                        variant="soft",
                        size="1",
                        data_testid="row-label",
                    ),
                ),
                spacing="1",
                align="center",
                wrap="wrap",
            ),
            spacing="1",
            min_width="0",
            flex="1",
        ),
        rx.vstack(
            rx.hstack(
                _when(row["last_activity"].to(str)),
                rx.cond(
                    row["assignee"].to(str) != "",
                    rx.tooltip(
                        rx.avatar(
                            fallback=row["assignee"].to(str)[:2],
                            size="1",
                            radius="full",
                            color_scheme="gray",
                            data_testid="row-assignee",
                        ),
                        content=row["assignee"].to(str),
                    ),
                ),
                spacing="2",
                align="center",
            ),
            rx.hstack(
                rx.cond(
                    row["bot"].to(bool),
                    rx.tooltip(
                        rx.icon("bot", size=16, color=rx.color("accent", 10)),
                        content=t("flows.row_bot"),
                    ),
                ),
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


def _filter(key: str) -> rx.Component:
    current = InboxState.chosen[key].to(str)
    return option_filter(
        key,
        current,
        InboxState.options.get(key, []),
        lambda value: InboxState.set_filter(key, value),
        size="1",
        variant=rx.cond(current != "", "soft", "surface"),
        data_testid=f"filter-{key}",
    )


def _view_tab(view: str) -> rx.Component:
    return rx.tabs.trigger(
        rx.hstack(
            rx.text(t(f"inbox.view_{view}")),
            rx.badge(
                InboxState.counts.get(view, 0).to(str),
                variant="soft",
                radius="full",
                size="1",
                color_scheme="gray",
            ),
            spacing="2",
            align="center",
        ),
        value=view,
        data_testid=f"view-{view}",
    )


def _page_button(icon: str, disabled: rx.Var, on_click, testid: str) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon, size=16),
        variant="soft",
        color_scheme="gray",
        size="1",
        disabled=disabled,
        on_click=on_click,
        aria_label=testid,
        data_testid=testid,
    )


def _pager() -> rx.Component:
    return rx.hstack(
        _page_button(
            "chevron-left", InboxState.page_number <= 1, InboxState.previous_page, "page-previous"
        ),
        rx.text(t("inbox.page"), " ", InboxState.page_number, size="1", color=rx.color("gray", 11)),
        _page_button("chevron-right", ~InboxState.has_next, InboxState.next_page, "page-next"),
        spacing="2",
        align="center",
        justify="end",
        width="100%",
    )


def inbox_page() -> rx.Component:
    return shell(
        "nav.inbox",
        rx.vstack(
            rx.box(  # scrolls sideways on a phone rather than cutting a view off
                rx.tabs.root(
                    rx.tabs.list(*[_view_tab(view) for view in inbox.VIEWS], size="2"),
                    value=InboxState.view,
                    on_change=InboxState.set_view,
                ),
                overflow_x="auto",
                max_width="100%",
            ),
            rx.flex(
                rx.box(
                    rx.segmented_control.root(
                        *[rx.segmented_control.item(t(f"status.{s}"), value=s) for s in STATUSES],
                        value=InboxState.status,
                        on_change=InboxState.set_status,
                        size="1",
                    ),
                    overflow_x="auto",
                    max_width="100%",
                ),
                rx.spacer(),
                rx.hstack(
                    _filter("channel"),
                    _filter("team"),
                    _filter("label"),
                    _filter("assignee"),
                    rx.cond(
                        InboxState.filters.length() > 0,
                        rx.button(
                            rx.icon("x", size=14),
                            t("inbox.clear_filters"),
                            variant="ghost",
                            size="1",
                            on_click=InboxState.clear_filters,
                            data_testid="clear-filters",
                        ),
                    ),
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                gap="8px",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            rx.cond(
                InboxState.rows.length() > 0,
                rx.vstack(
                    card(rx.foreach(InboxState.rows, _conversation_row), padding="0"),
                    rx.cond((InboxState.page_number > 1) | InboxState.has_next, _pager()),
                    width="100%",
                    spacing="2",
                ),
                empty_state("inbox", "inbox.empty_title", "inbox.empty_body"),
            ),
            spacing="3",
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
