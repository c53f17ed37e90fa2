"""The live dashboard: conversations now, waiting customers, who is online and how loaded,
and today's new conversations by hour. Each board is worked out once per web worker
after its organization's changes and every few seconds (presence and waiting times move on
their own), and handed to the tabs showing it (``realtime.dashboards``)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from pytake.models import utcnow
from pytake.realtime import dashboards, presence, push
from pytake.services import dashboard
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, icon_tile, shell
from pytake.ui.numbers import duration
from pytake.ui.session import SessionState, in_transaction, t


class DashboardState(GuardedState):
    counts: dict[str, int] = {}
    longest_wait: str = ""
    agents: list[dict] = []
    hours: list[dict] = []

    @rx.event
    async def load(self):
        identity = self._identity()
        token = self.router.session.client_token
        await push.watch(
            token,
            (push.DASHBOARD, identity.organization_id),
            identity.organization_id,
            identity.user_id,
        )
        board = dashboard.Board.of(identity)
        found = dashboards.show(token, board)
        if found is None:  # the first tab of this board here: worked out now, then shared
            online = await presence.online(identity.organization_id)
            found = dashboards.show(
                token, board, await in_transaction(dashboard.overview, board, online, utcnow())
            )
        self._show(found)

    @rx.event
    async def on_changed(self):
        """Pushed by the server (``realtime.dashboards``): the board this tab's member sees,
        as this worker last worked it out. A client calling it only gets that again."""
        board = dashboard.Board.of(self._identity())
        found = dashboards.take(self.router.session.client_token, board)
        if found is not None:
            self._show(found)

    def _show(self, found: dashboard.Overview) -> None:
        self.counts = {
            "open": found.open,
            "pending": found.pending,
            "unassigned": found.unassigned,
            "waiting": found.waiting,
        }
        self.longest_wait = duration(found.longest_wait_seconds) if found.waiting else ""
        self.agents = [dataclasses.asdict(load) for load in found.agents]
        self.hours = [dataclasses.asdict(hour) for hour in found.hours]


def _stat(key: str, icon: str, note: rx.Component | None = None) -> rx.Component:
    return card(
        rx.hstack(
            icon_tile(icon),
            rx.vstack(
                rx.text(t(f"dashboard.{key}"), size="2", color=rx.color("gray", 11)),
                rx.heading(DashboardState.counts.get(key, 0), size="7", data_testid=f"stat-{key}"),
                note or rx.fragment(),
                spacing="0",
            ),
            align="center",
            spacing="4",
        )
    )


def _agent(row: rx.Var) -> rx.Component:
    capacity = row["capacity"].to(int)
    load = row["open"].to(int)
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.box(
                    width="8px",
                    height="8px",
                    border_radius="50%",
                    background=rx.cond(row["online"].to(bool), "#22c55e", rx.color("gray", 7)),
                ),
                rx.text(row["name"].to(str)),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(
            rx.cond(row["online"].to(bool), t("dashboard.online"), t("dashboard.offline")),
            color=rx.color("gray", 11),
        ),
        rx.table.cell(
            rx.hstack(
                rx.text(
                    load.to(str) + rx.cond(capacity > 0, " / " + capacity.to(str), ""),
                    data_testid="agent-load",
                ),
                rx.cond(
                    capacity > 0,
                    rx.progress(
                        value=rx.cond(load >= capacity, 100, (load * 100) // capacity),
                        color_scheme=rx.cond(load >= capacity, "red", "teal"),
                        width="80px",
                    ),
                ),
                align="center",
                spacing="3",
            )
        ),
        data_testid="agent-row",
    )


def _hours_chart() -> rx.Component:
    return card(
        rx.vstack(
            rx.text(t("dashboard.per_hour"), weight="medium"),
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
                rx.recharts.x_axis(data_key="hour"),
                rx.recharts.y_axis(allow_decimals=False, width=32),
                rx.recharts.tooltip(),
                rx.recharts.bar(
                    data_key="conversations",
                    fill="#128C7E",
                    radius=[4, 4, 0, 0],
                    name=SessionState.tr["dashboard.conversations"],
                ),
                data=DashboardState.hours,
                height=240,
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        data_testid="hours-chart",
    )


def dashboard_page() -> rx.Component:
    return shell(
        "nav.dashboard",
        rx.vstack(
            rx.grid(
                _stat("open", "message-circle"),
                _stat("pending", "clock"),
                _stat("unassigned", "user-x"),
                _stat(
                    "waiting",
                    "hourglass",
                    rx.cond(
                        DashboardState.longest_wait != "",
                        rx.text(
                            t("dashboard.longest_wait") + " " + DashboardState.longest_wait,
                            size="1",
                            color=rx.color("amber", 11),
                            data_testid="longest-wait",
                        ),
                    ),
                ),
                columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                spacing="4",
                width="100%",
            ),
            rx.grid(
                _hours_chart(),
                card(
                    rx.vstack(
                        rx.text(t("dashboard.agents"), weight="medium"),
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    rx.table.column_header_cell(t("dashboard.agent")),
                                    rx.table.column_header_cell(t("dashboard.presence")),
                                    rx.table.column_header_cell(t("dashboard.load")),
                                )
                            ),
                            rx.table.body(rx.foreach(DashboardState.agents, _agent)),
                            width="100%",
                        ),
                        spacing="2",
                        width="100%",
                    )
                ),
                columns=rx.breakpoints(initial="1", lg="2"),
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
    )
