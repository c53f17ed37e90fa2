"""Labels: the organization's tags for conversations, with their colours."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.services import labels
from pytake.ui.forms import EditorMixin, editor_dialog
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state
from pytake.ui.pages.settings.frame import (
    add_button,
    edit_and_delete,
    section_heading,
    settings_frame,
)
from pytake.ui.session import in_transaction, t, translated


def _save(s, identity, label_id: int, name: object, color: object):
    if label_id:
        return labels.update(s, identity, label_id, name, color)
    return labels.create(s, identity, name, color)


@access(min_role=Role.ADMIN)
class LabelsState(EditorMixin, GuardedState):
    rows: list[dict] = []
    color: str = "gray"

    @rx.event
    async def load(self):
        self.rows = await in_transaction(labels.listing, self._identity().organization_id)

    @rx.event
    def start(self, label_id: int):
        found = next((row for row in self.rows if row["id"] == label_id), None)
        self._open_editor(found or {"id": 0, "name": "", "color": "gray"})
        self.color = self.editing["color"]

    @rx.event
    def pick(self, color: str):
        if color in labels.COLORS:
            self.color = color

    @rx.event
    async def save(self, form: dict):
        name = form.get("name") if isinstance(form, dict) else None
        await self._save_editor(_save, self.editing.get("id") or 0, name, self.color)

    @rx.event
    async def delete(self, label_id: int):
        try:
            await in_transaction(labels.delete, self._identity(), label_id)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        await self.load()
        return None


def _swatch(color: str) -> rx.Component:
    chosen = LabelsState.color == color
    return rx.box(
        width="26px",
        height="26px",
        border_radius="50%",
        background=rx.color(color, 9),
        border=rx.cond(chosen, f"3px solid {rx.color('gray', 12)}", "3px solid transparent"),
        cursor="pointer",
        on_click=LabelsState.pick(color),
        aria_label=color,
        data_testid=f"label-color-{color}",
    )


def _label_dialog() -> rx.Component:
    editing = LabelsState.editing
    return editor_dialog(
        LabelsState,
        ("labels.add", "labels.edit"),
        LabelsState.save,
        "label-save",
        rx.text(t("labels.name"), size="2", weight="medium"),
        rx.input(
            name="name",
            default_value=editing["name"].to(str),
            max_length=40,
            required=True,
            width="100%",
            data_testid="label-name",
        ),
        rx.text(t("labels.color"), size="2", weight="medium", margin_top="8px"),
        rx.flex(*[_swatch(color) for color in labels.COLORS], spacing="2", wrap="wrap"),
        rx.text(t("labels.preview"), size="2", weight="medium", margin_top="8px"),
        rx.badge(
            rx.cond(editing["name"].to(str) != "", editing["name"].to(str), "vip"),
            color_scheme=LabelsState.color,
            variant="soft",
            size="2",
        ),
        max_width="440px",
    )


def _label_row(label: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.badge(label["name"], color_scheme=label["color"].to(str), variant="soft", size="2"),
        rx.spacer(),
        edit_and_delete(
            "labels",
            LabelsState.start(label["id"].to(int)),
            LabelsState.delete(label["id"].to(int)),
        ),
        width="100%",
        align="center",
        padding_y="6px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="label-row",
    )


def labels_page() -> rx.Component:
    return settings_frame(
        "settings.intro.labels",
        section_heading(
            "settings.section.labels", add_button("labels.add", LabelsState.start(0), "label-add")
        ),
        rx.cond(
            LabelsState.rows.length() > 0,
            card(rx.foreach(LabelsState.rows, _label_row)),
            empty_state("tag", "labels.empty_title", "labels.empty_body"),
        ),
        _label_dialog(),
    )
