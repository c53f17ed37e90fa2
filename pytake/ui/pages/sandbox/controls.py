"""Beside the phone: who plays (the number and the customer), the messages the composer
cannot make (a location, a contact card) and the scenarios."""

from __future__ import annotations

import reflex as rx

from pytake.ui.layout import card
from pytake.ui.pages.sandbox.state import SCENARIO_ERRORS, PhoneState
from pytake.ui.pages.settings.frame import labelled
from pytake.ui.session import SessionState, t


def _row_form(on_submit, icon: str, *fields: rx.Component) -> rx.Component:
    """Fields on one line, sent by the icon button at its end."""
    return rx.form(
        rx.hstack(
            *fields,
            rx.icon_button(rx.icon(icon, size=14), type="submit", variant="soft", aria_label=icon),
            width="100%",
        ),
        on_submit=on_submit,
        width="100%",
    )


def who() -> rx.Component:
    return card(
        rx.vstack(
            labelled(
                "sandbox.number",
                rx.select.root(
                    rx.select.trigger(width="100%"),
                    rx.select.content(
                        rx.foreach(
                            PhoneState.numbers,
                            lambda n: rx.select.item(n["label"].to(str), value=n["id"].to(str)),
                        )
                    ),
                    value=PhoneState.number_id,
                    on_change=PhoneState.choose_number,
                ),
            ),
            labelled(
                "sandbox.customer",
                rx.select.root(
                    rx.select.trigger(placeholder=t("sandbox.no_customer"), width="100%"),
                    rx.select.content(
                        rx.foreach(
                            PhoneState.customers,
                            lambda c: rx.select.item(c["label"].to(str), value=c["wa_id"].to(str)),
                        )
                    ),
                    value=PhoneState.wa_id,
                    on_change=PhoneState.choose_customer,
                ),
            ),
            rx.form(
                rx.vstack(
                    rx.text(t("sandbox.new_customer"), size="2", weight="medium"),
                    rx.hstack(
                        rx.input(
                            name="name",
                            placeholder=t("sandbox.customer_name"),
                            flex="1",
                            data_testid="new-customer-name",
                        ),
                        rx.input(
                            name="phone",
                            placeholder="+55 11 91234 5678",
                            flex="1",
                            data_testid="new-customer-phone",
                        ),
                        rx.button(
                            rx.icon("user-plus", size=14),
                            type="submit",
                            variant="soft",
                            data_testid="new-customer",
                        ),
                        width="100%",
                    ),
                    spacing="1",
                    width="100%",
                ),
                on_submit=PhoneState.new_customer,
                reset_on_submit=True,
                width="100%",
            ),
            spacing="3",
            width="100%",
        )
    )


def more() -> rx.Component:
    return card(
        rx.vstack(
            rx.text(t("sandbox.more_types"), size="2", weight="medium"),
            _row_form(
                PhoneState.send_location,
                "map-pin",
                rx.input(name="latitude", placeholder="-23.5505", width="30%"),
                rx.input(name="longitude", placeholder="-46.6333", width="30%"),
                rx.input(name="place", placeholder=t("sandbox.place"), flex="1"),
            ),
            _row_form(
                PhoneState.send_contact,
                "contact",
                rx.input(name="contact_name", placeholder=t("sandbox.contact_name"), flex="1"),
                rx.input(name="contact_phone", placeholder="+55 21 99876 5432", flex="1"),
            ),
            spacing="2",
            width="100%",
        )
    )


def scenarios() -> rx.Component:
    return card(
        rx.vstack(
            rx.text(t("sandbox.scenarios"), size="2", weight="medium"),
            rx.text(t("sandbox.scenarios_hint"), size="1", color=rx.color("gray", 11)),
            rx.vstack(
                rx.select.root(
                    rx.select.trigger(width="100%"),
                    rx.select.content(
                        *[
                            rx.select.item(SessionState.tr[f"sandbox.error.{code}"], value=code)
                            for code in SCENARIO_ERRORS
                        ]
                    ),
                    value=PhoneState.fail_code,
                    on_change=PhoneState.set_fail_code,
                ),
                rx.button(
                    t("sandbox.fail_next"),
                    on_click=PhoneState.fail_next,
                    variant="soft",
                    color_scheme="red",
                    width="100%",
                    data_testid="fail-next",
                ),
                spacing="2",
                width="100%",
            ),
            rx.button(
                t("sandbox.time_out_next"),
                on_click=PhoneState.time_out_next,
                variant="soft",
                color_scheme="amber",
                width="100%",
            ),
            rx.hstack(
                rx.text(t("sandbox.webhook_delay"), size="2", flex="1"),
                rx.input(
                    default_value=PhoneState.webhook_delay,
                    on_blur=PhoneState.set_webhook_delay,
                    type="number",
                    min="0",
                    max="30",
                    step="0.5",
                    width="80px",
                ),
                align="center",
                width="100%",
            ),
            rx.hstack(
                rx.text(t("sandbox.duplicate_webhooks"), size="2", flex="1"),
                rx.switch(checked=PhoneState.duplicate, on_change=PhoneState.set_duplicate),
                width="100%",
            ),
            rx.hstack(
                rx.text(t("sandbox.out_of_order"), size="2", flex="1"),
                rx.switch(checked=PhoneState.out_of_order, on_change=PhoneState.set_out_of_order),
                width="100%",
            ),
            spacing="2",
            width="100%",
        )
    )
