"""The dialogs that compose structured messages (location, contact, buttons, list) and
send a WhatsApp template.
"""

from __future__ import annotations

import reflex as rx

from pytake.ui import uploads
from pytake.ui.forms import error_callout
from pytake.ui.pages.conversation.state import TEMPLATE_UPLOAD_ID, ConversationState
from pytake.ui.pages.conversation.templates import TemplateSendState
from pytake.ui.session import SessionState, t


def _input(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(t(label), as_="label", size="2", weight="medium", html_for=f"compose-{name}"),
        rx.input(name=name, id=f"compose-{name}", width="100%", **props),
        spacing="1",
        width="100%",
    )


def _dialog_fields(name: str) -> list[rx.Component]:
    if name == "location":
        return [
            rx.hstack(
                _input("thread.latitude", "latitude", required=True, placeholder="-23.5614"),
                _input("thread.longitude", "longitude", required=True, placeholder="-46.6559"),
                width="100%",
            ),
            _input("thread.place_name", "name", max_length=200),
            _input("thread.address", "address", max_length=500),
        ]
    if name == "contact":
        return [
            _input("thread.contact_name", "name", required=True, max_length=200),
            _input("thread.contact_phone", "phone", max_length=40, placeholder="+55 11 91234-5678"),
            _input("thread.contact_email", "email", type="email", max_length=200),
        ]
    if name == "buttons":
        return [
            _input("thread.body", "body", required=True, max_length=1024),
            *[
                _input("thread.button_title", f"button{n}", max_length=20, required=n == 1)
                for n in (1, 2, 3)
            ],
            _input("thread.footer", "footer", max_length=60),
        ]
    return [
        _input("thread.body", "body", required=True, max_length=4096),
        _input("thread.list_button", "button", required=True, max_length=20),
        rx.vstack(
            rx.text(
                t("thread.list_rows"),
                as_="label",
                size="2",
                weight="medium",
                html_for="compose-rows",
            ),
            rx.text_area(name="rows", id="compose-rows", required=True, rows="6", width="100%"),
            rx.text(t("thread.list_rows_hint"), size="1", color=rx.color("gray", 10)),
            spacing="1",
            width="100%",
        ),
    ]


def _dialog_problem() -> rx.Component:
    return error_callout(ConversationState.problem, size="1", margin_bottom="12px")


def _dialog_buttons(send: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.dialog.close(
            rx.button(t("thread.cancel"), variant="soft", color_scheme="gray", type="button")
        ),
        send,
        justify="end",
        width="100%",
    )


def dialogs() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.match(
                    ConversationState.dialog,
                    ("location", t("thread.send_location")),
                    ("contact", t("thread.send_contact")),
                    ("buttons", t("thread.send_buttons")),
                    t("thread.send_list"),
                )
            ),
            _dialog_problem(),
            rx.form(
                rx.vstack(
                    rx.match(
                        ConversationState.dialog,
                        *[
                            (name, rx.vstack(*_dialog_fields(name), width="100%"))
                            for name in ("location", "contact", "buttons")
                        ],
                        rx.vstack(*_dialog_fields("list"), width="100%"),
                    ),
                    _dialog_buttons(
                        rx.button(t("thread.send"), type="submit", data_testid="dialog-send")
                    ),
                    spacing="3",
                ),
                on_submit=ConversationState.send_structured,
                reset_on_submit=False,
            ),
            max_width="480px",
        ),
        open=ConversationState.dialog != "",
        on_open_change=ConversationState.close_dialog,
    )


def _template_option(choice: rx.Var) -> rx.Component:
    return rx.select.item(
        rx.cond(
            choice["sendable"].to(bool),
            choice["name"].to(str) + " · " + choice["language"].to(str),
            choice["name"].to(str)
            + " · "
            + choice["language"].to(str)
            + " ("
            + SessionState.tr["templates.status_" + choice["status"].to(str)].to(str)
            + ")",
        ),
        value=choice["value"].to(str),
        disabled=~choice["sendable"].to(bool),
    )


