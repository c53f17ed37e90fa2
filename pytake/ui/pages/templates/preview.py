"""The template editor's preview: the draft as a WhatsApp bubble, with its header media, its
offer, its buttons and a carousel's cards, examples in place of the variables."""

from __future__ import annotations

import reflex as rx

from pytake.ui.pages.templates.controls import ELLIPSIS, media_icon
from pytake.ui.pages.templates.editor_state import TemplateEditorState
from pytake.ui.session import SessionState, t

# A WhatsApp bubble in the previews, and a button under it.
_BUBBLE = {
    "background": rx.color("gray", 1),
    "border_radius": "10px",
    "box_shadow": "0 1px 1px rgba(0,0,0,0.08)",
}


def draft_preview() -> rx.Component:
    """The draft as a WhatsApp bubble, examples in place of its variables."""
    return rx.vstack(
        rx.text(t("templates.preview"), size="2", weight="medium"),
        rx.box(
            rx.box(
                rx.cond(
                    ~TemplateEditorState.authentication,
                    rx.fragment(
                        rx.cond(TemplateEditorState.media_header, _media_preview()),
                        rx.match(
                            TemplateEditorState.header_format,
                            ("location", _given_at_send("map-pin", "templates.location_at_send")),
                            (
                                "product",
                                _given_at_send("shopping-bag", "templates.product_at_send"),
                            ),
                            rx.fragment(),
                        ),
                    ),
                ),
                rx.cond(TemplateEditorState.offering, _offer_preview()),
                rx.text(TemplateEditorState.preview, size="2", white_space="pre-wrap"),
                rx.cond(
                    TemplateEditorState.call_permission & ~TemplateEditorState.carousel_on,
                    rx.hstack(
                        rx.icon("phone-call", size=14),
                        rx.text(t("templates.call_permission_preview"), size="1"),
                        color=rx.color("gray", 11),
                        align="center",
                        spacing="2",
                        margin_top="6px",
                    ),
                ),
                rx.foreach(
                    TemplateEditorState.preview_buttons,
                    lambda b: _bubble_button(
                        rx.cond(b["term"] != "", SessionState.tr[b["term"]].to(str), b["text"]),
                        "2",
                    ),
                ),
                padding="10px 12px",
                max_width="100%",
                data_testid="template-draft-preview",
                **_BUBBLE,
            ),
            rx.cond(TemplateEditorState.carousel_on, _cards_preview()),
            background=rx.color("green", 3),
            border_radius="12px",
            padding="16px 12px",
            width="100%",
        ),
        spacing="2",
        flex="1 1 220px",
        min_width="0",
    )


def _media_preview() -> rx.Component:
    """A media header in the bubble: the image itself when small, else its kind and name."""
    draft = TemplateEditorState
    return rx.cond(
        draft.example_preview != "",
        rx.image(
            src=draft.example_preview,
            width="100%",
            max_height="180px",
            object_fit="cover",
            border_radius="6px",
            margin_bottom="8px",
        ),
        _header_placeholder(
            media_icon(28),
            rx.text(
                rx.cond(
                    draft.example_name != "",
                    draft.example_name,
                    SessionState.tr["templates.header_" + draft.header_format].to(str),
                ),
                size="1",
                max_width="200px",
                **ELLIPSIS,
            ),
            "120px",
        ),
    )


def _given_at_send(icon: str, term: str) -> rx.Component:
    """A header given at each send, in the bubble: a map, or a product of the catalog."""
    return _header_placeholder(rx.icon(icon, size=28), rx.text(t(term), size="1"), "110px")


def _header_placeholder(icon: rx.Component, label: rx.Component, height: str) -> rx.Component:
    """A grey box where the bubble's header media will be."""
    return rx.center(
        rx.vstack(icon, label, align="center", spacing="1"),
        height=height,
        width="100%",
        color=rx.color("gray", 10),
        background=rx.color("gray", 4),
        border_radius="6px",
        margin_bottom="8px",
    )


def _bubble_button(label, size: str) -> rx.Component:
    return rx.center(
        rx.text(label, size=size, color=rx.color("accent", 11)),
        border_top=f"1px solid {rx.color('gray', 5)}",
        padding_top="6px" if size == "2" else "4px",
        margin_top="6px" if size == "2" else "0",
        width="100%",
    )


def _cards_preview() -> rx.Component:
    """The cards under the bubble, side by side as WhatsApp scrolls them."""
    return rx.hstack(
        rx.foreach(
            TemplateEditorState.cards,
            lambda card, index: rx.vstack(
                rx.cond(
                    TemplateEditorState.card_previews[index] != "",
                    rx.image(
                        src=TemplateEditorState.card_previews[index],
                        width="100%",
                        height="90px",
                        object_fit="cover",
                        border_radius="6px",
                    ),
                    rx.center(
                        rx.match(
                            TemplateEditorState.carousel["format"].to(str),
                            ("video", rx.icon("video", size=22)),
                            ("product", rx.icon("shopping-bag", size=22)),
                            rx.icon("image", size=22),
                        ),
                        height="90px",
                        width="100%",
                        color=rx.color("gray", 10),
                        background=rx.color("gray", 4),
                        border_radius="6px",
                    ),
                ),
                rx.text(card["shown"].to(str), size="1", white_space="pre-wrap"),
                rx.foreach(
                    card["buttons"].to(list[dict]),
                    lambda b: _bubble_button(b["text"].to(str), "1"),
                ),
                padding="8px",
                min_width="150px",
                max_width="150px",
                spacing="1",
                **_BUBBLE,
            ),
        ),
        overflow_x="auto",
        width="100%",
        padding_top="8px",
        spacing="2",
        data_testid="template-cards-preview",
    )


def _offer_preview() -> rx.Component:
    """The offer's box above the body: its line, and the countdown when it shows its end."""
    offer = TemplateEditorState.offer
    return rx.hstack(
        rx.center(
            rx.icon("timer", size=18),
            width="32px",
            height="32px",
            border_radius="50%",
            background=rx.color("accent", 4),
            color=rx.color("accent", 11),
            flex_shrink="0",
        ),
        rx.vstack(
            rx.text(offer["text"].to(str), size="2", weight="bold"),
            rx.cond(
                offer["expires"].to(bool),
                rx.text(t("templates.offer_ends_at_send"), size="1", color=rx.color("gray", 10)),
            ),
            spacing="0",
        ),
        align="center",
        spacing="2",
        padding="8px",
        margin_bottom="8px",
        border_radius="6px",
        background=rx.color("gray", 3),
        data_testid="template-offer-preview",
    )
