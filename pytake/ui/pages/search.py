"""Search: messages and contacts the member may see, each result opening its conversation
at the message."""

from __future__ import annotations

import reflex as rx

from pytake.services import inbox, search
from pytake.ui.forms import NARROWING, NarrowingMixin, narrowing_filter, period_inputs
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.session import SessionState, in_transaction, t


class SearchState(NarrowingMixin, GuardedState):
    query: str = ""
    results: list[dict] = []
    people: list[dict] = []
    searched: bool = False
    limit: int = search.PAGE

    @rx.event
    async def load(self):
        self.options = await in_transaction(inbox.options, self._identity())
        self.query = str(self.router.page.params.get("q", ""))[: search.MAX_QUERY]
        self.limit = search.PAGE
        await self._run()

    @rx.event
    async def submit(self, form: dict):
        self.query = str(form.get("q", ""))[: search.MAX_QUERY] if isinstance(form, dict) else ""
        self.limit = search.PAGE
        await self._run()

    @rx.event
    async def more(self):
        self.limit = min(self.limit + search.PAGE, 200)
        await self._run()

    async def _run(self) -> None:
        self.searched = bool(search.words(self.query))
        if not self.searched:
            self.results, self.people = [], []
            return
        identity = self._identity()
        filters = search.Filters(
            **self._narrowing(), since=self._date(self.first), until=self._date(self.last)
        )
        self.results = await in_transaction(
            search.messages, identity, self.query, filters, self.limit
        )
        self.people = await in_transaction(search.contacts, identity, self.query)


def _result(row: rx.Var) -> rx.Component:
    return rx.link(
        card(
            rx.vstack(
                rx.hstack(
                    rx.icon(
                        rx.cond(row["out"].to(bool), "arrow-up-right", "arrow-down-left"), size=14
                    ),
                    rx.text(row["contact"].to(str), weight="bold", size="2"),
                    rx.badge(row["channel"].to(str), variant="soft", color_scheme="gray"),
                    rx.cond(
                        row["sender"].to(str) != "",
                        rx.text(row["sender"].to(str), size="1", color=rx.color("gray", 10)),
                    ),
                    rx.spacer(),
                    rx.text(
                        rx.moment(
                            row["at"].to(str), format="lll", locale=SessionState.moment_locale
                        ),
                        size="1",
                        color=rx.color("gray", 10),
                    ),
                    align="center",
                    width="100%",
                ),
                rx.text(
                    row["before"].to(str),
                    rx.el.mark(row["match"].to(str)),
                    row["after"].to(str),
                    size="2",
                ),
                spacing="1",
                width="100%",
            ),
        ),
        href="/inbox/" + row["conversation_id"].to(str) + "?message=" + row["id"].to(str),
        underline="none",
        color="inherit",
        width="100%",
        data_testid="search-result",
    )


def _person(row: rx.Var) -> rx.Component:
    return rx.link(
        rx.badge(
            rx.icon("user", size=12),
            row["name"].to(str),
            rx.text(row["number"].to(str), size="1", color=rx.color("gray", 10)),
            size="2",
            variant="surface",
        ),
        href="/inbox/" + row["conversation_id"].to(str),
        underline="none",
        data_testid="search-contact",
    )


def search_page() -> rx.Component:
    return shell(
        "nav.search",
        rx.vstack(
            rx.form(
                rx.hstack(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=16)),
                        name="q",
                        default_value=SearchState.query,
                        key=SearchState.query,
                        placeholder=t("search.placeholder"),
                        max_length=search.MAX_QUERY,
                        size="3",
                        flex="1",
                        data_testid="search-input",
                    ),
                    rx.button(t("search.submit"), type="submit", size="3"),
                    width="100%",
                ),
                on_submit=SearchState.submit,
                width="100%",
            ),
            rx.flex(
                *[narrowing_filter(SearchState, key) for key in NARROWING],
                period_inputs(SearchState, "search.since", "search.until"),
                gap="8px",
                wrap="wrap",
                align="center",
            ),
            rx.cond(
                SearchState.people.length() > 0,
                rx.flex(rx.foreach(SearchState.people, _person), gap="6px", wrap="wrap"),
            ),
            rx.cond(
                SearchState.results.length() > 0,
                rx.vstack(
                    rx.foreach(SearchState.results, _result),
                    rx.cond(
                        SearchState.results.length() >= SearchState.limit,
                        rx.button(t("search.more"), variant="soft", on_click=SearchState.more),
                    ),
                    spacing="2",
                    width="100%",
                ),
                rx.cond(
                    SearchState.searched,
                    empty_state("search-x", "search.none_title", "search.none_body"),
                    empty_state("search", "search.start_title", "search.start_body"),
                ),
            ),
            spacing="4",
            width="100%",
        ),
    )
