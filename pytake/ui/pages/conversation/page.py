"""One conversation: its messages as bubbles with live ticks, the composer and the contact
panel (each part in its own module of this package).
"""

from __future__ import annotations

import reflex as rx

from pytake.ui.layout import shell
from pytake.ui.pages.conversation.bubbles import bubble
from pytake.ui.pages.conversation.composer import composer
from pytake.ui.pages.conversation.header import header
from pytake.ui.pages.conversation.panel import contact_panel
from pytake.ui.pages.conversation.state import ConversationState
from pytake.ui.session import t


def conversation_page() -> rx.Component:
    return shell(
        "nav.conversation",
        rx.cond(
            ConversationState.info.contains("id"),
            rx.hstack(
                _thread_column(),
                rx.cond(ConversationState.panel_open, contact_panel()),
                spacing="4",
                width="100%",
                align="start",
            ),
            rx.cond(
                ConversationState.problem != "",
                rx.callout(
                    ConversationState.problem,
                    icon="circle-alert",
                    color_scheme="gray",
                    data_testid="conversation-problem",
                ),
                rx.center(rx.spinner(size="3"), padding="48px"),
            ),
        ),
    )


def _thread_column() -> rx.Component:
    return rx.vstack(
        header(),
        rx.cond(
            ConversationState.info["token_invalid"].to(bool),
            rx.callout(
                t("thread.token_invalid"),
                data_testid="token-invalid",
                icon="key-round",
                color_scheme="red",
                size="1",
                width="100%",
            ),
        ),
        rx.auto_scroll(
            rx.vstack(
                rx.cond(
                    ConversationState.has_older,
                    rx.center(
                        rx.button(
                            t("thread.load_older"),
                            variant="ghost",
                            size="1",
                            on_click=ConversationState.load_older,
                            data_testid="load-older",
                        ),
                        width="100%",
                    ),
                ),
                rx.foreach(ConversationState.messages, bubble),
                spacing="2",
                width="100%",
                padding="8px 4px 16px",
            ),
            height="calc(100vh - 290px)",
            min_height="240px",
            width="100%",
            data_testid="thread",
        ),
        composer(),
        width="100%",
        min_width="0",
        spacing="0",
    )
