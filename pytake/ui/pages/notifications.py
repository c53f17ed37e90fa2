"""The member's notification preferences: what notifies them through which channel, the
e-mail delay, quiet hours; and this browser's sound, desktop notifications and Web Push."""

from __future__ import annotations

import json

import reflex as rx

from pytake import mail, webpush
from pytake.auth.errors import AccessError
from pytake.jobs import alerts as alert_job
from pytake.services import alerts, devices, organization, preferences
from pytake.ui.forms import error_callout, form_text, hint, timezone_input
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, icon_tile, shell
from pytake.ui.notices import VOLUMES, NoticeState
from pytake.ui.pages.settings.frame import labelled
from pytake.ui.session import SessionState, in_transaction, t, translated


class PreferencesState(GuardedState):
    events: dict[str, list[str]] = {k: list(v) for k, v in preferences.DEFAULT_EVENTS.items()}
    mail_delay: str = str(preferences.DEFAULT_DELAY)
    quiet: bool = False
    quiet_from: str = "22:00"
    quiet_to: str = "07:00"
    timezone: str = "UTC"
    timezones: list[str] = []
    mail_ready: bool = False
    devices: list[dict] = []
    here: str = ""  # this browser's push endpoint; "unsupported" where it has none
    push_here: bool = False  # this browser is one of the member's push devices
    problem: str = ""
    version: int = 0  # remounts the form with the saved values

    @rx.event
    async def load(self):
        identity = self._identity()
        current = await in_transaction(preferences.get, identity)
        self._show(current)
        self.timezones = list(organization.timezones())
        self.mail_ready = mail.configured()
        self.problem = ""
        await self._reload_devices()
        return rx.call_script("window.pytakePush.endpoint()", callback=PreferencesState.located)

    def _show(self, current: preferences.Preferences) -> None:
        values = current.as_dict()
        self.events = values["events"]
        self.mail_delay = str(current.mail_delay)
        self.quiet, self.quiet_from, self.quiet_to = (
            current.quiet,
            current.quiet_from,
            current.quiet_to,
        )
        self.timezone = current.timezone
        self.version += 1

    async def _reload_devices(self) -> None:
        self.devices = await in_transaction(devices.listed, self._identity())
        self._mark()

    def _mark(self) -> None:
        self.push_here = any(d["endpoint"] == self.here for d in self.devices)

    @rx.event
    def located(self, endpoint: str):
        self.here = endpoint if isinstance(endpoint, str) else ""
        self._mark()

    @rx.event
    async def save(self, form_data: dict):
        self.problem = ""
        values = {
            "events": {
                kind: [c for c in preferences.CHANNELS if form_data.get(f"{kind}.{c}") == "on"]
                for kind in preferences.KINDS
            },
            "mail_delay": form_text(form_data, "mail_delay", 5),
            "quiet": form_data.get("quiet") == "on",
            "quiet_from": form_text(form_data, "quiet_from", 5),
            "quiet_to": form_text(form_data, "quiet_to", 5),
            "timezone": form_text(form_data, "timezone", 60),
        }
        try:
            saved = await in_transaction(preferences.save, self._identity(), values)
        except AccessError as exc:
            self.problem = await translated(self, exc)
            return None
        self._show(saved)
        session = await self.get_state(SessionState)
        return rx.toast.success(session._text("preferences.saved"))

    @rx.event
    async def enable_push(self):
        key = await in_transaction(webpush.application_key)
        return rx.call_script(
            f"window.pytakePush.subscribe({json.dumps(key)})", callback=PreferencesState.subscribed
        )

    @rx.event
    async def subscribed(self, answer: dict):
        session = await self.get_state(SessionState)
        if not isinstance(answer, dict) or "subscription" not in answer:
            reason = answer.get("error") if isinstance(answer, dict) else ""
            key = reason if reason in ("denied", "unsupported") else "failed"
            return rx.toast.error(session._text(f"devices.push_{key}"))
        try:
            await in_transaction(
                devices.subscribe,
                self._identity(),
                answer["subscription"],
                self.router.headers.user_agent,
            )
        except AccessError as exc:
            return rx.toast.error(await translated(self, exc))
        self.here = str(answer["subscription"].get("endpoint") or "")
        await self._reload_devices()
        return rx.toast.success(session._text("devices.push_on"))

    @rx.event
    def disable_push(self):
        return rx.call_script("window.pytakePush.unsubscribe()", callback=PreferencesState.gone)

    @rx.event
    async def gone(self, endpoint: str):
        await in_transaction(devices.forget_endpoint, self._identity(), endpoint)
        self.here = ""
        await self._reload_devices()

    @rx.event
    async def remove_device(self, device_id: int):
        try:
            await in_transaction(devices.forget, self._identity(), device_id)
        except AccessError as exc:
            return rx.toast.error(await translated(self, exc))
        await self._reload_devices()
        return None

    @rx.event
    async def test_push(self):
        """A push to each of the member's devices now, whatever their preferences say."""
        identity = self._identity()
        session = await self.get_state(SessionState)
        found = await in_transaction(alerts.devices_of, identity.user_id)
        if not found:
            return rx.toast.warning(session._text("devices.none"))
        vapid = await in_transaction(webpush.key_pair)
        payload = {
            "title": session._text("devices.test_title"),
            "body": session._text("devices.test_body"),
            "url": "/notifications",
            "tag": "pytake-test",
        }
        deliveries = await alert_job.push(found, vapid, payload)
        await self._reload_devices()
        reached = sum(d.ok for d in deliveries)
        if reached == len(deliveries):
            return rx.toast.success(session._text("devices.test_sent", count=reached))
        return rx.toast.warning(
            session._text("devices.test_partial", count=reached, total=len(deliveries))
        )


