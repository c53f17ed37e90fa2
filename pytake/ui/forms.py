"""Form building blocks shared by the pages."""

from __future__ import annotations

import datetime as dt

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.ui.layout import card
from pytake.ui.session import in_transaction, t, translated


def field(label_key: str, name: str, *, type: str = "text", **props) -> rx.Component:
    return rx.vstack(
        rx.text(t(label_key), as_="label", size="2", weight="medium", html_for=name),
        rx.input(name=name, id=name, type=type, size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def hint(key: str) -> rx.Component:
    return rx.text(t(key), size="1", color=rx.color("gray", 10))


def new_password_fields(label_key: str, name: str) -> list[rx.Component]:
    """A new password, the rule it must meet, and its confirmation (``{name}_confirm``)."""
    props = {"type": "password", "auto_complete": "new-password", "required": True}
    return [
        field(label_key, name, **props),
        hint("password.rule"),
        field("field.password_confirm", f"{name}_confirm", **props),
    ]


def error_callout(message: rx.Var, **props) -> rx.Component:
    """A refusal in words, shown only while there is one."""
    props = {"width": "100%", **props}
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", **props),
    )


def timezone_input(name: str, default: rx.Var | str, zones: rx.Var, **props) -> rx.Component:
    """A time zone typed with suggestions from ``zones`` (IANA names)."""
    listing = f"pytake-timezones-{name}"
    return rx.fragment(
        rx.input(
            name=name,
            default_value=default,
            list=listing,
            required=True,
            size="3",
            width="100%",
            **props,
        ),
        rx.el.datalist(rx.foreach(zones, lambda zone: rx.el.option(value=zone)), id=listing),
    )


def submit_button(label_key: str, *, busy: rx.Var | bool = False, **props) -> rx.Component:
    return rx.button(t(label_key), type="submit", size="3", loading=busy, **props)


def form_card(
    heading: rx.Component,
    error: rx.Var,
    on_submit,
    *fields: rx.Component,
    form_id: str | None = None,
) -> rx.Component:
    """A card holding one form: a heading, the refusal if any, the fields and the button."""
    form_props = {"id": form_id} if form_id else {}
    return card(
        rx.form(
            rx.vstack(heading, error_callout(error), *fields, spacing="4", width="100%"),
            on_submit=on_submit,
            width="100%",
            **form_props,
        )
    )


def titled(title_key: str, subtitle_key: str) -> rx.Component:
    return rx.vstack(
        rx.heading(t(title_key), size="6"),
        rx.text(t(subtitle_key), color=rx.color("gray", 11)),
        spacing="3",
    )


def form_text(form_data: dict, name: str, limit: int = 1000) -> str:
    """A submitted field as a bounded string, whatever the client actually sent."""
    value = form_data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def confirm(trigger: rx.Component, title_key: str, body_key: str, action_key: str, on_confirm):
    """A destructive action behind a question."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(t(title_key)),
            rx.alert_dialog.description(t(body_key)),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button(t("thread.cancel"), variant="soft", color_scheme="gray")
                ),
                rx.alert_dialog.action(
                    rx.button(
                        t(action_key),
                        color_scheme="red",
                        on_click=on_confirm,
                        data_testid="confirm-action",
                    )
                ),
                justify="end",
                spacing="2",
                margin_top="16px",
            ),
            max_width="440px",
        ),
    )


class EditorMixin(rx.State, mixin=True):
    """A list edited in a dialog: the row in it (id 0 when adding), whether the dialog is
    open, and the refusal shown there. The page's state provides ``load``."""

    editing: dict = {}
    dialog_open: bool = False
    problem: str = ""

    @rx.event
    def close(self, _open: bool = False):
        self.dialog_open = False

    def _open_editor(self, row: dict) -> None:
        self.editing, self.dialog_open, self.problem = row, True, ""

    async def _save_editor(self, fn, *args) -> bool:
        """``fn(session, identity, *args)`` in a transaction; on success the dialog closes
        and the list reloads, else the refusal shows in the dialog."""
        try:
            await in_transaction(fn, self._identity(), *args)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return False
        self.dialog_open = False
        await self.load()
        return True


def editor_dialog(
    state: type[EditorMixin],
    title_keys: tuple[str, str],
    on_submit,
    save_testid: str,
    *fields: rx.Component,
    description: rx.Component | None = None,
    max_width: str = "520px",
    form_key: rx.Var | None = None,
) -> rx.Component:
    """The add/edit dialog of an ``EditorMixin`` state; ``title_keys`` is (add, edit)."""
    editing = state.editing
    add_key, edit_key = title_keys
    header = [rx.dialog.title(rx.cond(editing["id"].to(int) > 0, t(edit_key), t(add_key)))]
    if description is not None:
        header.append(rx.dialog.description(description, size="2", margin_bottom="12px"))
    return rx.dialog.root(
        rx.dialog.content(
            *header,
            error_callout(state.problem, size="1", margin_bottom="12px"),
            rx.form(
                rx.vstack(
                    *fields,
                    rx.hstack(
                        rx.dialog.close(
                            rx.button(
                                t("thread.cancel"),
                                variant="soft",
                                color_scheme="gray",
                                type="button",
                            )
                        ),
                        rx.button(t("action.save"), type="submit", data_testid=save_testid),
                        justify="end",
                        width="100%",
                        margin_top="8px",
                    ),
                    spacing="2",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
                key=form_key if form_key is not None else editing["id"].to(str),
            ),
            max_width=max_width,
        ),
        open=state.dialog_open,
        on_open_change=state.close,
    )


def option_filter(
    key: str, current: rx.Var, options: rx.Var, on_change, size: str = "2", **trigger
) -> rx.Component:
    """A select of ``options`` ({value, name}) with "any" first, in the words of
    ``inbox.filter_{key}`` and ``inbox.any_{key}``."""
    return rx.select.root(
        rx.select.trigger(placeholder=t(f"inbox.filter_{key}"), **trigger),
        rx.select.content(
            rx.select.item(t(f"inbox.any_{key}"), value="any"),
            rx.foreach(
                options.to(list[dict]),
                lambda option: rx.select.item(option["name"], value=option["value"].to(str)),
            ),
        ),
        value=current,
        on_change=on_change,
        size=size,
    )


NARROWING = ("channel", "team", "assignee", "label")


class NarrowingMixin(rx.State, mixin=True):
    """A period (``first`` to ``last``) and the number, team, assignee and label selects of
    the search and reports pages; each change runs the page's ``_run`` again."""

    chosen: dict[str, str] = {}
    options: dict[str, list[dict]] = {}
    first: str = ""
    last: str = ""

    @rx.event
    async def set_filter(self, key: str, value: str):
        if key in NARROWING:
            self.chosen = {**self.chosen, key: "" if value == "any" else str(value)}
            await self._run()

    @rx.event
    async def set_first(self, value: str):
        self.first = str(value)[:10]
        await self._run()

    @rx.event
    async def set_last(self, value: str):
        self.last = str(value)[:10]
        await self._run()

    async def _run(self) -> None:
        raise NotImplementedError

    def _chosen_id(self, key: str) -> int | None:
        value = self.chosen.get(key, "")
        return int(value) if value.isdigit() and len(value) < 19 else None

    def _narrowing(self) -> dict[str, int | None]:
        """The chosen ids, as ``Narrowing`` (and its subclasses) take them."""
        return {
            f"{key}_id": self._chosen_id(key) for key in ("channel", "team", "assignee", "label")
        }

    @staticmethod
    def _date(value: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            return None


def narrowing_filter(state: type[NarrowingMixin], key: str) -> rx.Component:
    return option_filter(
        key,
        state.chosen[key].to(str),
        state.options.get(key, []),
        lambda value: state.set_filter(key, value),
    )


def period_inputs(state: type[NarrowingMixin], from_key: str, to_key: str) -> rx.Component:
    return rx.hstack(
        rx.text(t(from_key), size="2"),
        rx.input(type="date", value=state.first, on_change=state.set_first, data_testid="first"),
        rx.text(t(to_key), size="2"),
        rx.input(type="date", value=state.last, on_change=state.set_last, data_testid="last"),
        align="center",
        spacing="2",
    )
