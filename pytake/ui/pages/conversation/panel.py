"""The contact panel beside the thread: the customer's facts, attributes and the chatbot's run."""

from __future__ import annotations

import reflex as rx

from pytake.ui.pages.conversation.state import ConversationState
from pytake.ui.session import SessionState, t


def _fact(label: str, value: rx.Var) -> rx.Component:
    return rx.cond(
        value != "",
        rx.vstack(
            rx.text(t(label), size="1", color=rx.color("gray", 10)),
            rx.text(value, size="2", word_break="break-all"),
            spacing="0",
        ),
    )


def _panel_section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(t(title), size="1", weight="bold", color=rx.color("gray", 11)),
        *children,
        spacing="2",
        width="100%",
        padding_top="12px",
        border_top=f"1px solid {rx.color('gray', 4)}",
    )


def _bot_section() -> rx.Component:
    found = ConversationState.bot
    return _panel_section(
        "flows.panel.title",
        rx.hstack(
            rx.icon("bot", size=14),
            rx.text(found["flow"].to(str) + " · v" + found["version"].to(str), size="2"),
            rx.spacer(),
            rx.cond(
                found["active"].to(bool),
                rx.badge(t("flows.panel.running"), color_scheme="green"),
                rx.badge(SessionState.tr["flows.reason." + found["reason"].to(str)].to(str)),
            ),
            width="100%",
            align="center",
        ),
        rx.foreach(
            found["answers"].to(list[dict]),
            lambda item: rx.hstack(
                rx.text(item["name"], size="2", weight="medium", min_width="80px"),
                rx.text(item["value"], size="2", flex="1", word_break="break-word"),
                width="100%",
                data_testid="bot-answer",
            ),
        ),
        rx.vstack(
            rx.foreach(
                found["trail"].to(list[dict]),
                lambda entry: rx.text(
                    SessionState.tr["flows.trail." + entry["kind"].to(str)].to(str)
                    + " "
                    + entry["note"].to(str)
                    + rx.cond(entry["text"].to(str) != "", " — " + entry["text"].to(str), ""),
                    size="1",
                    color=rx.color("gray", 11),
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def contact_panel() -> rx.Component:
    contact = ConversationState.contact
    return rx.vstack(
        rx.hstack(
            rx.heading(t("contact.panel_title"), size="3"),
            rx.spacer(),
            rx.icon_button(
                rx.icon("x", size=16),
                variant="ghost",
                color_scheme="gray",
                on_click=ConversationState.toggle_panel,
                aria_label="close",
            ),
            width="100%",
            align="center",
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="name",
                    default_value=contact["name"].to(str),
                    key=contact["name"].to(str),
                    max_length=120,
                    size="2",
                    flex="1",
                    aria_label="name",
                    data_testid="contact-name-input",
                ),
                rx.button(t("contact.save"), size="2", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=ConversationState.rename_contact,
            reset_on_submit=False,
            width="100%",
        ),
        _fact("contact.number", contact["number"].to(str)),
        _fact("contact.profile_name", contact["profile_name"].to(str)),
        _fact("contact.username", contact["username"].to(str)),
        _fact("contact.bsuid", contact["bsuid"].to(str)),
        _panel_section(
            "contact.attributes",
            rx.foreach(
                contact["attributes"].to(list[dict]),
                lambda item: rx.hstack(
                    rx.text(item["key"], size="2", weight="medium", min_width="80px"),
                    rx.text(item["value"], size="2", flex="1", word_break="break-word"),
                    rx.icon_button(
                        rx.icon("trash-2", size=12),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=ConversationState.remove_attribute(item["key"].to(str)),
                        aria_label="remove",
                    ),
                    width="100%",
                    align="center",
                    data_testid="attribute",
                ),
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="key",
                        placeholder=t("contact.attribute_key"),
                        max_length=40,
                        size="1",
                        width="40%",
                        required=True,
                    ),
                    rx.input(
                        name="value",
                        placeholder=t("contact.attribute_value"),
                        max_length=500,
                        size="1",
                        flex="1",
                        required=True,
                    ),
                    rx.icon_button(
                        rx.icon("plus", size=14), size="1", type="submit", aria_label="add"
                    ),
                    width="100%",
                ),
                on_submit=ConversationState.set_attribute,
                reset_on_submit=True,
                width="100%",
                data_testid="attribute-form",
            ),
        ),
        rx.cond(ConversationState.bot.contains("flow"), _bot_section()),
        _panel_section(
            "contact.history",
            rx.foreach(
                contact["history"].to(list[dict]),
                lambda item: rx.link(
                    rx.hstack(
                        rx.badge(
                            SessionState.tr["status." + item["status"].to(str)].to(str),
                            variant=rx.cond(item["current"].to(bool), "solid", "soft"),
                            size="1",
                        ),
                        rx.moment(
                            item["at"].to(str),
                            format="lll",
                            locale=SessionState.moment_locale,
                            font_size="12px",
                        ),
                        spacing="2",
                        align="center",
                    ),
                    href="/inbox/" + item["id"].to(str),
                    underline="none",
                    color="inherit",
                ),
            ),
        ),
        _panel_section(
            "contact.media",
            rx.cond(
                contact["media"].to(list).length() == 0,
                rx.text(t("contact.no_media"), size="1", color=rx.color("gray", 10)),
            ),
            rx.grid(
                rx.foreach(
                    contact["media"].to(list[dict]),
                    lambda item: rx.link(
                        rx.cond(
                            (item["kind"].to(str) == "image") | (item["kind"].to(str) == "sticker"),
                            rx.image(
                                src=item["url"].to(str),
                                width="100%",
                                height="72px",
                                object_fit="cover",
                                border_radius="6px",
                            ),
                            rx.center(
                                rx.icon("file", size=18),
                                rx.text(item["name"], size="1", trim="both", max_width="100%"),
                                direction="column",
                                height="72px",
                                background=rx.color("gray", 3),
                                border_radius="6px",
                                padding="4px",
                                overflow="hidden",
                            ),
                        ),
                        href=item["url"].to(str),
                        is_external=True,
                    ),
                ),
                columns="3",
                spacing="2",
                width="100%",
            ),
        ),
        spacing="3",
        width=["100%", "360px", "300px"],
        flex_shrink="0",
        padding="16px",
        background=rx.color("gray", 1),
        border_left=f"1px solid {rx.color('gray', 4)}",
        position=["fixed", "fixed", "static"],
        right="0",
        top="0",
        height=["100vh", "100vh", "auto"],
        max_height=["100vh", "100vh", "calc(100vh - 120px)"],
        overflow_y="auto",
        z_index="20",
        data_testid="contact-panel",
    )
