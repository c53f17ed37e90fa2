"""The invitation link's page: join the organization with the invited role, then sign in."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.services import invitations
from pytake.ui.forms import (
    error_callout,
    field,
    form_card,
    form_text,
    hint,
    new_password_fields,
    submit_button,
)
from pytake.ui.guard import GuardedState, access, navigate_after_sign_in
from pytake.ui.layout import auth_frame, card
from pytake.ui.session import SessionState, in_transaction, t, translated

# Refusals that mean the link itself is unusable: the page then shows no form.
LINK_REFUSALS = ("invitation.invalid", "invitation.expired", "invitation.used")


@access(public=("on_load", "accept"))
class InviteState(GuardedState):
    loaded: bool = False
    refusal: str = ""  # one of LINK_REFUSALS, shown in the tab's current language
    organization: str = ""
    email: str = ""
    role: str = ""
    error: str = ""
    busy: bool = False

    def _token(self) -> str:
        return str(self.router.page.params.get("token", ""))

    @rx.event
    async def on_load(self):
        self.loaded = self.busy = False
        self.refusal = self.error = self.organization = self.email = self.role = ""
        try:
            found = await in_transaction(invitations.lookup, self._token())
        except AccessError as exc:
            self.refusal = exc.code
        else:
            self.organization, self.email = found.organization, found.email
            self.role = found.role.value
        self.loaded = True

    @rx.event
    async def accept(self, form_data: dict):
        self.error = ""
        password = form_text(form_data, "password", 1000)
        if password != form_text(form_data, "password_confirm", 1000):
            self.error = await translated(self, "setup.passwords_differ")
            return
        session = await self.get_state(SessionState)
        self.busy = True
        yield
        try:
            _, ticket = await in_transaction(
                invitations.accept,
                self._token(),
                name=form_text(form_data, "name", 300),
                password=password,
                ip=self._client_ip(),
                user_agent=self.router.headers.user_agent,
                language=session.language,
            )
        except AccessError as exc:
            if exc.code in LINK_REFUSALS:
                self.refusal = exc.code
            else:
                self.error = await translated(self, exc)
            self.busy = False
            return
        yield navigate_after_sign_in(ticket, "/inbox")


def _filled(key: str, name: str, value: rx.Var) -> rx.Var:
    """A translated text with one ``{name}`` placeholder filled in the browser, so it
    follows a language switch."""
    return t(key).replace("{" + name + "}", value)


def _role_label() -> rx.Var:
    return SessionState.tr["role." + InviteState.role].to(str)


def _unusable() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading(t("invitation.unusable"), size="6"),
            error_callout(
                SessionState.tr[InviteState.refusal].to(str), data_testid="invite-refusal"
            ),
            rx.link(t("invitation.go_to_sign_in"), href="/login", data_testid="invite-sign-in"),
            spacing="4",
            width="100%",
        )
    )


def _form() -> rx.Component:
    heading = rx.vstack(
        rx.heading(_filled("invitation.title", "organization", InviteState.organization), size="6"),
        rx.text(_filled("invitation.subtitle", "role", _role_label()), color=rx.color("gray", 11)),
        spacing="3",
    )
    return form_card(
        heading,
        InviteState.error,
        InviteState.accept,
        field(
            "field.email",
            "email",
            type="email",
            value=InviteState.email,
            read_only=True,
            auto_complete="username",
            variant="soft",
            color_scheme="gray",
        ),
        field(
            "field.name",
            "name",
            auto_complete="name",
            required=True,
            max_length=120,
            auto_focus=True,
        ),
        *new_password_fields("field.password", "password"),
        hint("invitation.existing_account"),
        submit_button(
            "invitation.submit", busy=InviteState.busy, width="100%", data_testid="invite-submit"
        ),
    )


def invite_page() -> rx.Component:
    return auth_frame(
        rx.cond(
            InviteState.loaded,
            rx.cond(InviteState.refusal != "", _unusable(), _form()),
            rx.center(rx.spinner(size="3"), padding="48px"),
        )
    )
