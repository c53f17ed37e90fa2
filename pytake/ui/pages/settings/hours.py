"""Business hours of each number and team, with the greeting and away messages."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.services import hours
from pytake.services.organization import timezones
from pytake.ui.forms import EditorMixin, editor_dialog
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state
from pytake.ui.pages.settings.frame import labelled, settings_frame
from pytake.ui.session import SessionState, in_transaction, t, translated

SLOTS = ("a", "b")  # two intervals a day in the form: mornings and afternoons


def _weekly(form: dict) -> dict[str, list[list[str]]]:
    """The form's ``d{day}_{slot}_{from|to}`` fields as the service's weekly schedule; a slot
    with both times empty is no interval (the service checks the rest)."""
    weekly: dict[str, list[list[str]]] = {}
    for day in hours.DAYS:
        for slot in SLOTS:
            start, end = (form.get(f"d{day}_{slot}_{edge}") or "" for edge in ("from", "to"))
            if start or end:
                # A time field stops at 23:59: closing at 00:00 means at midnight.
                end = "24:00" if end == "00:00" else str(end)[:5]
                weekly.setdefault(str(day), []).append([str(start)[:5], end])
    return weekly


def _fields(row: dict) -> dict[str, str]:
    """The saved schedule as the form's default values (every field, empty when unset)."""
    values = {
        f"d{day}_{slot}_{edge}": ""
        for day in hours.DAYS
        for slot in SLOTS
        for edge in ("from", "to")
    }
    for day in hours.DAYS:
        spans = (row.get("weekly") or {}).get(str(day)) or []
        for slot, span in zip(SLOTS, spans, strict=False):
            start, end = span
            values[f"d{day}_{slot}_from"] = start
            values[f"d{day}_{slot}_to"] = "00:00" if end == "24:00" else end
    return values


