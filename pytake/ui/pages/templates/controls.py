"""Small controls the template editor's parts share: a labelled field, a checkbox line, a
button's row (of the template or of a carousel card) and the media header's icon."""

from __future__ import annotations

import reflex as rx

from pytake.ui.pages.templates.editor_state import TemplateEditorState
from pytake.ui.session import SessionState, t

ELLIPSIS = {"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}


def with_label(label: str, control: rx.Component) -> rx.Component:
    """A control with its label above, as every field of the editor has it."""
    return rx.vstack(
        rx.text(t(label), size="2", weight="medium"), control, spacing="1", width="100%"
    )


def media_icon(size: int) -> rx.Component:
    """The media header's kind, by the chosen file in the editor and in the preview."""
    return rx.match(
        TemplateEditorState.header_format,
        ("image", rx.icon("image", size=size)),
        ("video", rx.icon("video", size=size)),
        rx.icon("file-text", size=size),
    )


def labelled_check(label: str, checked: rx.Var, on_change, testid: str) -> rx.Component:
    """A checkbox inside its label, so that a click on the words ticks it too."""
    return rx.text(
        rx.flex(
            rx.checkbox(checked=checked, on_change=on_change, data_testid=testid),
            t(label),
            gap="2",
            align="center",
        ),
        as_="label",
        size="2",
    )


def button_row(button: rx.Var, change, testid: str, remove=None) -> rx.Component:
    """A button's kind and the fields that kind takes; ``change(key, value)`` keeps them."""
    kind = button["type"].to(str)

    def typed(key: str, placeholder, limit: int) -> rx.Component:
        return rx.input(
            value=button[key].to(str),
            on_change=lambda value: change(key, value),
            placeholder=placeholder,
            max_length=limit,
            size="1",
            flex="1",
            data_testid=f"{testid}-{key}",
        )

    return rx.hstack(
        rx.badge(SessionState.tr["templates.button_" + kind].to(str), size="1"),
        rx.cond(kind != "copy_code", typed("text", t("templates.button_text"), 25)),
        rx.cond(kind == "url", typed("url", "https://example.com/order/{{1}}", 2000)),
        rx.cond(kind == "phone", typed("phone", "+5511912345678", 20)),
        rx.cond(kind == "flow", typed("flow_id", t("templates.flow_id"), 20)),
        rx.cond(kind == "flow", typed("screen", t("templates.flow_screen"), 100)),
        rx.cond(
            (kind == "url") | (kind == "copy_code"),
            typed("example", t("templates.example"), 200),
        ),
        remove_button(remove) if remove is not None else rx.fragment(),
        width="100%",
        align="center",
        spacing="2",
    )


def remove_button(on_click) -> rx.Component:
    """The small cross that takes a button or a card out of the draft."""
    return rx.icon_button(
        rx.icon("x", size=12),
        size="1",
        variant="ghost",
        color_scheme="gray",
        on_click=on_click,
        aria_label="remove",
    )
