"""Members: roles, activation, capacity, and invitations to join."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.jobs import runner
from pytake.models import Role
from pytake.realtime import signals
from pytake.services import accounts, directory, invitations
from pytake.services.effects import Effects
from pytake.ui.forms import confirm, error_callout
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card
from pytake.ui.pages.settings.frame import labelled, section_heading, settings_frame
from pytake.ui.session import SessionState, in_transaction, t, translated


def _checked_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AccessError("access.bad_request")
    return value


def _set_role(s, identity, user_id: int, role: str) -> None:
    accounts.set_role(
        s,
        organization_id=identity.organization_id,
        user_id=_checked_id(user_id),
        role=accounts.parse_role(role if isinstance(role, str) else ""),
        actor=identity,
    )


def _set_active(s, identity, user_id: int, active: bool) -> list[tuple[int, int]]:
    return accounts.set_active(
        s,
        organization_id=identity.organization_id,
        user_id=_checked_id(user_id),
        active=active is True,
        actor=identity,
    )


def _capacity(value: object) -> int | None:
    """The form's text: empty is no limit; anything but a whole number is refused."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    if not text.isdigit():
        raise AccessError("account.bad_capacity", max=accounts.MAX_CONCURRENT)
    return int(text)


@access(min_role=Role.ADMIN)
class MembersState(GuardedState):
    members: list[dict] = []
    invitations: list[dict] = []
    invite_open: bool = False
    invite_role: str = "agent"
    invite_link: str = ""
    invite_note: str = ""  # how the invitation went out (e-mailed, or copy the link)
    problem: str = ""

    @rx.event
    async def load(self):
        identity = self._identity()
        self.members = await in_transaction(
            directory.members, identity.organization_id, me=identity.user_id
        )
        self.invitations = await in_transaction(invitations.pending, identity)

    async def _apply(self, action, *args):
        try:
            result = await in_transaction(action, self._identity(), *args)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        if isinstance(result, list):  # conversations returned to the queue: given out again
            await runner.announce(Effects(conversations=set(result)))
        await signals.scope_changed(self._identity().organization_id)
        await self.load()
        return rx.toast.success(await translated(self, "settings.saved"))

    @rx.event
    async def set_member_role(self, user_id: int, role: str):
        return await self._apply(_set_role, user_id, role)

    @rx.event
    async def set_member_active(self, user_id: int, active: bool):
        return await self._apply(_set_active, user_id, active)

    @rx.event
    async def set_capacity(self, user_id: int, value: str):
        try:
            limit = _capacity(value)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        return await self._apply(accounts.set_capacity, user_id, limit)

    @rx.event
    def start_invite(self):
        self.invite_open, self.invite_role = True, "agent"
        self.invite_link = self.invite_note = self.problem = ""

    @rx.event
    def close_invite(self, _open: bool = False):
        self.invite_open = False

    @rx.event
    def choose_role(self, role: str):
        if role in Role.__members__.values():
            self.invite_role = role

    @rx.event
    async def invite(self, form: dict):
        form = form if isinstance(form, dict) else {}
        email = form.get("email")
        session = await self.get_state(SessionState)
        try:
            sent = await invitations.send_invitation(
                self._identity(),
                email=email if isinstance(email, str) else "",
                role=self.invite_role,
                language=session.language,
                origin=self.router.url.origin,
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.problem = ""
        self.invite_link = sent["link"]
        if sent["emailed"]:
            self.invite_note = session._text("invitation.emailed")
        else:
            self.invite_note = sent["mail_error"] or session._text("invitation.copy_link")
        await self.load()

    @rx.event
    async def renew(self, invitation_id: int):
        try:
            token = await in_transaction(invitations.renew, self._identity(), invitation_id)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        self.invite_link = invitations.link(token, origin=self.router.url.origin)
        self.invite_note = await translated(self, "invitation.renewed")
        self.invite_open, self.problem = True, ""
        await self.load()
        return None

    @rx.event
    async def revoke(self, invitation_id: int):
        return await self._apply(invitations.revoke, invitation_id)


def _member_row(member: rx.Var) -> rx.Component:
    user_id = member["id"].to(int)
    active = member["active"].to(bool)
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
                on_change=lambda role: MembersState.set_member_role(user_id, role),
                disabled=member["is_me"].to(bool),
            )
        ),
        rx.table.cell(
            rx.input(
                default_value=member["capacity"].to(str),
                placeholder="∞",
                type="number",
                min=1,
                max=accounts.MAX_CONCURRENT,
                width="80px",
                on_blur=lambda value: MembersState.set_capacity(user_id, value),
                key=member["capacity"].to(str),
                data_testid="member-capacity",
            )
        ),
        rx.table.cell(
            rx.cond(
                active,
                rx.badge(t("settings.active"), color_scheme="green"),
                rx.badge(t("settings.inactive"), color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.cond(
                member["is_me"].to(bool),
                rx.text(t("settings.you"), size="1", color=rx.color("gray", 10)),
                rx.cond(
                    active,
                    confirm(
                        rx.button(
                            t("settings.deactivate"),
                            variant="soft",
                            color_scheme="red",
                            size="1",
                            data_testid="member-deactivate",
                        ),
                        "settings.deactivate_title",
                        "settings.deactivate_body",
                        "settings.deactivate",
                        MembersState.set_member_active(user_id, False),
                    ),
                    rx.button(
                        t("settings.activate"),
                        variant="soft",
                        color_scheme="green",
                        size="1",
                        on_click=MembersState.set_member_active(user_id, True),
                    ),
                ),
            )
        ),
        align="center",
        data_testid="member-row",
    )


def _invitation_row(row: rx.Var) -> rx.Component:
    invitation_id = row["id"].to(int)
    return rx.table.row(
        rx.table.cell(rx.text(row["email"], size="2")),
        rx.table.cell(rx.badge(SessionState.tr["role." + row["role"].to(str)], variant="soft")),
        rx.table.cell(
            rx.cond(
                row["expired"].to(bool),
                rx.badge(t("invitation.expired_badge"), color_scheme="amber"),
                rx.moment(
                    row["expires_at"],
                    from_now=True,
                    locale=SessionState.moment_locale,
                    font_size="12px",
                ),
            )
        ),
        rx.table.cell(
            rx.text(
                rx.cond(row["emailed"].to(bool), t("invitation.by_email"), t("invitation.by_link")),
                size="1",
                color=rx.color("gray", 10),
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    t("invitation.new_link"),
                    variant="soft",
                    size="1",
                    on_click=MembersState.renew(invitation_id),
                    data_testid="invitation-renew",
                ),
                rx.button(
                    t("invitation.revoke"),
                    variant="soft",
                    color_scheme="red",
                    size="1",
                    on_click=MembersState.revoke(invitation_id),
                    data_testid="invitation-revoke",
                ),
                spacing="2",
            )
        ),
        align="center",
        data_testid="invitation-row",
    )


