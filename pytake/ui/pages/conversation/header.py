"""The conversation's header: who it is, the window, and the actions bar (assign, team,
labels, status, snooze).
"""

from __future__ import annotations

import reflex as rx

from pytake.ui.pages.conversation.state import SNOOZE_HOURS, ConversationState
from pytake.ui.pages.conversation.templates import TemplateSendState
from pytake.ui.pages.workspace import window_badge
from pytake.ui.session import SessionState, t


def _actions_bar() -> rx.Component:
    info = ConversationState.info
    status = info["status"].to(str)
    mine = info["mine"].to(bool)
    assignee = rx.cond(
        info["assignee"].to(str) != "", info["assignee"].to(str), t("thread.unassigned")
    )
    assign_menu = rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("user-round", size=14),
                assignee,
                rx.icon("chevron-down", size=14),
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="assign-menu",
            )
        ),
        rx.menu.content(
            rx.cond(
                ~mine,
                rx.menu.item(t("thread.take"), on_click=ConversationState.take, data_testid="take"),
            ),
            rx.foreach(
                ConversationState.members,
                lambda member: rx.menu.item(
                    rx.hstack(
                        rx.box(
                            width="8px",
                            height="8px",
                            border_radius="50%",
                            background=rx.cond(
                                member["online"].to(bool),
                                rx.color("grass", 9),
                                rx.color("gray", 6),
                            ),
                            data_testid=rx.cond(member["online"].to(bool), "online", "offline"),
                        ),
                        rx.text(member["name"]),
                        align="center",
                        spacing="2",
                    ),
                    on_click=ConversationState.assign_to(member["id"].to(int)),
                ),
            ),
            rx.cond(
                info["assignee"].to(str) != "",
                rx.fragment(
                    rx.menu.separator(),
                    rx.menu.item(t("thread.unassign"), on_click=ConversationState.unassign),
                ),
            ),
        ),
        on_open_change=ConversationState.load_members,
    )
    snooze_menu = icon_menu(
        "alarm-clock",
        "snooze",
        "snooze-menu",
        *[
            rx.menu.item(
                t(f"thread.snooze_{hours}h"),
                on_click=ConversationState.snooze(hours),
                data_testid=f"snooze-{hours}h",
            )
            for hours in SNOOZE_HOURS
        ],
        rx.menu.separator(),
        rx.menu.item(
            t("thread.mark_unread"),
            on_click=ConversationState.mark_unread,
            data_testid="mark-unread",
        ),
        variant="soft",
    )
    resolve = rx.cond(
        status == "resolved",
        rx.button(
            rx.icon("rotate-ccw", size=14),
            t("thread.reopen"),
            variant="soft",
            size="2",
            on_click=ConversationState.set_status("open"),
            data_testid="reopen",
        ),
        rx.button(
            rx.icon("check", size=14),
            t("thread.resolve"),
            size="2",
            on_click=ConversationState.set_status("resolved"),
            data_testid="resolve",
        ),
    )
    return rx.hstack(
        assign_menu,
        _team_menu(),
        _labels_menu(),
        snooze_menu,
        resolve,
        rx.icon_button(
            rx.icon("panel-right", size=16),
            variant=rx.cond(ConversationState.panel_open, "solid", "soft"),
            color_scheme="gray",
            on_click=ConversationState.toggle_panel,
            aria_label="contact",
            data_testid="contact-panel-toggle",
        ),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _team_menu() -> rx.Component:
    team = ConversationState.info["team"].to(str)
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("users", size=14),
                rx.cond(team != "", team, t("thread.no_team")),
                rx.icon("chevron-down", size=14),
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="team-menu",
            )
        ),
        rx.menu.content(
            rx.cond(
                ConversationState.teams.length() == 0,
                rx.menu.item(t("thread.no_teams_yet"), disabled=True),
            ),
            rx.foreach(
                ConversationState.teams,
                lambda item: rx.menu.item(
                    item["name"], on_click=ConversationState.assign_team(item["id"].to(int))
                ),
            ),
            rx.cond(
                team != "",
                rx.fragment(
                    rx.menu.separator(),
                    rx.menu.item(
                        t("thread.remove_team"), on_click=ConversationState.assign_team(None)
                    ),
                ),
            ),
        ),
        on_open_change=ConversationState.load_teams,
    )


