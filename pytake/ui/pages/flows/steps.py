"""The builder's steps: their cards with the branches between them, the menu that adds
one, and the dialog that edits one (its fields depend on the step's kind)."""

from __future__ import annotations

import reflex as rx

from pytake.flows import definition, engine
from pytake.ui.forms import editor_dialog
from pytake.ui.layout import icon_tile
from pytake.ui.pages.flows.builder import ICONS, BuilderState
from pytake.ui.pages.settings.frame import labelled
from pytake.ui.session import SessionState, t

DAYS = range(7)


def _select(name: str, options: rx.Var, default: rx.Var, *, none_key: str = "") -> rx.Component:
    """A plain select inside a form: its value is submitted with the form's fields."""
    first = [rx.el.option(t(none_key), value="0")] if none_key else []
    return rx.el.select(
        *first,
        rx.foreach(
            options.to(list[dict]),
            lambda o: rx.el.option(o["name"], value=o["value"].to(str)),
        ),
        name=name,
        default_value=default,
        class_name="pytake-select",
        data_testid=f"step-{name}",
    )


def fixed_select(name: str, values: tuple[str, ...], prefix: str, default: rx.Var) -> rx.Component:
    """A plain select of fixed choices, each shown as its ``prefix.value`` text."""
    return rx.el.select(
        *[rx.el.option(t(f"{prefix}.{v or 'none'}"), value=v) for v in values],
        name=name,
        default_value=default,
        class_name="pytake-select",
        data_testid=f"step-{name}",
    )


def _text_field(name: str, key: str, *, area: bool = False, **props) -> rx.Component:
    value = BuilderState.editing[name].to(str)
    control = (
        rx.text_area(name=name, default_value=value, width="100%", rows="3", **props)
        if area
        else rx.input(name=name, default_value=value, width="100%", **props)
    )
    return labelled(key, rx.box(control, width="100%", data_testid=f"step-{name}"))


def _question_fields() -> list[rx.Component]:
    return [
        _text_field("retry", "flows.field.retry"),
        rx.hstack(
            _text_field("timeout", "flows.field.timeout", type="number", min=0),
            _text_field("reminder", "flows.field.reminder"),
            width="100%",
        ),
    ]


def _fields() -> rx.Component:
    editing = BuilderState.editing
    refs = BuilderState.refs
    return rx.match(
        editing["kind"].to(str),
        (
            "message",
            rx.vstack(
                _text_field("text", "flows.field.text", area=True),
                rx.hstack(
                    labelled(
                        "flows.field.media_type",
                        fixed_select(
                            "media_type",
                            ("", *definition.MEDIA_KINDS),
                            "flows.media",
                            editing["media_type"].to(str),
                        ),
                    ),
                    _text_field("media_url", "flows.field.media_url", placeholder="https://"),
                    width="100%",
                ),
                labelled(
                    "flows.field.template",
                    _select(
                        "template_id",
                        refs["templates"],
                        editing["template_id"].to(str),
                        none_key="flows.none",
                    ),
                ),
                _text_field("template_values", "flows.field.template_values", area=True),
                width="100%",
            ),
        ),
        (
            "menu",
            rx.vstack(
                _text_field("text", "flows.field.question", area=True),
                _text_field("options", "flows.field.options", area=True),
                rx.text(t("flows.hint.options"), size="1", color=rx.color("gray", 10)),
                rx.hstack(
                    _text_field("button", "flows.field.button", max_length=20),
                    _text_field("attribute", "flows.field.attribute"),
                    width="100%",
                ),
                *_question_fields(),
                width="100%",
            ),
        ),
        (
            "input",
            rx.vstack(
                _text_field("text", "flows.field.question", area=True),
                rx.hstack(
                    labelled(
                        "flows.field.check",
                        fixed_select(
                            "check", engine.answers.KINDS, "flows.check", editing["check"].to(str)
                        ),
                    ),
                    _text_field("pattern", "flows.field.pattern"),
                    width="100%",
                ),
                _text_field("attribute", "flows.field.attribute"),
                *_question_fields(),
                width="100%",
            ),
        ),
        (
            "condition",
            rx.vstack(
                labelled(
                    "flows.field.test",
                    fixed_select(
                        "test",
                        definition.CONDITION_TESTS,
                        "flows.test_kind",
                        editing["test"].to(str),
                    ),
                ),
                rx.hstack(
                    _text_field("attribute", "flows.field.attribute"),
                    labelled(
                        "flows.field.op",
                        fixed_select(
                            "op",
                            definition.OPERATORS + definition.OPERATORS_NUMERIC,
                            "flows.op",
                            editing["op"].to(str),
                        ),
                    ),
                    _text_field("value", "flows.field.value"),
                    width="100%",
                ),
                labelled(
                    "flows.field.channel",
                    _select(
                        "channel_id",
                        refs["channels"],
                        editing["channel_id"].to(str),
                        none_key="flows.none",
                    ),
                ),
                rx.hstack(
                    *[
                        rx.checkbox(
                            t(f"hours.day.{d}"),
                            name=f"day_{d}",
                            default_checked=editing["days"].to(list[int]).contains(d),
                        )
                        for d in DAYS
                    ],
                    wrap="wrap",
                    spacing="3",
                ),
                rx.hstack(
                    _text_field("start", "flows.field.start", type="time"),
                    _text_field("end", "flows.field.end", type="time"),
                    width="100%",
                ),
                rx.text(t("flows.hint.condition"), size="1", color=rx.color("gray", 10)),
                width="100%",
            ),
        ),
        (
            "set",
            rx.vstack(
                rx.hstack(
                    _text_field("attribute", "flows.field.attribute"),
                    _text_field("value", "flows.field.value"),
                    width="100%",
                ),
                _text_field("label", "flows.field.label"),
                width="100%",
            ),
        ),
        (
            "http",
            rx.vstack(
                rx.hstack(
                    labelled(
                        "flows.field.method",
                        fixed_select(
                            "method",
                            definition.HTTP_METHODS,
                            "flows.method",
                            editing["method"].to(str),
                        ),
                    ),
                    _text_field("url", "flows.field.url", placeholder="https://"),
                    _text_field(
                        "timeout",
                        "flows.field.http_timeout",
                        type="number",
                        min=1,
                        max=definition.HTTP_TIMEOUT_MAX,
                    ),
                    width="100%",
                ),
                _text_field("headers", "flows.field.headers", area=True),
                _text_field("body", "flows.field.body", area=True),
                _text_field("save", "flows.field.save", area=True),
                rx.text(t("flows.hint.http"), size="1", color=rx.color("gray", 10)),
                width="100%",
            ),
        ),
        ("wait", _text_field("minutes", "flows.field.minutes", type="number", min=0)),
        (
            "handoff",
            rx.vstack(
                rx.hstack(
                    labelled(
                        "flows.field.team",
                        _select(
                            "team_id",
                            refs["teams"],
                            editing["team_id"].to(str),
                            none_key="flows.none",
                        ),
                    ),
                    labelled(
                        "flows.field.agent",
                        _select(
                            "user_id",
                            refs["members"],
                            editing["user_id"].to(str),
                            none_key="flows.none",
                        ),
                    ),
                    width="100%",
                ),
                _text_field("text", "flows.field.farewell", area=True),
                width="100%",
            ),
        ),
        ("resolve", _text_field("text", "flows.field.farewell", area=True)),
        (
            "jump",
            labelled(
                "flows.field.flow",
                _select(
                    "flow_id", refs["flows"], editing["flow_id"].to(str), none_key="flows.none"
                ),
            ),
        ),
        rx.fragment(),
    )


