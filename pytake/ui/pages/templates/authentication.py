"""The template editor's part for an authentication template, whose text Meta writes."""

from __future__ import annotations

import reflex as rx

from pytake.channels.whatsapp import templates as rules
from pytake.ui.pages.templates.controls import labelled_check, with_label
from pytake.ui.pages.templates.editor_state import TemplateEditorState
from pytake.ui.session import t


def _auth_input(key: str, placeholder, limit: int, **props) -> rx.Component:
    return rx.input(
        value=TemplateEditorState.auth[key].to(str),
        on_change=lambda value: TemplateEditorState.set_auth(key, value),
        placeholder=placeholder,
        max_length=limit,
        width="100%",
        data_testid=f"template-auth-{key}",
        **props,
    )


def authentication_editor() -> rx.Component:
    """Meta writes an authentication template's text; the business picks its lines and its
    one-time-password button (one-tap and zero-tap fill the code into its Android app)."""
    auth = TemplateEditorState.auth
    otp = auth["otp"].to(str)
    app = rx.vstack(
        with_label("templates.otp_package", _auth_input("package", "com.example.shop", 224)),
        with_label("templates.otp_signature", _auth_input("signature", "K8a/AINcGX7", 11)),
        rx.cond(
            otp == "one_tap",
            with_label(
                "templates.otp_autofill", _auth_input("autofill", t("templates.optional"), 25)
            ),
        ),
        rx.cond(
            otp == "zero_tap",
            labelled_check(
                "templates.otp_terms",
                auth["terms"].to(bool),
                lambda on: TemplateEditorState.set_auth("terms", on),
                "template-auth-terms",
            ),
        ),
        spacing="3",
        width="100%",
    )
    return rx.vstack(
        rx.callout(t("templates.auth_hint"), icon="info", size="1", width="100%"),
        labelled_check(
            "templates.auth_security",
            auth["security"].to(bool),
            lambda on: TemplateEditorState.set_auth("security", on),
            "template-auth-security",
        ),
        with_label(
            "templates.auth_expiry",
            _auth_input("expiry", t("templates.optional"), 2, type="number", min=1, max=90),
        ),
        with_label(
            "templates.otp",
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="template-auth-otp"),
                rx.select.content(
                    *[rx.select.item(t(f"templates.otp_{o}"), value=o) for o in rules.OTP_TYPES]
                ),
                value=otp,
                on_change=lambda chosen: TemplateEditorState.set_auth("otp", chosen),
            ),
        ),
        with_label("templates.button_text", _auth_input("text", t("templates.optional"), 25)),
        rx.cond(otp != "copy_code", app),
        spacing="3",
        width="100%",
    )
