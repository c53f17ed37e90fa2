"""Form building blocks shared by the pages."""

from __future__ import annotations

import reflex as rx

from pytake.ui.session import t


def field(label_key: str, name: str, *, type: str = "text", **props) -> rx.Component:
    return rx.vstack(
        rx.text(t(label_key), as_="label", size="2", weight="medium", html_for=name),
        rx.input(name=name, id=name, type=type, size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def error_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%"),
    )


def submit_button(label_key: str, *, busy: rx.Var, **props) -> rx.Component:
    return rx.button(t(label_key), type="submit", size="3", width="100%", loading=busy, **props)


def form_text(form_data: dict, name: str, limit: int = 1000) -> str:
    """A submitted field as a bounded string, whatever the client actually sent."""
    value = form_data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""
