"""The template editor's marketing-only parts: a limited-time offer and a carousel of
cards."""

from __future__ import annotations

import reflex as rx

from pytake.channels.whatsapp import templates as rules
from pytake.ui import uploads
from pytake.ui.pages.templates.controls import ELLIPSIS, button_row, labelled_check, remove_button
from pytake.ui.pages.templates.editor_state import TemplateEditorState
from pytake.ui.session import t


def offer_editor() -> rx.Component:
    """A limited-time offer: a countdown line above the body (marketing only)."""
    offer = TemplateEditorState.offer
    return rx.vstack(
        labelled_check(
            "templates.offer",
            offer["enabled"].to(bool),
            lambda on: TemplateEditorState.set_offer("enabled", on),
            "template-offer",
        ),
        rx.cond(
            offer["enabled"].to(bool),
            rx.vstack(
                rx.input(
                    value=offer["text"].to(str),
                    on_change=lambda v: TemplateEditorState.set_offer("text", v),
                    placeholder=t("templates.offer_text"),
                    max_length=rules.MAX_OFFER,
                    width="100%",
                    data_testid="template-offer-text",
                ),
                labelled_check(
                    "templates.offer_expires",
                    offer["expires"].to(bool),
                    lambda on: TemplateEditorState.set_offer("expires", on),
                    "template-offer-expires",
                ),
                rx.text(t("templates.offer_hint"), size="1", color=rx.color("gray", 10)),
                spacing="2",
                width="100%",
                padding_left="24px",
            ),
        ),
        spacing="2",
        width="100%",
    )


def carousel_editor() -> rx.Component:
    """A media-card carousel: the body above, then 2 to 10 cards alike."""
    draft = TemplateEditorState
    return rx.vstack(
        rx.hstack(
            rx.text(t("templates.card_format"), size="2", weight="medium"),
            rx.select.root(
                rx.select.trigger(data_testid="template-card-format"),
                rx.select.content(
                    *[
                        rx.select.item(t(f"templates.header_{f}"), value=f)
                        for f in rules.CARD_FORMATS
                    ]
                ),
                value=draft.carousel["format"].to(str),
                on_change=lambda v: TemplateEditorState.set_carousel("format", v),
            ),
            align="center",
            spacing="3",
        ),
        *[rx.cond(draft.cards.length() > n, _card_editor(n)) for n in range(rules.MAX_CARDS)],
        rx.hstack(
            rx.button(
                rx.icon("plus", size=12),
                t("templates.card_add"),
                size="1",
                variant="soft",
                on_click=TemplateEditorState.add_card,
                disabled=draft.cards.length() >= rules.MAX_CARDS,
                data_testid="template-card-add",
            ),
            *[
                _card_button_adder(kind)
                for kind in dict.fromkeys(rules.CARD_BUTTONS + rules.PRODUCT_CARD_BUTTONS)
            ],
            rx.button(
                rx.icon("minus", size=12),
                t("templates.card_button_remove"),
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=TemplateEditorState.remove_card_button(
                    draft.cards[0]["buttons"].to(list).length() - 1
                ),
            ),
            wrap="wrap",
            spacing="2",
        ),
        rx.text(t("templates.card_rules"), size="1", color=rx.color("gray", 10)),
        spacing="3",
        width="100%",
    )


def _card_editor(index: int) -> rx.Component:
    """One card: its example file (uploaded to Meta on submit), its text, its buttons."""
    entry = TemplateEditorState.cards[index]
    product = TemplateEditorState.carousel["format"].to(str) == "product"
    return rx.vstack(
        rx.hstack(
            rx.text(t("templates.card"), f" {index + 1}", size="2", weight="medium"),
            rx.spacer(),
            rx.cond(
                ~product,
                uploads.one_file(
                    uploads.choose_button(
                        t("templates.example_choose"), "template-card-choose", size="1"
                    ),
                    f"template-card-upload-{index}",
                    TemplateEditorState.attach_card,
                    args=(index,),
                ),
            ),
            remove_button(TemplateEditorState.remove_card(index)),
            width="100%",
            align="center",
        ),
        rx.cond(
            product,
            rx.text(t("templates.product_card_hint"), size="1", color=rx.color("gray", 10)),
            rx.fragment(
                rx.cond(
                    entry["file"].to(str) != "",
                    rx.text(
                        entry["file"].to(str), size="1", color=rx.color("gray", 11), **ELLIPSIS
                    ),
                    rx.cond(
                        entry["header_handle"].to(str) != "",
                        rx.text(t("templates.example_kept"), size="1", color=rx.color("gray", 11)),
                    ),
                ),
                rx.text_area(
                    value=entry["body"].to(str),
                    on_change=lambda v: TemplateEditorState.set_card(index, v),
                    placeholder=t("templates.card_hint"),
                    max_length=rules.MAX_CARD_BODY,
                    rows="2",
                    width="100%",
                    data_testid="template-card-body",
                ),
                rx.foreach(
                    entry["variables"].to(list[str]),
                    lambda name: rx.hstack(
                        rx.code("{{" + name + "}}"),
                        rx.input(
                            value=entry["examples"].to(dict)[name].to(str),
                            on_change=lambda v: TemplateEditorState.set_card_example(
                                index, name, v
                            ),
                            placeholder=t("templates.example"),
                            size="1",
                            flex="1",
                            data_testid="template-card-example",
                        ),
                        width="100%",
                        align="center",
                    ),
                ),
            ),
        ),
        rx.foreach(
            entry["buttons"].to(list[dict]),
            lambda button, position: _card_button(index, button, position),
        ),
        spacing="2",
        width="100%",
        padding="10px",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        data_testid="template-card",
    )


def _card_button_adder(kind: str) -> rx.Component:
    """Adds a button to every card, offered where the cards' kind takes it."""
    product = TemplateEditorState.carousel["format"].to(str) == "product"
    button = rx.button(
        rx.icon("plus", size=12),
        t(f"templates.button_{kind}"),
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=TemplateEditorState.add_card_button(kind),
        data_testid=f"template-card-add-{kind}",
    )
    if kind in rules.CARD_BUTTONS and kind in rules.PRODUCT_CARD_BUTTONS:
        return button
    return rx.cond(product if kind in rules.PRODUCT_CARD_BUTTONS else ~product, button)


def _card_button(card: int, button: rx.Var, position: rx.Var) -> rx.Component:
    """A card's button: its kind is every card's, its text and link this card's own."""
    return button_row(
        button,
        lambda key, value: TemplateEditorState.set_card_button(card, position, key, value),
        "template-card-button",
    )
