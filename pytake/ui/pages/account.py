"""The user's own profile: name, language and password."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.i18n import LANGUAGES
from pytake.services import accounts
from pytake.ui.forms import field, form_card, form_text, hint, new_password_fields, submit_button
from pytake.ui.guard import GuardedState
from pytake.ui.layout import shell
from pytake.ui.session import SessionState, in_transaction, t, translated


class ProfileState(GuardedState):
    name: str = ""
    language: str = "en"
    profile_error: str = ""
    password_error: str = ""

    @rx.event
    async def load(self):
        identity = self._identity()
        session = await self.get_state(SessionState)
        self.name = identity.name
        self.language = identity.language or session.language
        self.profile_error = self.password_error = ""

    @rx.event
    def set_language_choice(self, value: str):
        if value in LANGUAGES:
            self.language = value

    @rx.event
    async def save_profile(self, form_data: dict):
        self.profile_error = ""
        language = form_text(form_data, "language", 10) or None
        try:
            user = await in_transaction(
                accounts.update_profile,
                self._identity(),
                name=form_text(form_data, "name", 300),
                language=language,
            )
        except AccessError as exc:
            self.profile_error = await translated(self, exc)
            return None
        session = await self.get_state(SessionState)
        session.user_name = self.name = user.name
        if user.locale:
            session.language = self.language = user.locale
            session.language_choice = user.locale
        return rx.toast.success(session._text("profile.saved"))

    @rx.event
    async def change_password(self, form_data: dict):
        self.password_error = ""
        session = await self.get_state(SessionState)
        new = form_text(form_data, "new_password")
        if new != form_text(form_data, "new_password_confirm"):
            self.password_error = session._text("setup.passwords_differ")
            return None
        try:
            revoked = await in_transaction(
                accounts.change_password,
                self._identity(),
                current=form_text(form_data, "current_password"),
                new=new,
                ip=self._client_ip(),
            )
        except AccessError as exc:
            self.password_error = await translated(self, exc)
            return None
        return [
            rx.call_script("document.getElementById('password-form').reset()"),
            rx.toast.success(session._text("profile.password_changed", count=revoked)),
        ]


def profile_page() -> rx.Component:
    return shell(
        "nav.profile",
        rx.grid(
            form_card(
                rx.heading(t("profile.details"), size="4"),
                ProfileState.profile_error,
                ProfileState.save_profile,
                field(
                    "field.name",
                    "name",
                    default_value=ProfileState.name,
                    key=ProfileState.name,
                    required=True,
                    max_length=120,
                ),
                rx.vstack(
                    rx.text(t("menu.language"), size="2", weight="medium"),
                    rx.select.root(
                        rx.select.trigger(width="100%"),
                        rx.select.content(
                            *[
                                rx.select.item(label, value=code)
                                for code, label in LANGUAGES.items()
                            ]
                        ),
                        name="language",
                        value=ProfileState.language,
                        on_change=ProfileState.set_language_choice,
                        size="3",
                    ),
                    spacing="1",
                    width="100%",
                ),
                submit_button("action.save", data_testid="profile-save"),
            ),
            form_card(
                rx.heading(t("profile.password"), size="4"),
                ProfileState.password_error,
                ProfileState.change_password,
                field(
                    "profile.current_password",
                    "current_password",
                    type="password",
                    auto_complete="current-password",
                    required=True,
                ),
                *new_password_fields("profile.new_password", "new_password"),
                hint("profile.password_note"),
                submit_button("profile.change_password", data_testid="password-save"),
                form_id="password-form",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
            align="start",
        ),
    )
