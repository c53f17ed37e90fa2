"""Reports for supervisors: a period and filters, the headline numbers, agents, busiest hours
and template sends; every table downloads as CSV."""

from __future__ import annotations

import datetime as dt

import reflex as rx

from pytake import spreadsheet
from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.services import inbox, reports
from pytake.ui.forms import (
    NARROWING,
    NarrowingMixin,
    error_callout,
    narrowing_filter,
    period_inputs,
)
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, shell
from pytake.ui.numbers import duration
from pytake.ui.session import SessionState, in_transaction, t, translated

DEFAULT_DAYS = 7
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@access(min_role=Role.SUPERVISOR)
class ReportsState(NarrowingMixin, GuardedState):
    numbers: dict[str, str] = {}
    agents: list[dict] = []
    heat: list[dict] = []  # one per weekday: {"day", "cells": [{"hour", "count", "level"}]}
    templates: list[dict] = []
    comments: list[dict] = []
    problem: str = ""
    business: bool = False  # response and resolution times within business hours only
    _grid: list[list[int]] = []

    @rx.event
    async def set_business(self, value: bool):
        self.business = value is True
        await self._run()

    @rx.event
    async def load(self):
        today = dt.date.today()
        self.first = self.first or (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        self.last = self.last or today.isoformat()
        self.options = await in_transaction(inbox.options, self._identity())
        await self._run()

    def _period(self) -> reports.Period | None:
        first, last = self._date(self.first), self._date(self.last)
        return reports.Period(first, last) if first and last else None

    async def _run(self) -> None:
        period = self._period()
        if period is None:
            self.problem = await translated(self, "reports.bad_date")
            return
        identity, filters = self._identity(), reports.Filters(**self._narrowing())
        try:
            found = await in_transaction(
                reports.summary, identity, period, filters, business=self.business
            )
            self.agents = await in_transaction(reports.agents, identity, period, filters)
            self._grid = await in_transaction(reports.busiest_hours, identity, period, filters)
            self.templates = [
                {
                    **row,
                    "errors": ", ".join(
                        f"{code} \u00d7 {n}" for code, n in sorted(row["errors"].items())
                    ),
                }
                for row in await in_transaction(reports.template_sends, identity, period, filters)
            ]
            self.comments = await in_transaction(reports.comments, identity, period, filters)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.problem = ""
        self.numbers = {
            "opened": str(found["opened"]),
            "resolved": str(found["resolved"]),
            "messages_in": str(found["messages_in"]),
            "messages_out": str(found["messages_out"]),
            "frt_median": duration(found["first_response"]["median"]),
            "frt_p90": duration(found["first_response"]["p90"]),
            "resolution_median": duration(found["resolution"]["median"]),
            "resolution_p90": duration(found["resolution"]["p90"]),
            "csat": _rating(found["csat"]),
        }
        self.heat = _heat(self._grid)

    @rx.event
    async def download(self, table: str):
        """A table as CSV, in the language of the page."""
        session = await self.get_state(SessionState)
        text = session._text
        if table == "agents":
            header = [
                text("reports.agent"),
                text("reports.resolved"),
                text("reports.sent"),
                text("reports.open_now"),
            ]
            rows = [[a["name"], a["resolved"], a["messages"], a["open"]] for a in self.agents]
        elif table == "templates":
            header = [
                text("reports.template"),
                text("reports.sent"),
                text("reports.failed"),
                text("reports.errors"),
            ]
            rows = [[r["template"], r["sent"], r["failed"], r["errors"]] for r in self.templates]
        elif table == "comments":
            header = [text("reports.customer"), text("reports.rating"), text("reports.comment")]
            rows = [[c["customer"], c["score"], c["comment"]] for c in self.comments]
        elif table == "hours":
            header = [text("reports.weekday"), *[f"{h:02d}" for h in range(24)]]
            rows = [
                [text(f"reports.day.{WEEKDAYS[d]}"), *self._grid[d]] for d in range(len(self._grid))
            ]
        elif table == "summary":
            header = [text("reports.metric"), text("reports.value")]
            rows = [[text(f"reports.{key}"), value] for key, value in self.numbers.items()]
        else:
            return None
        return rx.download(
            data=spreadsheet.csv_text(header, rows),
            filename=f"pytake-{table}-{self.first}-{self.last}.csv",
        )


def _rating(found: dict) -> str:
    """4.6 / 5 (12): the average rating and how many customers gave one."""
    if not found["count"]:
        return "—"
    return f"{found['average']:.1f} / 5 ({found['count']})"


def _heat(grid: list[list[int]]) -> list[dict]:
    """Each cell's share of the busiest hour, in five steps (0: none)."""
    top = max((count for row in grid for count in row), default=0)
    return [
        {
            "day": WEEKDAYS[day],
            "cells": [
                {
                    "hour": hour,
                    "count": count,
                    "level": 0 if not count else 1 + (4 * count - 1) // top,
                }
                for hour, count in enumerate(row)
            ],
        }
        for day, row in enumerate(grid)
    ]


def _number(key: str) -> rx.Component:
    return card(
        rx.vstack(
            rx.text(t(f"reports.{key}"), size="2", color=rx.color("gray", 11)),
            rx.heading(ReportsState.numbers.get(key, "—"), size="6", data_testid=f"report-{key}"),
            spacing="1",
        )
    )


def _csv_button(table: str) -> rx.Component:
    return rx.button(
        rx.icon("download", size=14),
        "CSV",
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=ReportsState.download(table),
        data_testid=f"csv-{table}",
    )


def _section(title_key: str, table: str, *content: rx.Component) -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.text(t(title_key), weight="medium"),
                rx.spacer(),
                _csv_button(table),
                width="100%",
            ),
            *content,
            spacing="3",
            width="100%",
        )
    )


