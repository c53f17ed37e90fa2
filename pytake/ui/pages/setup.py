"""First-run page: create the organization and its owner, then sign in."""

from __future__ import annotations

import reflex as rx
from starlette.concurrency import run_in_threadpool

from pytake.auth.errors import AccessError
from pytake.services import accounts
from pytake.services import sandbox as sandbox_numbers
from pytake.ui.forms import field, form_card, form_text, new_password_fields, submit_button, titled
from pytake.ui.guard import GuardedState, access, navigate_after_sign_in
from pytake.ui.layout import auth_frame
from pytake.ui.pages.login import needs_setup
from pytake.ui.session import SessionState, in_transaction, t


def _setup_and_sign_in(
    db, *, organization, name, email, password, language, ip, user_agent, sandbox_url
):
    """``sandbox_url``: also add a sandbox number, answered there (None: do not)."""
    org, owner = accounts.setup(
        db,
        organization=organization,
        name=name,
        email=email,
        password=password,
        language=language,
        ip=ip,
    )
    if sandbox_url:
        sandbox_numbers.add_number(
            db, org.id, sandbox_url, language=language, actor_user_id=owner.id
        )
    return accounts.sign_in(db, email=email, password=password, ip=ip, user_agent=user_agent)


@access(public=("on_load", "submit"))
class SetupState(GuardedState):
    error: str = ""
    busy: bool = False
    sandbox_offered: bool = False

    @rx.event
    async def on_load(self):
        self.error = ""
        self.busy = False
        self.sandbox_offered = sandbox_numbers.refusal() is None
        if not await run_in_threadpool(needs_setup):
            return rx.redirect("/login")
        return None

    @rx.event
    async def submit(self, form_data: dict):
        session = await self.get_state(SessionState)
        self.error = ""
        password = form_text(form_data, "password", 1000)
        if password != form_text(form_data, "password_confirm", 1000):
            self.error = session._text("setup.passwords_differ")
            return
        self.busy = True
        yield
        wanted = self.sandbox_offered and form_data.get("sandbox") in ("on", True, "true")
        sandbox_url = (await sandbox_numbers.ready()).api_url if wanted else None
        try:
            _, ticket = await in_transaction(
                _setup_and_sign_in,
                organization=form_text(form_data, "organization", 300),
                name=form_text(form_data, "name", 300),
                email=form_text(form_data, "email", 300),
                password=password,
                language=session.language,
                ip=self.router.session.client_ip or None,
                user_agent=self.router.headers.user_agent,
                sandbox_url=sandbox_url,
            )
        except AccessError as exc:
            self.error = exc.message(session.language)
            self.busy = False
            return
        if sandbox_url:
            await sandbox_numbers.ready(refresh=True)
        yield navigate_after_sign_in(ticket, "/inbox")


def setup_page() -> rx.Component:
    return auth_frame(
        form_card(
            titled("setup.title", "setup.subtitle"),
            SetupState.error,
            SetupState.submit,
            field(
                "field.organization",
                "organization",
                required=True,
                auto_focus=True,
                max_length=120,
            ),
            field("field.name", "name", auto_complete="name", required=True, max_length=120),
            field("field.email", "email", type="email", auto_complete="username", required=True),
            *new_password_fields("field.password", "password"),
            rx.cond(
                SetupState.sandbox_offered,
                rx.text(
                    rx.hstack(
                        rx.checkbox(
                            name="sandbox", default_checked=True, data_testid="setup-sandbox"
                        ),
                        t("setup.sandbox"),
                        spacing="2",
                        align="center",
                    ),
                    as_="label",
                    size="2",
                ),
            ),
            submit_button(
                "setup.submit", busy=SetupState.busy, width="100%", data_testid="setup-submit"
            ),
        ),
    )
