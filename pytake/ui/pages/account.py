"""The user's own profile, and the organization's members (admins only)."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.i18n import LANGUAGES
from pytake.models import Role
from pytake.services import accounts, directory
from pytake.ui.forms import field, form_card, form_text, hint, new_password_fields, submit_button
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, shell
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


@access(min_role=Role.ADMIN)
class SettingsState(GuardedState):
    org_name: str = ""
    channels: int = 0
    members: list[dict] = []

    @rx.event
    async def load(self):
        identity = self._identity()
        org = await in_transaction(directory.organization, identity)
        self.org_name = org["name"]
        self.channels = org["channels"]
        self.members = await in_transaction(
            directory.members, identity.organization_id, me=identity.user_id
        )

    async def _apply(self, action, **kwargs):
        session = await self.get_state(SessionState)
        try:
            await in_transaction(action, self._identity(), **kwargs)
        except AccessError as exc:
            return rx.toast.error(exc.message(session.language))
        await self.load()
        return rx.toast.success(session._text("settings.saved"))

    @rx.event
    async def set_member_role(self, user_id: int, role: str):
        return await self._apply(_set_role, user_id=user_id, role=role)

    @rx.event
    async def set_member_active(self, user_id: int, active: bool):
        return await self._apply(_set_active, user_id=user_id, active=active)


def _checked_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AccessError("access.bad_request")
    return value


def _set_role(db, identity, *, user_id: int, role: str) -> None:
    accounts.set_role(
        db,
        organization_id=identity.organization_id,
        user_id=_checked_id(user_id),
        role=accounts.parse_role(role if isinstance(role, str) else ""),
        actor=identity,
    )


def _set_active(db, identity, *, user_id: int, active: bool) -> None:
    accounts.set_active(
        db,
        organization_id=identity.organization_id,
        user_id=_checked_id(user_id),
        active=active is True,
        actor=identity,
    )


def _member_row(member: rx.Var) -> rx.Component:
    user_id = member["id"].to(int)
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(member["name"], weight="medium"),
                rx.text(member["email"], size="1", color=rx.color("gray", 10)),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(),
                rx.select.content(*[rx.select.item(t(f"role.{r}"), value=r) for r in Role]),
                value=member["role"].to(str),
                on_change=lambda role: SettingsState.set_member_role(user_id, role),
                disabled=member["is_me"].to(bool),
            )
        ),
        rx.table.cell(
            rx.cond(
                member["active"].to(bool),
                rx.badge(t("settings.active"), color_scheme="green"),
                rx.badge(t("settings.inactive"), color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.cond(
                member["is_me"].to(bool),
                rx.text(t("settings.you"), size="1", color=rx.color("gray", 10)),
                rx.button(
                    rx.cond(
                        member["active"].to(bool), t("settings.deactivate"), t("settings.activate")
                    ),
                    variant="soft",
                    color_scheme=rx.cond(member["active"].to(bool), "red", "green"),
                    size="1",
                    on_click=SettingsState.set_member_active(user_id, ~member["active"].to(bool)),
                ),
            )
        ),
        align="center",
    )


def settings_page() -> rx.Component:
    return shell(
        "nav.settings",
        rx.vstack(
            card(
                rx.hstack(
                    rx.vstack(
                        rx.text(t("settings.organization"), size="2", color=rx.color("gray", 11)),
                        rx.heading(SettingsState.org_name, size="5"),
                        spacing="1",
                    ),
                    rx.spacer(),
                    rx.vstack(
                        rx.text(t("settings.channels"), size="2", color=rx.color("gray", 11)),
                        rx.heading(SettingsState.channels, size="5"),
                        spacing="1",
                        align="end",
                    ),
                    width="100%",
                )
            ),
            card(
                rx.heading(t("settings.members"), size="4", margin_bottom="12px"),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(t("settings.member")),
                            rx.table.column_header_cell(t("settings.role")),
                            rx.table.column_header_cell(t("settings.status")),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(SettingsState.members, _member_row)),
                    width="100%",
                ),
                rx.text(
                    t("settings.cli_hint"), size="1", color=rx.color("gray", 10), margin_top="12px"
                ),
            ),
            spacing="4",
            width="100%",
        ),
    )
