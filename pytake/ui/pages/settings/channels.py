"""Channels: the organization's WhatsApp numbers, their health, and what to paste into Meta.

Secrets are write-only here: the page sends new values to the server and never receives
one back, except the verify token on an explicit, audited "show".
"""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.services import channels
from pytake.services import sandbox as sandbox_numbers
from pytake.settings import get_settings
from pytake.ui.forms import EditorMixin, confirm, editor_dialog
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state, icon_tile
from pytake.ui.pages.settings.frame import add_button, labelled, section_heading, settings_frame
from pytake.ui.session import SessionState, in_transaction, t, translated

HEALTH_COLORS = {
    "ok": "green",
    "waiting": "amber",
    "error": "red",
    "token_invalid": "red",
    "disabled": "gray",
}
FORM_FIELDS = (
    "name",
    "display_number",
    "phone_number_id",
    "waba_id",
    "app_id",
    "catalog_id",
    "access_token",
    "app_secret",
    "verify_token",
    "rate_limit",
    "pair_limit",
    "pair_window_seconds",
)


@access(min_role=Role.ADMIN)
class ChannelsState(EditorMixin, GuardedState):
    rows: list[dict] = []
    webhook_url: str = ""
    revealed_id: int = 0
    revealed_token: str = ""
    tested_id: int = 0
    test: dict = {}
    testing: bool = False
    sandbox_enabled: bool = get_settings().sandbox

    @rx.event
    async def load(self):
        self.rows = await in_transaction(channels.overview, self._identity())
        base = get_settings().public_url or self.router.url.origin
        self.webhook_url = base.rstrip("/") + channels.WEBHOOK_PATH
        self.revealed_id, self.revealed_token = 0, ""

    @rx.event
    def start(self, channel_id: int):
        found = next((row for row in self.rows if row["id"] == channel_id), None)
        empty = {"id": 0, "name": "", "display_number": "", "app_id": "", "catalog_id": ""}
        empty["rate_limit"] = 80
        self._open_editor(found or {**empty, "pair_limit": 0, "pair_window_seconds": 0})

    @rx.event
    async def save(self, form: dict):
        form = form if isinstance(form, dict) else {}
        values = {name: form[name] for name in FORM_FIELDS if isinstance(form.get(name), str)}
        channel_id = self.editing.get("id") or 0
        if channel_id:
            saved = await self._save_editor(channels.update, channel_id, values)
        else:
            saved = await self._save_editor(channels.add, values)
        return rx.toast.success(await translated(self, "settings.saved")) if saved else None

    @rx.event
    async def add_sandbox(self):
        """A simulated number, ready at once: its phone page plays the customers."""
        try:
            sandbox = await sandbox_numbers.ready()
            await in_transaction(sandbox_numbers.add, self._identity(), sandbox.api_url)
            await sandbox_numbers.ready(refresh=True)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        await self.load()
        return rx.toast.success(await translated(self, "sandbox.added"))

    @rx.event
    async def set_active(self, channel_id: int, active: bool):
        try:
            await in_transaction(channels.set_active, self._identity(), channel_id, active is True)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        await self.load()
        return None

    @rx.event
    async def reveal(self, channel_id: int):
        if self.revealed_id == channel_id:
            self.revealed_id, self.revealed_token = 0, ""
            return None
        try:
            token = await in_transaction(channels.reveal_verify_token, self._identity(), channel_id)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        self.revealed_id, self.revealed_token = channel_id, token
        return None

    @rx.event
    async def test_connection(self, channel_id: int):
        self.tested_id, self.test, self.testing = channel_id, {}, True
        yield
        try:
            result = await channels.test_connection(self._identity(), channel_id)
        except AccessError as refusal:
            self.testing = False
            yield rx.toast.error(await translated(self, refusal))
            return
        session = await self.get_state(SessionState)
        self.test = {
            "ok": result["ok"],
            "checks": [
                {
                    "ok": check["ok"],
                    "title": session._text(check["key"]),
                    "detail": check.get("detail") or "",
                }
                for check in result["checks"]
            ],
        }
        self.testing = False
        await self.load()


def _fact(key: str, value: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(t(key), size="1", color=rx.color("gray", 10)),
        value,
        spacing="0",
        min_width="140px",
    )


def _when(value: rx.Var) -> rx.Component:
    return rx.cond(
        value.to(str) != "",
        rx.moment(value, from_now=True, locale=SessionState.moment_locale, font_size="14px"),
        rx.text(t("channels.never"), size="2", color=rx.color("gray", 10)),
    )


def _test_result() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            ChannelsState.test["checks"].to(list[dict]),
            lambda check: rx.hstack(
                rx.cond(
                    check["ok"].to(bool),
                    rx.icon("circle-check", size=16, color=rx.color("green", 10)),
                    rx.icon("circle-x", size=16, color=rx.color("red", 10)),
                ),
                rx.vstack(
                    rx.text(check["title"], size="2", weight="medium"),
                    rx.cond(
                        check["detail"].to(str) != "",
                        rx.text(check["detail"], size="1", color=rx.color("gray", 11)),
                    ),
                    spacing="0",
                ),
                align="start",
                spacing="2",
                data_testid="connection-check",
            ),
        ),
        spacing="2",
        padding="12px",
        border_radius="8px",
        background=rx.color("gray", 2),
        width="100%",
        data_testid="connection-result",
    )


