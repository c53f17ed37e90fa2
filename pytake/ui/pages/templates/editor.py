"""The template editor's dialog: the draft's account, name, category and language, then its
content beside the preview. The parts of particular kinds are in ``authentication`` and
``marketing``, the preview in ``preview``, the state in ``editor_state``."""

from __future__ import annotations

import reflex as rx

from pytake.channels.whatsapp import templates as rules
from pytake.ui import uploads
from pytake.ui.forms import error_callout
from pytake.ui.pages.templates.authentication import authentication_editor
from pytake.ui.pages.templates.controls import (
    ELLIPSIS,
    button_row,
    labelled_check,
    media_icon,
    with_label,
)
from pytake.ui.pages.templates.editor_state import TemplateEditorState
from pytake.ui.pages.templates.marketing import carousel_editor, offer_editor
from pytake.ui.pages.templates.preview import draft_preview
from pytake.ui.session import t

EXAMPLE_UPLOAD_ID = "template-example-upload"


def template_editor() -> rx.Component:
    """The dialog of a new template, or of an edit (``TemplateEditorState.editing_id``)."""
    draft = TemplateEditorState
    editing = draft.editing_id > 0
    fields = rx.vstack(
        rx.cond(
            ~editing & (draft.accounts.length() > 1),
            with_label(
                "templates.account",
                rx.select.root(
                    rx.select.trigger(width="100%", data_testid="template-account"),
                    rx.select.content(
                        rx.foreach(
                            draft.accounts,
                            lambda a: rx.select.item(a["name"], value=a["value"].to(str)),
                        )
                    ),
                    value=draft.account,
                    on_change=lambda v: TemplateEditorState.set_field("account", v),
                ),
            ),
        ),
        with_label(
            "templates.name",
            _text_input(
                "name",
                draft.name,
                512,
                placeholder="order_update",
                read_only=editing,
                variant=rx.cond(editing, "soft", "surface"),
                color_scheme="gray",
            ),
        ),
        rx.hstack(
            with_label(
                "templates.category",
                _choice(
                    "category",
                    draft.category,
                    [(c, t(f"templates.category_{c}")) for c in rules.CATEGORIES],
                    disabled=draft.category_locked,
                ),
            ),
            with_label(
                "templates.language",
                _choice(
                    "language",
                    draft.language,
                    [(c, c) for c in rules.LANGUAGES],
                    disabled=editing,
                ),
            ),
            width="100%",
        ),
        rx.cond(draft.authentication, authentication_editor(), _content_editor()),
        spacing="3",
        flex="1 1 300px",
        min_width="0",
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(editing, t("templates.edit"), t("templates.new"))),
            rx.cond(
                editing,
                rx.dialog.description(
                    t("templates.edit_hint"),
                    size="2",
                    color=rx.color("gray", 11),
                    margin_bottom="12px",
                ),
            ),
            error_callout(
                draft.problem, size="1", margin_bottom="12px", data_testid="template-problem"
            ),
            rx.flex(fields, draft_preview(), gap="16px", wrap="wrap"),
            rx.hstack(
                rx.dialog.close(rx.button(t("thread.cancel"), variant="soft", color_scheme="gray")),
                rx.button(
                    t("templates.submit"),
                    on_click=TemplateEditorState.submit,
                    loading=draft.submitting,
                    data_testid="template-submit",
                ),
                justify="end",
                width="100%",
                margin_top="16px",
            ),
            max_width="820px",
        ),
        open=draft.open,
        on_open_change=TemplateEditorState.close,
    )


