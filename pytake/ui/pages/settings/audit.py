"""The audit log: who changed what and when, filtered, newest first."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.services import audit, directory
from pytake.ui.forms import error_callout
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state
from pytake.ui.pages.settings.frame import labelled, settings_frame
from pytake.ui.session import SessionState, in_transaction, t, translated

ANY = "any"  # a select item cannot have an empty value


@access(min_role=Role.ADMIN)
class AuditState(GuardedState):
    rows: list[dict] = []
    more: bool = False
    actions: list[str] = []
    people: list[dict] = []
    filters: dict[str, str] = {"action": ANY, "actor": ANY, "since": "", "until": ""}
    problem: str = ""

    @rx.event
    async def load(self):
        identity = self._identity()
        self.actions = await in_transaction(audit.action_names, identity)
        members = await in_transaction(directory.members, identity.organization_id)
        self.people = [{"value": str(m["id"]), "name": m["name"]} for m in members]
        await self._read(None)

    def _query(self) -> dict:
        return {k: ("" if v == ANY else v) for k, v in self.filters.items()}

    async def _read(self, before_id: int | None) -> None:
        try:
            page = await in_transaction(
                audit.listing, self._identity(), self._query(), before_id=before_id
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.problem = ""
        self.rows = page["rows"] if before_id is None else self.rows + page["rows"]
        self.more = page["more"]

    @rx.event
    async def narrow(self, field: str, value: str):
        if field in self.filters and isinstance(value, str):
            self.filters = {**self.filters, field: value[:60]}
            await self._read(None)

    @rx.event
    async def older(self):
        if self.rows:
            await self._read(self.rows[-1]["id"])


def _select(field: str, items: rx.Component, width: str = "220px") -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width=width),
        rx.select.content(rx.select.item(t("audit.any"), value=ANY), items),
        value=AuditState.filters[field],
        on_change=lambda value: AuditState.narrow(field, value),
    )


def _date(field: str) -> rx.Component:
    return rx.input(
        type="date",
        value=AuditState.filters[field],
        on_change=lambda value: AuditState.narrow(field, value),
        data_testid=f"audit-{field}",
    )


def _row(entry: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.moment(
                entry["at"],
                format="YYYY-MM-DD HH:mm:ss",
                locale=SessionState.moment_locale,
                font_size="12px",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.cond(
                entry["actor"].to(str) != "",
                rx.vstack(
                    rx.text(entry["actor"], size="2"),
                    rx.text(entry["actor_email"], size="1", color=rx.color("gray", 10)),
                    spacing="0",
                ),
                rx.text(t("audit.system"), size="2", color=rx.color("gray", 10)),
            )
        ),
        rx.table.cell(rx.code(entry["action"], size="1")),
        rx.table.cell(rx.text(entry["subject"], size="1")),
        rx.table.cell(
            rx.text(
                entry["details"],
                size="1",
                font_family="monospace",
                color=rx.color("gray", 11),
                word_break="break-all",
            ),
            max_width="360px",
        ),
        rx.table.cell(rx.text(entry["ip"], size="1", color=rx.color("gray", 10))),
        data_testid="audit-row",
    )


def audit_page() -> rx.Component:
    return settings_frame(
        "settings.intro.audit",
        rx.flex(
            labelled(
                "audit.action",
                _select(
                    "action",
                    rx.foreach(AuditState.actions, lambda a: rx.select.item(a, value=a)),
                ),
                width="auto",
            ),
            labelled(
                "audit.actor",
                _select(
                    "actor",
                    rx.foreach(
                        AuditState.people,
                        lambda p: rx.select.item(p["name"], value=p["value"].to(str)),
                    ),
                ),
                width="auto",
            ),
            labelled("audit.since", _date("since"), width="auto"),
            labelled("audit.until", _date("until"), width="auto"),
            spacing="4",
            wrap="wrap",
            width="100%",
        ),
        error_callout(AuditState.problem),
        rx.cond(
            AuditState.rows.length() > 0,
            card(
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(t(f"audit.{c}"))
                                    for c in ("when", "actor", "action", "subject", "details", "ip")
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(AuditState.rows, _row)),
                        width="100%",
                        size="1",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.cond(
                    AuditState.more,
                    rx.center(
                        rx.button(
                            t("audit.older"),
                            variant="soft",
                            on_click=AuditState.older,
                            data_testid="audit-older",
                        ),
                        margin_top="12px",
                    ),
                ),
            ),
            empty_state("scroll-text", "audit.empty_title", "audit.empty_body"),
        ),
    )