def _channel_card(row: rx.Var) -> rx.Component:
    channel_id = row["id"].to(int)
    health = row["health"].to(str)
    active = row["is_active"].to(bool)
    return card(
        rx.vstack(
            rx.hstack(
                icon_tile("smartphone"),
                rx.vstack(
                    rx.heading(row["name"], size="4"),
                    rx.text(row["display_number"], size="2", color=rx.color("gray", 11)),
                    spacing="0",
                ),
                rx.spacer(),
                rx.cond(
                    row["sandbox"].to(bool),
                    rx.badge(t("sandbox.badge"), color_scheme="violet", size="2"),
                ),
                rx.badge(
                    SessionState.tr["channels.health." + health],
                    color_scheme=rx.match(health, *HEALTH_COLORS.items(), "gray"),
                    size="2",
                    data_testid="channel-health",
                ),
                width="100%",
                align="center",
            ),
            rx.flex(
                _fact("channels.phone_number_id", rx.code(row["phone_number_id"], size="2")),
                _fact("channels.waba_id", rx.code(row["waba_id"], size="2")),
                _fact(
                    "channels.rate_limit",
                    rx.text(row["rate_limit"].to(str) + " " + t("channels.per_second"), size="2"),
                ),
                _fact("channels.last_webhook", _when(row["last_webhook_at"])),
                spacing="5",
                wrap="wrap",
            ),
            rx.cond(
                row["last_error"].to(str) != "",
                rx.callout.root(
                    rx.callout.icon(rx.icon("triangle-alert", size=16)),
                    rx.callout.text(row["last_error"]),
                    color_scheme="red",
                    size="1",
                    width="100%",
                ),
            ),
            rx.cond(
                ChannelsState.revealed_id == channel_id,
                rx.hstack(
                    rx.input(
                        value=ChannelsState.revealed_token,
                        read_only=True,
                        width="100%",
                        font_family="monospace",
                        data_testid="verify-token",
                    ),
                    rx.icon_button(
                        rx.icon("copy", size=14),
                        variant="soft",
                        on_click=rx.set_clipboard(ChannelsState.revealed_token),
                        aria_label="copy",
                    ),
                    width="100%",
                ),
            ),
            rx.cond(
                (ChannelsState.tested_id == channel_id) & ~ChannelsState.testing,
                rx.cond(ChannelsState.test.contains("checks"), _test_result()),
            ),
            rx.flex(
                rx.cond(
                    row["sandbox"].to(bool) & active,
                    rx.link(
                        rx.button(rx.icon("smartphone", size=14), t("sandbox.open_phone")),
                        href="/sandbox/phone",
                        data_testid="open-phone",
                    ),
                ),
                rx.button(
                    rx.icon("plug-zap", size=14),
                    t("channels.test"),
                    variant="soft",
                    loading=ChannelsState.testing & (ChannelsState.tested_id == channel_id),
                    on_click=ChannelsState.test_connection(channel_id),
                    data_testid="channel-test",
                ),
                rx.button(
                    rx.icon("pencil", size=14),
                    t("channels.edit"),
                    variant="soft",
                    color_scheme="gray",
                    on_click=ChannelsState.start(channel_id),
                    data_testid="channel-edit",
                ),
                rx.button(
                    rx.icon("key-round", size=14),
                    rx.cond(
                        ChannelsState.revealed_id == channel_id,
                        t("channels.hide_verify_token"),
                        t("channels.show_verify_token"),
                    ),
                    variant="soft",
                    color_scheme="gray",
                    on_click=ChannelsState.reveal(channel_id),
                    data_testid="channel-reveal",
                ),
                rx.spacer(),
                rx.cond(
                    active,
                    confirm(
                        rx.button(
                            t("channels.disable"),
                            variant="soft",
                            color_scheme="red",
                            data_testid="channel-disable",
                        ),
                        "channels.disable_title",
                        "channels.disable_body",
                        "channels.disable",
                        ChannelsState.set_active(channel_id, False),
                    ),
                    rx.button(
                        t("channels.enable"),
                        variant="soft",
                        color_scheme="green",
                        on_click=ChannelsState.set_active(channel_id, True),
                        data_testid="channel-enable",
                    ),
                ),
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        data_testid="channel-card",
    )


def _secret_input(name: str, editing: rx.Var, **props) -> rx.Component:
    return rx.input(
        name=name,
        type="password",
        auto_complete="off",
        placeholder=rx.cond(editing, t("channels.keep_secret"), ""),
        required=~editing & (name != "verify_token"),
        max_length=channels.MAX_SECRET,
        width="100%",
        data_testid=f"channel-{name.replace('_', '-')}",
        **props,
    )


def _number(name: str, value: rx.Var, low: float, high: float) -> rx.Component:
    """A limit: empty (or 0 from the server) shows the default and keeps the saved value."""
    return rx.input(
        name=name,
        type="number",
        min=low,
        max=high,
        default_value=rx.cond(value.to(float) > 0, value.to(str), ""),
        placeholder=t("channels.default_limit"),
        width="100%",
        data_testid=f"channel-{name.replace('_', '-')}",
    )


def _channel_dialog() -> rx.Component:
    editing = ChannelsState.editing
    existing = editing["id"].to(int) > 0
    ids = rx.grid(
        labelled(
            "channels.phone_number_id",
            rx.input(
                name="phone_number_id",
                required=True,
                inputmode="numeric",
                width="100%",
                data_testid="channel-phone-number-id",
            ),
        ),
        labelled(
            "channels.waba_id",
            rx.input(
                name="waba_id",
                required=True,
                inputmode="numeric",
                width="100%",
                data_testid="channel-waba-id",
            ),
        ),
        columns="2",
        spacing="3",
        width="100%",
    )
    return editor_dialog(
        ChannelsState,
        ("channels.add", "channels.edit"),
        ChannelsState.save,
        "channel-save",
        rx.grid(
            labelled(
                "channels.name",
                rx.input(
                    name="name",
                    default_value=editing["name"].to(str),
                    max_length=120,
                    width="100%",
                    data_testid="channel-name",
                ),
            ),
            labelled(
                "channels.display_number",
                rx.input(
                    name="display_number",
                    default_value=editing["display_number"].to(str),
                    placeholder="+55 11 91234-5678",
                    required=True,
                    width="100%",
                    data_testid="channel-display-number",
                ),
            ),
            columns="2",
            spacing="3",
            width="100%",
        ),
        rx.cond(existing, rx.fragment(), ids),
        labelled("channels.access_token", _secret_input("access_token", existing)),
        labelled("channels.app_secret", _secret_input("app_secret", existing)),
        labelled(
            "channels.verify_token",
            _secret_input("verify_token", existing),
            "channels.verify_token.hint",
        ),
        *[
            labelled(
                f"channels.{key}",
                rx.input(
                    name=key,
                    default_value=editing[key].to(str),
                    inputmode="numeric",
                    width="100%",
                    data_testid=f"channel-{key.replace('_', '-')}",
                ),
                f"channels.{key}.hint",
            )
            for key in ("app_id", "catalog_id")
        ],
        rx.grid(
            labelled(
                "channels.rate_limit",
                _number("rate_limit", editing["rate_limit"], 1, channels.MAX_RATE),
                "channels.rate_limit.hint",
            ),
            labelled(
                "channels.pair_limit",
                _number("pair_limit", editing["pair_limit"], 1, channels.MAX_PAIR_LIMIT),
                "channels.pair_limit.hint",
            ),
            labelled(
                "channels.pair_window",
                _number(
                    "pair_window_seconds",
                    editing["pair_window_seconds"],
                    1,
                    channels.MAX_PAIR_WINDOW,
                ),
            ),
            columns="3",
            spacing="3",
            width="100%",
        ),
        description=rx.cond(existing, t("channels.edit_hint"), t("channels.add_hint")),
        max_width="600px",
    )


def _webhook_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading(t("channels.webhook_title"), size="3"),
            rx.text(t("channels.webhook_hint"), size="2", color=rx.color("gray", 11)),
            rx.hstack(
                rx.input(
                    value=ChannelsState.webhook_url,
                    read_only=True,
                    width="100%",
                    font_family="monospace",
                    data_testid="webhook-url",
                ),
                rx.button(
                    rx.icon("copy", size=14),
                    t("invitation.copy"),
                    variant="soft",
                    on_click=[
                        rx.set_clipboard(ChannelsState.webhook_url),
                        rx.toast.success(t("invitation.copied")),
                    ],
                ),
                width="100%",
            ),
            rx.text(t("channels.webhook_fields"), size="1", color=rx.color("gray", 10)),
            spacing="2",
            width="100%",
        )
    )


def channels_page() -> rx.Component:
    return settings_frame(
        "settings.intro.channels",
        section_heading(
            "settings.section.channels",
            rx.cond(
                ChannelsState.sandbox_enabled,
                rx.button(
                    rx.icon("flask-conical", size=14),
                    t("sandbox.add"),
                    variant="soft",
                    on_click=ChannelsState.add_sandbox,
                    data_testid="sandbox-add",
                ),
            ),
            add_button("channels.add", ChannelsState.start(0), "channel-add"),
        ),
        _webhook_card(),
        rx.cond(
            ChannelsState.rows.length() > 0,
            rx.vstack(rx.foreach(ChannelsState.rows, _channel_card), spacing="4", width="100%"),
            empty_state("smartphone", "channels.empty_title", "channels.empty_body"),
        ),
        _channel_dialog(),
    )