@access(min_role=Role.ADMIN)
class HoursState(EditorMixin, GuardedState):
    rows: list[dict] = []
    defaults: dict[str, str] = {}
    zones: list[str] = []

    @rx.event
    async def load(self):
        self.rows = await in_transaction(hours.overview, self._identity())
        self.zones = list(timezones())

    @rx.event
    def start(self, kind: str, owner_id: int):
        found = next((r for r in self.rows if r["kind"] == kind and r["id"] == owner_id), None)
        if found is None:
            return
        self._open_editor(found)
        self.defaults = _fields(found)

    @rx.event
    async def save(self, form: dict):
        form = form if isinstance(form, dict) else {}
        values = {
            "timezone": form.get("timezone") if isinstance(form.get("timezone"), str) else "",
            "weekly": _weekly(form),
            "holidays": form.get("holidays") if isinstance(form.get("holidays"), str) else "",
            "away_message": form.get("away_message"),
            "greeting_message": form.get("greeting_message"),
        }
        await self._save_editor(
            hours.save, self.editing.get("kind"), self.editing.get("id"), values
        )

    @rx.event
    async def clear(self):
        try:
            await in_transaction(
                hours.clear, self._identity(), self.editing.get("kind"), self.editing.get("id")
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.dialog_open = False
        await self.load()


def _time(name: str) -> rx.Component:
    return rx.input(
        type="time",
        name=name,
        default_value=HoursState.defaults[name],
        width="110px",
        size="1",
        data_testid=f"hours-{name}",
    )


def _day_row(day: int) -> rx.Component:
    return rx.hstack(
        rx.text(t(f"hours.day.{day}"), size="2", width="90px"),
        *[
            rx.hstack(
                _time(f"d{day}_{slot}_from"),
                rx.text("\u2013", color=rx.color("gray", 10)),
                _time(f"d{day}_{slot}_to"),
                spacing="1",
                align="center",
            )
            for slot in SLOTS
        ],
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _message(name: str, key: str, hint_key: str, value: rx.Var) -> rx.Component:
    return labelled(
        key,
        rx.text_area(
            name=name,
            default_value=value,
            rows="3",
            max_length=hours.MAX_MESSAGE,
            width="100%",
            data_testid=f"hours-{name.replace('_', '-')}",
        ),
        hint_key,
    )


def _hours_dialog() -> rx.Component:
    editing = HoursState.editing
    return editor_dialog(
        HoursState,
        ("hours.edit", "hours.edit"),
        HoursState.save,
        "hours-save",
        rx.heading(editing["name"].to(str), size="3"),
        labelled(
            "settings.timezone",
            rx.input(
                name="timezone",
                default_value=editing["timezone"].to(str),
                placeholder=t("hours.org_timezone"),
                list="pytake-hours-timezones",
                width="100%",
                data_testid="hours-timezone",
            ),
            "hours.timezone.hint",
        ),
        rx.text(t("hours.weekly"), size="2", weight="medium", margin_top="8px"),
        rx.text(t("hours.weekly.hint"), size="1", color=rx.color("gray", 10)),
        *[_day_row(day) for day in hours.DAYS],
        labelled(
            "hours.holidays",
            rx.text_area(
                name="holidays",
                default_value=editing["holidays"].to(str),
                placeholder="2026-12-25\n2027-01-01",
                rows="3",
                width="100%",
                data_testid="hours-holidays",
            ),
            "hours.holidays.hint",
        ),
        _message(
            "greeting_message",
            "hours.greeting",
            "hours.greeting.hint",
            editing["greeting_message"].to(str),
        ),
        _message("away_message", "hours.away", "hours.away.hint", editing["away_message"].to(str)),
        rx.cond(
            editing["set"].to(bool),
            rx.button(
                t("hours.clear"),
                type="button",
                variant="ghost",
                color_scheme="red",
                on_click=HoursState.clear,
                data_testid="hours-clear",
            ),
        ),
        max_width="640px",
        form_key=editing["kind"].to(str) + editing["id"].to(str),
    )


def _summary(row: rx.Var) -> rx.Component:
    weekly = row["weekly"].to(dict[str, list[list[str]]])
    return rx.cond(
        row["set"].to(bool),
        rx.vstack(
            rx.flex(
                *[
                    rx.badge(
                        t(f"hours.day_short.{day}"),
                        variant=rx.cond(weekly[str(day)].length() > 0, "soft", "outline"),
                        color_scheme=rx.cond(weekly[str(day)].length() > 0, "teal", "gray"),
                    )
                    for day in hours.DAYS
                ],
                spacing="1",
                wrap="wrap",
            ),
            rx.hstack(
                rx.cond(
                    row["greeting_message"].to(str) != "",
                    rx.badge(t("hours.greeting"), variant="surface", color_scheme="green"),
                ),
                rx.cond(
                    row["away_message"].to(str) != "",
                    rx.badge(t("hours.away"), variant="surface", color_scheme="amber"),
                ),
                spacing="1",
            ),
            spacing="2",
        ),
        rx.text(t("hours.always_open"), size="2", color=rx.color("gray", 10)),
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row["kind"].to(str) == "team",
                    rx.icon("users-round", size=16),
                    rx.icon("smartphone", size=16),
                ),
                rx.text(row["name"], weight="medium"),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(rx.text(SessionState.tr["hours.kind." + row["kind"].to(str)], size="2")),
        rx.table.cell(_summary(row)),
        rx.table.cell(
            rx.button(
                rx.icon("clock", size=14),
                t("hours.edit"),
                variant="soft",
                size="1",
                on_click=HoursState.start(row["kind"].to(str), row["id"].to(int)),
                data_testid="hours-edit",
            )
        ),
        align="center",
        data_testid="hours-row",
    )


def hours_page() -> rx.Component:
    return settings_frame(
        "settings.intro.hours",
        rx.cond(
            HoursState.rows.length() > 0,
            card(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(t(k))
                                for k in ("hours.owner", "hours.kind", "hours.schedule")
                            ],
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(HoursState.rows, _row)),
                    width="100%",
                )
            ),
            empty_state("clock", "hours.empty_title", "hours.empty_body"),
        ),
        rx.el.datalist(
            rx.foreach(HoursState.zones, lambda zone: rx.el.option(value=zone)),
            id="pytake-hours-timezones",
        ),
        _hours_dialog(),
    )
