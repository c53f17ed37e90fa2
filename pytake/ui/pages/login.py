"""Sign-in page."""

from __future__ import annotations

import reflex as rx
from starlette.concurrency import run_in_threadpool

from pytake import db
from pytake.auth.errors import AccessError
from pytake.services import accounts
from pytake.ui.forms import field, form_card, form_text, submit_button, titled
from pytake.ui.guard import (
    GuardedState,
    access,
    caller,
    navigate_after_sign_in,
    safe_next,
)
from pytake.ui.layout import auth_frame
from pytake.ui.session import in_transaction, t, translated


def needs_setup() -> bool:
    with db.session() as s:
        return accounts.needs_setup(s)


@access(public=("on_load", "submit"))
class LoginState(GuardedState):
    error: str = ""
    busy: bool = False

    @rx.event
    async def on_load(self):
        self.error = ""
        self.busy = False
        if await run_in_threadpool(needs_setup):
            return rx.redirect("/setup")
        if await caller(self.router.headers.cookie):
            return rx.redirect(self._next_path())
        if self.router.url.query_parameters.get("error") == "session":
            self.error = await translated(self, "auth.session_failed")
        return None

    def _next_path(self) -> str:
        return safe_next(self.router.url.query_parameters.get("next"))

    @rx.event
    async def submit(self, form_data: dict):
        self.error = ""
        email = form_text(form_data, "email", 300)
        password = form_text(form_data, "password", 1000)
        if not email or not password:
            self.error = await translated(self, "auth.fill_both")
            return
        self.busy = True
        yield
        try:
            _, ticket = await in_transaction(
                accounts.sign_in,
                email=email,
                password=password,
                ip=self.router.session.client_ip or None,
                user_agent=self.router.headers.user_agent,
            )
        except AccessError as exc:
            self.error = await translated(self, exc)
            self.busy = False
            return
        yield navigate_after_sign_in(ticket, self._next_path())


def login_page() -> rx.Component:
    return auth_frame(
        form_card(
            titled("login.title", "login.subtitle"),
            LoginState.error,
            LoginState.submit,
            field(
                "field.email",
                "email",
                type="email",
                auto_complete="username",
                required=True,
                auto_focus=True,
            ),
            field(
                "field.password",
                "password",
                type="password",
                auto_complete="current-password",
                required=True,
            ),
            submit_button(
                "login.submit", busy=LoginState.busy, width="100%", data_testid="login-submit"
            ),
        ),
        rx.text(t("login.help"), size="1", color=rx.color("gray", 10), text_align="center"),
    )
