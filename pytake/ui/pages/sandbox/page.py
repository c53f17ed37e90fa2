"""The customer phone page: the controls beside the phone, or how to get a sandbox number."""

from __future__ import annotations

import reflex as rx

from pytake.ui.forms import error_callout
from pytake.ui.layout import empty_state, shell
from pytake.ui.pages.sandbox.controls import more, scenarios, who
from pytake.ui.pages.sandbox.phone import phone
from pytake.ui.pages.sandbox.state import PhoneState
from pytake.ui.session import t


def phone_page() -> rx.Component:
    return shell(
        "nav.sandbox",
        rx.cond(
            PhoneState.numbers.length() > 0,
            rx.flex(
                rx.vstack(
                    rx.text(t("sandbox.intro"), size="2", color=rx.color("gray", 11)),
                    error_callout(PhoneState.problem),
                    who(),
                    more(),
                    scenarios(),
                    spacing="3",
                    flex="1",
                    min_width="300px",
                    max_width="460px",
                ),
                phone(),
                gap="24px",
                wrap="wrap",
                align="start",
                width="100%",
            ),
            empty_state("smartphone", "sandbox.empty_title", "sandbox.empty_body"),
        ),
    )