def _content_editor() -> rx.Component:
    """Header, offer, body with its examples, footer and buttons, or the body and a
    carousel's cards: every kind but authentication."""
    draft = TemplateEditorState
    marketing = draft.category == "marketing"
    body = rx.fragment(
        with_label(
            "templates.body",
            rx.text_area(
                value=draft.body,
                on_change=lambda v: TemplateEditorState.set_field("body", v),
                placeholder=t("templates.body_hint"),
                max_length=rules.MAX_BODY,
                rows="5",
                width="100%",
                data_testid="template-body",
            ),
        ),
        rx.foreach(
            draft.variables,
            lambda name: rx.hstack(
                rx.code("{{" + name + "}}"),
                rx.input(
                    value=draft.examples.get(name, "").to(str),
                    on_change=lambda v: TemplateEditorState.set_example(name, v),
                    placeholder=t("templates.example"),
                    size="1",
                    flex="1",
                    data_testid="template-example",
                ),
                width="100%",
                align="center",
            ),
        ),
    )
    standard = rx.vstack(
        labelled_check(
            "templates.call_permission",
            draft.call_permission,
            TemplateEditorState.set_call_permission,
            "template-call-permission",
        ),
        rx.cond(
            ~draft.offering,
            with_label("templates.footer", _text_input("footer", draft.footer, rules.MAX_FOOTER)),
        ),
        rx.text(t("templates.buttons"), size="2", weight="medium"),
        rx.foreach(draft.buttons, _button_editor),
        rx.hstack(
            *[
                rx.button(
                    rx.icon("plus", size=12),
                    t(f"templates.button_{kind}"),
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=TemplateEditorState.add_button(kind),
                    data_testid=f"template-add-{kind}",
                )
                for kind in rules.BUTTON_KINDS
            ],
            wrap="wrap",
            spacing="2",
        ),
        spacing="3",
        width="100%",
    )
    return rx.vstack(
        rx.cond(
            marketing,
            labelled_check(
                "templates.carousel",
                draft.carousel["enabled"].to(bool),
                lambda on: TemplateEditorState.set_carousel("enabled", on),
                "template-carousel",
            ),
        ),
        rx.cond(~draft.carousel_on, _header_editor()),
        rx.cond(marketing & ~draft.carousel_on, offer_editor()),
        body,
        rx.cond(draft.carousel_on, carousel_editor(), standard),
        spacing="3",
        width="100%",
    )


def _header_editor() -> rx.Component:
    """The header's kind, then its text or its example file (uploaded to Meta on submit)."""
    draft = TemplateEditorState
    example = rx.vstack(
        rx.hstack(
            uploads.one_file(
                uploads.choose_button(t("templates.example_choose"), "template-example-choose"),
                EXAMPLE_UPLOAD_ID,
                TemplateEditorState.attach_example,
            ),
            rx.cond(
                draft.example_name != "",
                rx.hstack(
                    media_icon(14),
                    rx.text(draft.example_name, size="2", max_width="220px", **ELLIPSIS),
                    spacing="1",
                    align="center",
                    data_testid="template-example-file",
                ),
                rx.cond(
                    draft.header_handle != "",
                    rx.text(t("templates.example_kept"), size="2", color=rx.color("gray", 11)),
                ),
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        rx.text(
            rx.match(
                draft.header_format,
                ("image", t("templates.example_hint_image")),
                ("video", t("templates.example_hint_video")),
                t("templates.example_hint_document"),
            ),
            size="1",
            color=rx.color("gray", 10),
        ),
        rx.cond(
            draft.app_missing,
            rx.callout(
                t("template.app_id_missing"),
                icon="info",
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="template-app-missing",
            ),
        ),
        spacing="2",
        width="100%",
    )
    return with_label(
        "templates.header",
        rx.vstack(
            rx.hstack(
                rx.box(
                    _choice(
                        "header_format",
                        draft.header_format,
                        [(f, t(f"templates.header_{f}")) for f in rules.HEADER_FORMATS],
                    ),
                    width="150px",
                    flex_shrink="0",
                ),
                rx.cond(
                    draft.header_format == "text",
                    _text_input(
                        "header",
                        draft.header,
                        rules.MAX_HEADER,
                        placeholder=t("templates.header_hint"),
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(draft.media_header, example),
            spacing="2",
            width="100%",
        ),
    )


def _choice(field: str, value: rx.Var, options: list[tuple[str, rx.Var]], **props) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid=f"template-{field}"),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in options]),
        value=value,
        on_change=lambda chosen: TemplateEditorState.set_field(field, chosen),
        **props,
    )


def _text_input(field: str, value: rx.Var, limit: int, **props) -> rx.Component:
    return rx.input(
        value=value,
        on_change=lambda typed: TemplateEditorState.set_field(field, typed),
        max_length=limit,
        width="100%",
        data_testid=f"template-{field}",
        **props,
    )


def _button_editor(button: rx.Var, index: rx.Var) -> rx.Component:
    return button_row(
        button,
        lambda key, value: TemplateEditorState.set_button(index, key, value),
        "template-button",
        remove=TemplateEditorState.remove_button(index),
    )