def _table(headers: list[str], rows: rx.Var, cells) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(t(h)) for h in headers])),
        rx.table.body(
            rx.foreach(rows, lambda row: rx.table.row(*[rx.table.cell(c) for c in cells(row)]))
        ),
        width="100%",
        size="1",
    )


HEAT_COLORS = ("transparent", "#d8f3ee", "#a7e3d8", "#5cc2b1", "#128C7E")


def _heatmap() -> rx.Component:
    def cell(item: rx.Var) -> rx.Component:
        level = item["level"].to(int)
        return rx.box(
            title=item["count"].to(str),
            background=rx.match(
                level, *[(n, color) for n, color in enumerate(HEAT_COLORS)], "transparent"
            ),
            border=f"1px solid {rx.color('gray', 4)}",
            border_radius="3px",
            height="18px",
            flex="1",
        )

    def day(row: rx.Var) -> rx.Component:
        return rx.hstack(
            rx.text(SessionState.tr["reports.day." + row["day"].to(str)], size="1", width="36px"),
            rx.foreach(row["cells"].to(list[dict]), cell),
            spacing="1",
            width="100%",
            align="center",
        )

    return rx.vstack(
        rx.foreach(ReportsState.heat, day),
        rx.hstack(
            rx.box(width="36px"),
            *[
                rx.text(f"{h:02d}", size="1", flex="1", color=rx.color("gray", 10))
                for h in range(0, 24, 3)
            ],
            width="100%",
        ),
        spacing="1",
        width="100%",
        data_testid="heatmap",
    )


def reports_page() -> rx.Component:
    return shell(
        "nav.reports",
        rx.vstack(
            rx.flex(
                period_inputs(ReportsState, "reports.from", "reports.to"),
                *[narrowing_filter(ReportsState, key) for key in NARROWING],
                gap="8px",
                wrap="wrap",
                align="center",
            ),
            error_callout(ReportsState.problem),
            rx.hstack(
                rx.text(t("reports.business_hours"), as_="label", size="2"),
                rx.switch(
                    checked=ReportsState.business,
                    on_change=ReportsState.set_business,
                    data_testid="reports-business-hours",
                ),
                rx.text(t("reports.business_hours_hint"), size="1", color=rx.color("gray", 10)),
                rx.spacer(),
                _csv_button("summary"),
                width="100%",
                align="center",
            ),
            rx.grid(
                *[
                    _number(key)
                    for key in ("opened", "resolved", "messages_in", "messages_out", "csat")
                ],
                columns=rx.breakpoints(initial="2", lg="5"),
                spacing="3",
                width="100%",
            ),
            rx.grid(
                *[
                    _number(key)
                    for key in ("frt_median", "frt_p90", "resolution_median", "resolution_p90")
                ],
                columns=rx.breakpoints(initial="2", lg="4"),
                spacing="3",
                width="100%",
            ),
            rx.grid(
                _section(
                    "reports.agents",
                    "agents",
                    _table(
                        ["reports.agent", "reports.resolved", "reports.sent", "reports.open_now"],
                        ReportsState.agents,
                        lambda r: [
                            r["name"].to(str),
                            r["resolved"].to(str),
                            r["messages"].to(str),
                            r["open"].to(str),
                        ],
                    ),
                ),
                _section("reports.busiest_hours", "hours", _heatmap()),
                columns=rx.breakpoints(initial="1", lg="2"),
                spacing="4",
                width="100%",
            ),
            _section(
                "reports.templates",
                "templates",
                _table(
                    ["reports.template", "reports.sent", "reports.failed", "reports.errors"],
                    ReportsState.templates,
                    lambda r: [
                        r["template"].to(str),
                        r["sent"].to(str),
                        r["failed"].to(str),
                        r["errors"].to(str),
                    ],
                ),
            ),
            _section(
                "reports.comments",
                "comments",
                rx.cond(
                    ReportsState.comments.length() > 0,
                    _table(
                        ["reports.customer", "reports.rating", "reports.comment"],
                        ReportsState.comments,
                        lambda c: [
                            rx.link(
                                c["customer"].to(str),
                                href="/inbox/" + c["conversation"].to(str),
                            ),
                            "★ " + c["score"].to(str),
                            rx.text(c["comment"].to(str), white_space="pre-wrap"),
                        ],
                    ),
                    rx.text(t("reports.no_comments"), size="2", color=rx.color("gray", 10)),
                ),
            ),
            spacing="4",
            width="100%",
        ),
    )
