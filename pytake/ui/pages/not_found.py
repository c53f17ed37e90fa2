"""The page for an address PyTake does not have, in the visitor's language, with the way back."""

from __future__ import annotations

import reflex as rx

from pytake.ui.forms import titled
from pytake.ui.layout import auth_frame
from pytake.ui.session import t


def not_found_page() -> rx.Component:
    return auth_frame(
        rx.card(
            rx.vstack(
                rx.icon("map-pin-off", size=28, color=rx.color("gray", 10)),
                titled("not_found.title", "not_found.subtitle"),
                rx.link(
                    rx.button(t("not_found.back"), size="3", width="100%"),
                    href="/inbox",
                    width="100%",
                    data_testid="not-found-back",
                ),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            data_testid="not-found",
        )
    )