def _header_file(link: rx.Component) -> rx.Component:
    """A media header's link, or a file from the agent's computer sent along instead."""
    chosen = TemplateSendState.template_file != ""
    return rx.hstack(
        rx.cond(
            chosen,
            rx.badge(
                rx.icon("paperclip", size=12),
                TemplateSendState.template_file,
                rx.icon(
                    "x", size=12, cursor="pointer", on_click=TemplateSendState.clear_template_file
                ),
                size="2",
                data_testid="template-file",
            ),
            link,
        ),
        uploads.one_file(
            uploads.choose_button(t("thread.template_upload"), "template-upload"),
            TEMPLATE_UPLOAD_ID,
            TemplateSendState.attach_template_file,
        ),
        width="100%",
        align="center",
    )


def _template_field(field: rx.Var) -> rx.Component:
    """One value to fill: a text, a link, a code, a place, when an offer ends, products."""
    kind, key = field["kind"].to(str), field["key"].to(str)
    common = {
        "value": TemplateSendState.template_values[key].to(str),
        "on_change": lambda value: TemplateSendState.set_template_value(key, value),
        "max_length": 1024,
        "width": "100%",
        "data_testid": "template-value",
    }
    return rx.vstack(
        rx.text(
            rx.cond(  # a carousel card's value
                field["card"].to(int) > 0,
                rx.badge(
                    t("templates.card"), " ", field["card"].to(str), size="1", margin_right="6px"
                ),
            ),
            rx.cond(  # a variable by its own name; a part WhatsApp names (a place, a code…)
                kind == "text",
                rx.fragment(t("thread.template_field_text"), " ", rx.code(field["label"])),
                SessionState.tr["thread.template_label_" + field["label"].to(str)].to(str),
            ),
            rx.cond(
                field["optional"].to(bool),
                rx.text.span(" · ", t("templates.optional"), color=rx.color("gray", 10)),
            ),
            size="2",
            weight="medium",
        ),
        rx.match(
            kind,
            ("products", rx.text_area(rows="3", placeholder=t("thread.products_hint"), **common)),
            ("expiry", rx.input(type="datetime-local", **common)),
            (
                "link",
                rx.cond(
                    field["card"].to(int) == 0, _header_file(rx.input(**common)), rx.input(**common)
                ),
            ),
            rx.input(**common),
        ),
        spacing="1",
        width="100%",
    )


def template_dialog() -> rx.Component:
    """Pick an approved template, fill its variables, see what the customer will read."""
    fields = TemplateSendState.template_fields
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("thread.send_template")),
            _dialog_problem(),
            rx.cond(
                TemplateSendState.template_choices.length() == 0,
                rx.text(t("thread.no_templates"), size="2", color=rx.color("gray", 11)),
                rx.vstack(
                    rx.select.root(
                        rx.select.trigger(
                            placeholder=t("thread.choose_template"),
                            width="100%",
                            data_testid="template-select",
                        ),
                        rx.select.content(
                            rx.foreach(TemplateSendState.template_choices, _template_option)
                        ),
                        value=TemplateSendState.template_value,
                        on_change=TemplateSendState.pick_template,
                    ),
                    rx.foreach(fields, _template_field),
                    rx.cond(
                        TemplateSendState.template_preview != "",
                        rx.box(
                            rx.text(
                                TemplateSendState.template_preview,
                                size="2",
                                white_space="pre-wrap",
                            ),
                            background=rx.color("accent", 3),
                            border=f"1px solid {rx.color('gray', 4)}",
                            border_radius="10px",
                            padding="8px 12px",
                            align_self="end",
                            max_width="90%",
                            data_testid="template-preview",
                        ),
                    ),
                    _dialog_buttons(
                        rx.button(
                            t("thread.send"),
                            on_click=TemplateSendState.send_template,
                            disabled=TemplateSendState.template_id == 0,
                            loading=ConversationState.sending,
                            data_testid="template-send",
                        )
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            max_width="520px",
        ),
        open=ConversationState.template_open,
        on_open_change=TemplateSendState.close_templates,
    )