KIND_ICONS = {
    "new_conversation": "inbox",
    "message": "message-circle",
    "assigned": "user-check",
    "mention": "at-sign",
}


def _events() -> rx.Component:
    channels = preferences.CHANNELS
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell(t("preferences.event")),
                *[
                    rx.table.column_header_cell(
                        t(f"preferences.channel.{c}"), text_align="center", width="92px"
                    )
                    for c in channels
                ],
            )
        ),
        rx.table.body(
            *[
                rx.table.row(
                    rx.table.row_header_cell(
                        rx.hstack(
                            rx.icon(
                                KIND_ICONS[kind],
                                size=16,
                                color=rx.color("accent", 11),
                                flex_shrink="0",
                            ),
                            rx.vstack(
                                rx.text(t(f"preferences.kind.{kind}"), size="2", weight="medium"),
                                rx.text(
                                    t(f"preferences.kind.{kind}.hint"),
                                    size="1",
                                    color=rx.color("gray", 10),
                                ),
                                spacing="0",
                            ),
                            align="center",
                            spacing="3",
                        )
                    ),
                    *[
                        rx.table.cell(
                            rx.checkbox(
                                name=f"{kind}.{c}",
                                default_checked=PreferencesState.events[kind].contains(c),
                                size="2",
                                data_testid=f"pref-{kind}-{c}",
                            ),
                            text_align="center",
                            vertical_align="middle",
                        )
                        for c in channels
                    ],
                    align="center",
                )
                for kind in preferences.KINDS
            ]
        ),
        variant="surface",
        width="100%",
    )


def _clock(name: str, value: rx.Var) -> rx.Component:
    return labelled(
        f"preferences.{name}",
        rx.input(
            type="time",
            name=name,
            default_value=value,
            required=True,
            size="3",
            data_testid=f"pref-{name.replace('_', '-')}",
        ),
    )


def _heading(icon: str, title_key: str, body_key: str) -> rx.Component:
    return rx.hstack(
        icon_tile(icon),
        rx.vstack(
            rx.heading(t(title_key), size="4"),
            rx.text(t(body_key), size="2", color=rx.color("gray", 11)),
            spacing="1",
        ),
        spacing="3",
        align="start",
    )


def _preferences() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                _heading("bell", "preferences.what", "preferences.what.hint"),
                error_callout(PreferencesState.problem),
                _events(),
                rx.cond(
                    ~PreferencesState.mail_ready,
                    rx.callout(
                        # The setting's name only for those who can ask the operator for it.
                        rx.cond(
                            SessionState.is_admin,
                            t("preferences.no_smtp_admin"),
                            t("preferences.no_smtp"),
                        ),
                        icon="mail-x",
                        color_scheme="amber",
                        width="100%",
                    ),
                ),
                rx.grid(
                    labelled(
                        "preferences.mail_delay",
                        rx.select.root(
                            rx.select.trigger(width="100%"),
                            rx.select.content(
                                *[
                                    rx.select.item(
                                        t(f"preferences.delay.{minutes}"), value=str(minutes)
                                    )
                                    for minutes in preferences.MAIL_DELAYS
                                ]
                            ),
                            name="mail_delay",
                            default_value=PreferencesState.mail_delay,
                            size="3",
                        ),
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    width="100%",
                ),
                hint("preferences.mail_delay.hint"),
                rx.divider(),
                rx.hstack(
                    rx.icon("moon", size=18, color=rx.color("accent", 11)),
                    rx.text(t("preferences.quiet"), size="3", weight="bold"),
                    rx.spacer(),
                    rx.switch(
                        name="quiet",
                        default_checked=PreferencesState.quiet,
                        data_testid="pref-quiet",
                    ),
                    align="center",
                    width="100%",
                ),
                hint("preferences.quiet.hint"),
                rx.grid(
                    _clock("quiet_from", PreferencesState.quiet_from),
                    _clock("quiet_to", PreferencesState.quiet_to),
                    labelled(
                        "settings.timezone",
                        timezone_input(
                            "timezone",
                            PreferencesState.timezone,
                            PreferencesState.timezones,
                            data_testid="pref-timezone",
                        ),
                    ),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.button(
                    t("action.save"), type="submit", size="3", data_testid="preferences-save"
                ),
                spacing="4",
                width="100%",
            ),
            on_submit=PreferencesState.save,
            key=PreferencesState.version,
            width="100%",
        )
    )