def _labels_menu() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("tag", size=14),
                rx.cond(
                    ConversationState.info["labels"].to(list).length() > 0,
                    rx.foreach(
                        ConversationState.info["labels"].to(list[dict]),
                        lambda label: rx.badge(
                            label["name"], color_scheme=label["color"].to(str), size="1"
                        ),
                    ),
                    rx.text(t("thread.labels")),
                ),
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="labels-menu",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.cond(
                    ConversationState.labels.length() == 0,
                    rx.text(t("thread.no_labels_yet"), size="2", color=rx.color("gray", 11)),
                ),
                rx.foreach(
                    ConversationState.labels,
                    lambda label: rx.hstack(
                        rx.checkbox(
                            checked=label["on"].to(bool),
                            on_change=lambda _on: ConversationState.toggle_label(
                                label["id"].to(int)
                            ),
                        ),
                        rx.badge(label["name"], color_scheme=label["color"].to(str)),
                        align="center",
                        as_="label",
                        data_testid="label-option",
                    ),
                ),
                rx.cond(
                    SessionState.user_role != "agent",
                    rx.form(
                        rx.hstack(
                            rx.input(
                                name="name",
                                placeholder=t("thread.new_label"),
                                max_length=40,
                                size="1",
                                required=True,
                            ),
                            rx.button(t("thread.add"), size="1", type="submit"),
                            spacing="2",
                        ),
                        on_submit=ConversationState.create_label,
                        reset_on_submit=True,
                    ),
                ),
                spacing="2",
            ),
            max_width="280px",
        ),
        on_open_change=ConversationState.load_labels,
    )


def header() -> rx.Component:
    """Who and the window on the first line; the actions beside it, or below on a phone."""
    info = ConversationState.info
    return rx.flex(
        rx.hstack(
            rx.link(
                rx.icon_button(rx.icon("arrow-left"), variant="ghost", color_scheme="gray"),
                href="/inbox",
                data_testid="back-to-inbox",
            ),
            rx.avatar(fallback=info["initials"].to(str), size="3", radius="full"),
            rx.vstack(
                rx.text(info["contact"], weight="bold", size="3", data_testid="contact-name"),
                rx.text(info["number"], size="1", color=rx.color("gray", 10)),
                spacing="0",
                min_width="0",
            ),
            rx.spacer(),
            window_badge(info["window_expires_at"].to(str), info["window_open"].to(bool)),
            align="center",
            spacing="3",
            flex="1 1 320px",
            min_width="0",
        ),
        _actions_bar(),
        align="center",
        gap="8px 12px",
        wrap="wrap",
        width="100%",
        padding_bottom="12px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def more_menu() -> rx.Component:
    items = [
        ("location", "map-pin", "thread.send_location"),
        ("contact", "contact", "thread.send_contact"),
        ("buttons", "square-mouse-pointer", "thread.send_buttons"),
        ("list", "list", "thread.send_list"),
    ]
    return icon_menu(
        "plus",
        "more",
        "composer-more",
        *[
            rx.menu.item(
                rx.hstack(rx.icon(icon, size=16), rx.text(t(label)), align="center"),
                on_click=ConversationState.open_dialog(name),
                data_testid=f"compose-{name}",
            )
            for name, icon, label in items
        ],
        rx.menu.separator(),
        rx.menu.item(
            rx.hstack(rx.icon("file-text", size=16), rx.text(t("thread.send_template"))),
            on_click=TemplateSendState.open_templates,
            data_testid="compose-template",
        ),
        variant="ghost",
    )


def icon_menu(
    icon: str, label: str, testid: str, *items, variant: str, color_scheme: str = "gray", **props
) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon(icon, size=18),
                variant=variant,
                color_scheme=color_scheme,
                type="button",
                aria_label=label,
                data_testid=testid,
            )
        ),
        rx.menu.content(*items),
        **props,
    )
