"""The builder's page: the flow's header and settings (name, trigger, channels), its steps
and, beside them when switched on, the test mode."""

from __future__ import annotations

import reflex as rx

from pytake.services import flows
from pytake.ui.forms import confirm
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.pages.flows.builder import BuilderState
from pytake.ui.pages.flows.rehearsal import RehearsalState, test_panel
from pytake.ui.pages.flows.steps import add_menu, fixed_select, step_card, step_dialog
from pytake.ui.pages.settings.frame import labelled
from pytake.ui.session import t


def _settings() -> rx.Component:
    flow = BuilderState.flow
    return card(
        rx.form(
            rx.vstack(
                rx.hstack(
                    labelled(
                        "flows.field.name",
                        rx.input(
                            name="name",
                            default_value=flow["name"].to(str),
                            width="100%",
                            data_testid="flow-name",
                        ),
                    ),
                    labelled(
                        "flows.field.trigger",
                        fixed_select(
                            "trigger", flows.TRIGGERS, "flows.trigger", flow["trigger"].to(str)
                        ),
                    ),
                    labelled(
                        "flows.field.trigger_value",
                        rx.input(
                            name="trigger_value",
                            default_value=flow["trigger_value"].to(str),
                            width="100%",
                            data_testid="flow-trigger-value",
                        ),
                    ),
                    labelled(
                        "flows.field.priority",
                        rx.input(
                            name="priority",
                            type="number",
                            min=0,
                            max=1000,
                            width="90px",
                            default_value=flow["priority"].to(str),
                        ),
                    ),
                    width="100%",
                    align="end",
                ),
                rx.text(t("flows.hint.trigger"), size="1", color=rx.color("gray", 10)),
                rx.hstack(
                    rx.text(t("flows.field.channels"), size="2", weight="medium"),
                    rx.foreach(
                        BuilderState.refs["channels"].to(list[dict]),
                        lambda c: rx.checkbox(
                            c["name"],
                            name="channel_" + c["value"].to(str),
                            default_checked=flow["channel_ids"]
                            .to(list[int])
                            .contains(c["value"].to(int)),
                        ),
                    ),
                    rx.spacer(),
                    rx.checkbox(
                        t("flows.field.active"),
                        name="active",
                        default_checked=flow["active"].to(bool),
                        data_testid="flow-active",
                    ),
                    rx.button(t("action.save"), type="submit", data_testid="flow-save"),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                ),
                spacing="2",
            ),
            on_submit=BuilderState.save_settings,
            reset_on_submit=False,
            key=flow["id"].to(str) + flow["version"].to(str) + flow["active"].to(str),
        )
    )


def builder_page() -> rx.Component:
    flow = BuilderState.flow
    return shell(
        "nav.flows",
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left", size=16), href="/flows", aria_label="back"),
                rx.heading(flow["name"].to(str), size="5"),
                rx.cond(
                    flow["version"].to(int) > 0,
                    rx.badge(t("flows.version") + " " + flow["version"].to(str), variant="soft"),
                    rx.badge(t("flows.draft"), color_scheme="gray", variant="soft"),
                ),
                rx.cond(
                    flow["changed"].to(bool),
                    rx.badge(t("flows.unpublished_changes"), color_scheme="amber"),
                ),
                rx.spacer(),
                confirm(
                    rx.button(
                        rx.icon("trash-2", size=14),
                        t("flows.delete"),
                        variant="soft",
                        color_scheme="red",
                        data_testid="flow-delete",
                    ),
                    "flows.delete_title",
                    "flows.delete_body",
                    "flows.delete",
                    BuilderState.delete_flow,
                ),
                rx.button(
                    rx.icon("flask-conical", size=14),
                    t("flows.test.button"),
                    variant="soft",
                    on_click=RehearsalState.toggle_test,
                    data_testid="flow-test",
                ),
                rx.button(
                    rx.icon("rocket", size=14),
                    t("flows.publish"),
                    on_click=BuilderState.publish,
                    data_testid="flow-publish",
                ),
                align="center",
                width="100%",
            ),
            _settings(),
            rx.cond(
                BuilderState.notice != "",
                rx.callout(BuilderState.notice, icon="check", color_scheme="green", width="100%"),
            ),
            rx.cond(
                BuilderState.problems.length() > 0,
                rx.callout.root(
                    rx.callout.icon(rx.icon("triangle-alert")),
                    rx.vstack(
                        rx.foreach(BuilderState.problems, lambda p: rx.text(p, size="2")),
                        spacing="1",
                    ),
                    color_scheme="red",
                    width="100%",
                    data_testid="flow-problems",
                ),
            ),
            rx.hstack(
                rx.vstack(
                    rx.cond(
                        BuilderState.steps.length() > 0,
                        rx.vstack(rx.foreach(BuilderState.steps, step_card), width="100%"),
                        empty_state("bot", "flows.no_steps_title", "flows.no_steps_body"),
                    ),
                    add_menu(),
                    width="100%",
                    spacing="3",
                ),
                rx.cond(RehearsalState.testing, test_panel()),
                align="start",
                width="100%",
                spacing="4",
            ),
            step_dialog(),
            spacing="4",
            width="100%",
        ),
    )