def _switch_row(icon: str, key: str, hint_key: str, checked, on_change, testid: str):
    return rx.hstack(
        rx.icon(icon, size=18, color=rx.color("gray", 11)),
        rx.vstack(
            rx.text(t(key), size="2", weight="medium"),
            rx.text(t(hint_key), size="1", color=rx.color("gray", 10)),
            spacing="0",
        ),
        rx.spacer(),
        rx.switch(checked=checked, on_change=on_change, data_testid=testid),
        align="center",
        width="100%",
        spacing="3",
    )


def _this_device() -> rx.Component:
    return card(
        rx.vstack(
            _heading("monitor-smartphone", "devices.this", "devices.this.hint"),
            _switch_row(
                "volume-2",
                "devices.sound",
                "devices.sound.hint",
                NoticeState.sound == "on",
                lambda _: NoticeState.toggle_sound(),
                "pref-sound",
            ),
            rx.hstack(
                rx.text(t("devices.volume"), size="2", color=rx.color("gray", 11)),
                rx.select.root(
                    rx.select.trigger(),
                    rx.select.content(
                        *[rx.select.item(f"{float(v) * 100:.0f} %", value=v) for v in VOLUMES]
                    ),
                    value=NoticeState.volume,
                    on_change=NoticeState.set_volume,
                    size="2",
                ),
                align="center",
                padding_left="30px",
                spacing="3",
            ),
            _switch_row(
                "app-window",
                "devices.desktop",
                "devices.desktop.hint",
                NoticeState.desktop == "on",
                lambda _: NoticeState.toggle_desktop(),
                "pref-desktop",
            ),
            rx.divider(),
            rx.hstack(
                rx.icon("smartphone", size=18, color=rx.color("gray", 11)),
                rx.vstack(
                    rx.text(t("devices.push"), size="2", weight="medium"),
                    rx.text(t("devices.push.hint"), size="1", color=rx.color("gray", 10)),
                    spacing="0",
                ),
                align="center",
                spacing="3",
                width="100%",
            ),
            rx.cond(
                PreferencesState.here == "unsupported",
                rx.callout(t("devices.push_unsupported"), icon="info", width="100%"),
                rx.hstack(
                    rx.cond(
                        PreferencesState.push_here,
                        rx.button(
                            rx.icon("bell-off", size=16),
                            t("devices.push_disable"),
                            variant="soft",
                            color_scheme="gray",
                            on_click=PreferencesState.disable_push,
                            data_testid="push-disable",
                        ),
                        rx.button(
                            rx.icon("bell-ring", size=16),
                            t("devices.push_enable"),
                            on_click=PreferencesState.enable_push,
                            data_testid="push-enable",
                        ),
                    ),
                    rx.button(
                        rx.icon("send", size=16),
                        t("devices.test"),
                        variant="outline",
                        on_click=PreferencesState.test_push,
                        disabled=PreferencesState.devices.length() == 0,
                        data_testid="push-test",
                    ),
                    padding_left="30px",
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            spacing="4",
            width="100%",
        )
    )


def _device(device: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("smartphone", size=18, color=rx.color("gray", 11)),
        rx.vstack(
            rx.hstack(
                rx.text(
                    rx.cond(device["label"] != "", device["label"], t("devices.unknown")),
                    size="2",
                    weight="medium",
                ),
                rx.cond(
                    device["endpoint"] == PreferencesState.here,
                    rx.badge(t("devices.this_badge"), variant="soft", color_scheme="green"),
                ),
                spacing="2",
                align="center",
            ),
            rx.text(
                t("devices.added"),
                " ",
                device["created_at"],
                rx.cond(
                    device["last_used_at"] != "",
                    rx.fragment(" · ", t("devices.last_used"), " ", device["last_used_at"]),
                ),
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.cond(
                device["last_error"] != "",
                rx.text(device["last_error"], size="1", color=rx.color("red", 11)),
            ),
            spacing="0",
            width="100%",
        ),
        rx.icon_button(
            rx.icon("trash-2", size=16),
            variant="ghost",
            color_scheme="red",
            on_click=PreferencesState.remove_device(device["id"]),
            aria_label=t("devices.remove"),
            title=t("devices.remove"),
            data_testid="device-remove",
        ),
        align="center",
        spacing="3",
        width="100%",
        padding_y="8px",
        border_top=f"1px solid {rx.color('gray', 4)}",
        data_testid="device",
    )


def _devices() -> rx.Component:
    return card(
        rx.vstack(
            _heading("smartphone", "devices.list", "devices.list.hint"),
            rx.cond(
                PreferencesState.devices.length() == 0,
                rx.text(t("devices.none"), size="2", color=rx.color("gray", 10)),
                rx.vstack(rx.foreach(PreferencesState.devices, _device), spacing="0", width="100%"),
            ),
            spacing="4",
            width="100%",
        )
    )


def notifications_page() -> rx.Component:
    return shell(
        "nav.notifications",
        rx.grid(
            _preferences(),
            rx.vstack(_this_device(), _devices(), spacing="4", width="100%"),
            grid_template_columns=rx.breakpoints(initial="minmax(0, 1fr)", lg="3fr 2fr"),
            spacing="4",
            width="100%",
            align="start",
        ),
    )
