"""The settings area: one frame with a tab for each part an admin configures."""

from __future__ import annotations

import reflex as rx

from pytake.ui.forms import confirm
from pytake.ui.layout import shell
from pytake.ui.session import t

SECTIONS = [
    ("/settings", "building-2", "settings.section.organization"),
    ("/settings/channels", "smartphone", "settings.section.channels"),
    ("/settings/members", "users", "settings.section.members"),
    ("/settings/teams", "users-round", "settings.section.teams"),
    ("/settings/labels", "tag", "settings.section.labels"),
    ("/settings/hours", "clock", "settings.section.hours"),
    ("/settings/audit", "scroll-text", "settings.section.audit"),
]


def _tab(href: str, icon: str, key: str) -> rx.Component:
    path = rx.State.router.page.path
    active = (path == href) | (path == href + "/")
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(t(key), size="2", weight="medium"), spacing="2"),
        href=href,
        underline="none",
        padding="8px 12px",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
        border_bottom=rx.cond(
            active, f"2px solid {rx.color('accent', 9)}", "2px solid transparent"
        ),
        _hover={"color": rx.color("accent", 11)},
        white_space="nowrap",
        data_testid=f"settings-tab-{href.rsplit('/', 1)[-1]}",
    )


def settings_frame(intro_key: str, *content: rx.Component) -> rx.Component:
    return shell(
        "nav.settings",
        rx.vstack(
            rx.hstack(
                *[_tab(*section) for section in SECTIONS],
                spacing="1",
                width="100%",
                overflow_x="auto",
                border_bottom=f"1px solid {rx.color('gray', 5)}",
            ),
            rx.text(t(intro_key), size="2", color=rx.color("gray", 11)),
            *content,
            spacing="4",
            width="100%",
        ),
    )


def section_heading(key: str, *actions: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.heading(t(key), size="4"), rx.spacer(), *actions, align="center", width="100%"
    )


def labelled(
    key: str, control: rx.Component, hint_key: str | None = None, width: str = "100%"
) -> rx.Component:
    """A control with its label above and an optional hint below."""
    parts = [rx.text(t(key), as_="label", size="2", weight="medium"), control]
    if hint_key:
        parts.append(rx.text(t(hint_key), size="1", color=rx.color("gray", 10)))
    return rx.vstack(*parts, spacing="1", width=width)


def add_button(label_key: str, on_click, testid: str) -> rx.Component:
    return rx.button(rx.icon("plus", size=14), t(label_key), on_click=on_click, data_testid=testid)


def edit_and_delete(prefix: str, on_edit, on_delete) -> rx.Fragment:
    """A row's pencil and bin; deleting asks first, in the words of ``{prefix}.delete*``."""
    return rx.fragment(
        rx.icon_button(
            rx.icon("pencil", size=14),
            variant="ghost",
            on_click=on_edit,
            aria_label="edit",
            data_testid=f"{prefix.rstrip('s')}-edit",
        ),
        confirm(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                aria_label="delete",
            ),
            f"{prefix}.delete_title",
            f"{prefix}.delete_body",
            f"{prefix}.delete",
            on_delete,
        ),
    )
