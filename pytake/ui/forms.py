"""Form building blocks shared by the pages."""

from __future__ import annotations

import reflex as rx

from pytake.ui.layout import card
from pytake.ui.session import t


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