def step_dialog() -> rx.Component:
    return editor_dialog(
        BuilderState,
        ("flows.edit_step", "flows.edit_step"),
        BuilderState.save_step,
        "step-save",
        rx.hstack(
            rx.icon(BuilderState.editing["icon"].to(str), size=16),
            rx.text(SessionState.tr["flows.kind." + BuilderState.editing["kind"].to(str)]),
            align="center",
        ),
        _fields(),
        max_width="640px",
        form_key=BuilderState.editing["id"].to(str),
    )


def _branch(step: rx.Var, out: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("corner-down-right", size=14, color=rx.color("gray", 9)),
        rx.text(
            rx.cond(out["key"].to(str) != "", SessionState.tr[out["key"].to(str)], out["title"]),
            size="2",
            min_width="120px",
        ),
        rx.select.root(
            rx.select.trigger(variant="soft", size="1"),
            rx.select.content(
                rx.foreach(
                    BuilderState.targets,
                    lambda o: rx.select.item(o["name"], value=o["value"].to(str)),
                )
            ),
            value=out["target"].to(str),
            on_change=lambda v: BuilderState.target(step["id"].to(str), out["branch"].to(str), v),
            size="1",
        ),
        align="center",
        spacing="2",
        data_testid="step-branch",
    )


def step_card(step: rx.Var) -> rx.Component:
    step_id = step["id"].to(str)
    return rx.card(
        rx.hstack(
            rx.badge(step["number"].to(str), variant="solid", radius="full"),
            icon_tile(step["icon"].to(str), size=16, box="32px"),
            rx.vstack(
                rx.text(SessionState.tr["flows.kind." + step["kind"].to(str)], weight="bold"),
                rx.text(step["summary"].to(str), size="2", color=rx.color("gray", 11), trim="both"),
                spacing="0",
                flex="1",
                min_width="0",
            ),
            rx.icon_button(
                rx.icon("arrow-up", size=14),
                variant="ghost",
                aria_label="up",
                on_click=BuilderState.move(step_id, -1),
            ),
            rx.icon_button(
                rx.icon("arrow-down", size=14),
                variant="ghost",
                aria_label="down",
                on_click=BuilderState.move(step_id, 1),
            ),
            rx.icon_button(
                rx.icon("pencil", size=14),
                variant="ghost",
                aria_label="edit",
                on_click=BuilderState.edit(step_id),
                data_testid="step-edit",
            ),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                aria_label="delete",
                on_click=BuilderState.remove(step_id),
            ),
            align="center",
            width="100%",
        ),
        rx.vstack(
            rx.foreach(step["branches"].to(list[dict]), lambda out: _branch(step, out)),
            spacing="1",
            padding_left="44px",
            padding_top="6px",
        ),
        size="2",
        width="100%",
        data_testid="step-card",
    )


def add_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("plus", size=14),
                t("flows.add_step"),
                variant="soft",
                data_testid="step-add",
            )
        ),
        rx.menu.content(
            *[
                rx.menu.item(
                    rx.icon(ICONS[kind], size=14),
                    t(f"flows.kind.{kind}"),
                    on_select=BuilderState.add(kind),
                    data_testid=f"step-add-{kind}",
                )
                for kind in definition.KINDS
            ]
        ),
    )