def _invite_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("invitation.dialog_title")),
            rx.dialog.description(t("invitation.hint"), size="2", margin_bottom="12px"),
            error_callout(MembersState.problem, size="1", margin_bottom="12px"),
            rx.cond(
                MembersState.invite_link != "",
                rx.vstack(
                    rx.callout(MembersState.invite_note, icon="info", width="100%"),
                    rx.hstack(
                        rx.input(
                            value=MembersState.invite_link,
                            read_only=True,
                            width="100%",
                            data_testid="invite-link",
                        ),
                        rx.button(
                            rx.icon("copy", size=14),
                            t("invitation.copy"),
                            on_click=[
                                rx.set_clipboard(MembersState.invite_link),
                                rx.toast.success(t("invitation.copied")),
                            ],
                        ),
                        width="100%",
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button(t("invitation.done"), variant="soft")),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                rx.form(
                    rx.vstack(
                        labelled(
                            "field.email",
                            rx.input(
                                name="email",
                                type="email",
                                required=True,
                                max_length=254,
                                width="100%",
                                data_testid="invite-email",
                            ),
                        ),
                        labelled(
                            "settings.role",
                            rx.select.root(
                                rx.select.trigger(width="100%"),
                                rx.select.content(
                                    *[rx.select.item(t(f"role.{r}"), value=r) for r in Role]
                                ),
                                value=MembersState.invite_role,
                                on_change=MembersState.choose_role,
                            ),
                        ),
                        rx.hstack(
                            rx.dialog.close(
                                rx.button(
                                    t("thread.cancel"),
                                    variant="soft",
                                    color_scheme="gray",
                                    type="button",
                                )
                            ),
                            rx.button(
                                t("invitation.send"), type="submit", data_testid="invite-send"
                            ),
                            justify="end",
                            width="100%",
                        ),
                        spacing="3",
                    ),
                    on_submit=MembersState.invite,
                    reset_on_submit=False,
                ),
            ),
            max_width="520px",
        ),
        open=MembersState.invite_open,
        on_open_change=MembersState.close_invite,
    )


def _header(*keys: str) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(t(k)) for k in keys]))


def members_page() -> rx.Component:
    return settings_frame(
        "settings.intro.members",
        card(
            section_heading(
                "settings.members",
                rx.button(
                    rx.icon("user-plus", size=14),
                    t("invitation.invite"),
                    on_click=MembersState.start_invite,
                    data_testid="invite-open",
                ),
            ),
            rx.box(
                rx.table.root(
                    _header(
                        "settings.member",
                        "settings.role",
                        "settings.capacity",
                        "settings.status",
                        "settings.actions",
                    ),
                    rx.table.body(rx.foreach(MembersState.members, _member_row)),
                    width="100%",
                ),
                overflow_x="auto",
                width="100%",
                margin_top="12px",
            ),
            rx.text(t("settings.capacity.hint"), size="1", color=rx.color("gray", 10)),
        ),
        rx.cond(
            MembersState.invitations.length() > 0,
            card(
                section_heading("invitation.pending"),
                rx.box(
                    rx.table.root(
                        _header(
                            "field.email",
                            "settings.role",
                            "invitation.expires",
                            "invitation.sent",
                            "settings.actions",
                        ),
                        rx.table.body(rx.foreach(MembersState.invitations, _invitation_row)),
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                    margin_top="12px",
                ),
            ),
        ),
        _invite_dialog(),
    )
