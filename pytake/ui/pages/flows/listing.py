"""The organization's flows, and the form that creates one (which then opens in the
builder)."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.services import flows
from pytake.ui.forms import error_callout
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.session import SessionState, in_transaction, t, translated


@access(min_role=Role.ADMIN)
class FlowsState(GuardedState):
    rows: list[dict] = []
    problem: str = ""

    @rx.event
    async def load(self):
        self.rows = await in_transaction(flows.listing, self._identity())

    @rx.event
    async def create(self, form: dict):
        try:
            flow = await in_transaction(flows.create, self._identity(), form.get("name"))
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return None
        self.problem = ""
        return rx.redirect(f"/flows/{flow.id}")


def _flow_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row["name"], href="/flows/" + row["id"].to(str), weight="medium"),
        ),
        rx.table.cell(SessionState.tr["flows.trigger." + row["trigger"].to(str)].to(str)),
        rx.table.cell(
            rx.cond(
                row["version"].to(int) > 0,
                rx.badge("v" + row["version"].to(str), variant="soft"),
                rx.badge(t("flows.draft"), color_scheme="gray", variant="soft"),
            )
        ),
        rx.table.cell(
            rx.cond(
                row["active"].to(bool),
                rx.badge(t("flows.active"), color_scheme="green"),
                rx.badge(t("flows.inactive"), color_scheme="gray"),
            )
        ),
        rx.table.cell(row["running"].to(str)),
        rx.table.cell(row["priority"].to(str)),
        data_testid="flow-row",
    )


def flows_page() -> rx.Component:
    return shell(
        "nav.flows",
        rx.vstack(
            rx.text(t("flows.intro"), size="2", color=rx.color("gray", 11)),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="name",
                        placeholder=t("flows.new_name"),
                        max_length=flows.MAX_NAME,
                        required=True,
                        width="280px",
                        data_testid="flow-new-name",
                    ),
                    rx.button(
                        rx.icon("plus", size=14),
                        t("flows.create"),
                        type="submit",
                        data_testid="flow-create",
                    ),
                ),
                on_submit=FlowsState.create,
            ),
            error_callout(FlowsState.problem),
            rx.cond(
                FlowsState.rows.length() > 0,
                card(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(t(f"flows.column.{c}"))
                                    for c in (
                                        "name",
                                        "trigger",
                                        "version",
                                        "state",
                                        "running",
                                        "priority",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(FlowsState.rows, _flow_row)),
                        width="100%",
                    )
                ),
                empty_state("bot", "flows.empty_title", "flows.empty_body"),
            ),
            spacing="4",
            width="100%",
        ),
    )
