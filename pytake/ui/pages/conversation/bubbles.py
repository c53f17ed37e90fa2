"""A message as a bubble: its content, media, ticks, error and actions; notes and activity."""

from __future__ import annotations

import reflex as rx

from pytake.ui.pages.conversation.state import REACTIONS, ConversationState
from pytake.ui.session import SessionState, t


def _ticks(m: rx.Var) -> rx.Component:
    status = m["status"].to(str)
    return rx.match(
        status,
        ("queued", rx.icon("clock", size=14, color=rx.color("gray", 9), data_testid="tick-queued")),
        ("sent", rx.icon("check", size=14, color=rx.color("gray", 10), data_testid="tick-sent")),
        (
            "delivered",
            rx.icon(
                "check-check", size=14, color=rx.color("gray", 10), data_testid="tick-delivered"
            ),
        ),
        ("read", rx.icon("check-check", size=14, color="#34B7F1", data_testid="tick-read")),
        ("played", rx.icon("check-check", size=14, color="#34B7F1", data_testid="tick-read")),
        (
            "failed",
            rx.icon("circle-alert", size=14, color=rx.color("red", 10), data_testid="tick-failed"),
        ),
        (
            "unknown",
            rx.icon(
                "circle-help", size=14, color=rx.color("amber", 10), data_testid="tick-unknown"
            ),
        ),
        rx.fragment(),
    )


def _media(m: rx.Var) -> rx.Component:
    kind = m["media_kind"].to(str)
    url = m["media_url"].to(str)
    pending = rx.hstack(
        rx.spinner(size="1"),
        rx.text(t("thread.media_pending"), size="1", color=rx.color("gray", 10)),
        align="center",
    )
    failed = rx.text(t("thread.media_failed"), size="1", color=rx.color("red", 10))
    ready = rx.match(
        kind,
        (
            "image",
            rx.link(
                rx.image(src=url, max_width="280px", max_height="320px", border_radius="8px"),
                href=url,
                is_external=True,
            ),
        ),
        ("sticker", rx.image(src=url, width="128px", height="128px")),
        ("audio", rx.el.audio(src=url, controls=True, preload="none", style={"maxWidth": "260px"})),
        (
            "video",
            rx.el.video(
                src=url,
                controls=True,
                preload="metadata",
                style={"maxWidth": "280px", "borderRadius": "8px"},
            ),
        ),
        rx.link(
            rx.hstack(
                rx.icon("file-text", size=28, color=rx.color("accent", 10)),
                rx.vstack(
                    rx.text(m["media_name"], weight="medium", size="2"),
                    rx.text(m["media_size"], size="1", color=rx.color("gray", 10)),
                    spacing="0",
                ),
                align="center",
                spacing="2",
            ),
            href=url,
            is_external=True,
            underline="none",
        ),
    )
    return rx.cond(
        m["media_state"].to(str) == "done",
        ready,
        rx.cond(m["media_state"].to(str) == "failed", failed, pending),
    )


def _content(m: rx.Var) -> rx.Component:
    kind = m["type"].to(str)
    text = rx.cond(
        m["text"].to(str) != "",
        rx.text(m["text"], size="2", white_space="pre-wrap", word_break="break-word"),
        rx.fragment(),
    )
    return rx.vstack(
        rx.cond(
            m["has_quote"].to(bool),
            rx.box(
                rx.text(m["quote"], size="1", color=rx.color("gray", 11), trim="both"),
                border_left=f"3px solid {rx.color('accent', 9)}",
                background=rx.color("gray", 3),
                padding="4px 8px",
                border_radius="4px",
                max_width="100%",
                data_testid="quote",
            ),
        ),
        rx.match(
            kind,
            ("image", _media(m)),
            ("sticker", _media(m)),
            ("audio", _media(m)),
            ("video", _media(m)),
            ("document", _media(m)),
            ("template", rx.cond(m["media_kind"].to(str) != "", _media(m))),
            (
                "location",
                rx.link(
                    rx.hstack(rx.icon("map-pin", size=16), rx.text(t("thread.open_map"), size="2")),
                    href=m["map_url"].to(str),
                    is_external=True,
                ),
            ),
            (
                "unsupported",
                rx.text(
                    t("thread.unsupported"),
                    size="2",
                    font_style="italic",
                    color=rx.color("gray", 10),
                ),
            ),
            rx.fragment(),
        ),
        rx.cond(kind != "unsupported", text),
        rx.cond(
            m["choices"].to(list).length() > 0,
            rx.flex(
                rx.foreach(
                    m["choices"].to(list[str]),
                    lambda title: rx.badge(title, variant="outline", radius="full", size="2"),
                ),
                wrap="wrap",
                gap="4px",
                data_testid="choices",
            ),
        ),
        spacing="1",
        align="start",
    )


def _error(m: rx.Var) -> rx.Component:
    return rx.cond(
        m["error_reason"].to(str) != "",
        rx.vstack(
            rx.text(m["error_reason"], size="1", color=rx.color("red", 11), weight="medium"),
            rx.text(m["error_next"], size="1", color=rx.color("gray", 11)),
            rx.cond(
                m["can_retry"].to(bool),
                rx.button(
                    rx.icon("rotate-ccw", size=12),
                    t("thread.retry"),
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=ConversationState.retry(m["id"].to(int)),
                    data_testid="retry",
                ),
            ),
            spacing="1",
            align="start",
            data_testid="send-error",
        ),
    )


def _actions(m: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.cond(
            m["can_reply"].to(bool),
            rx.icon_button(
                rx.icon("reply", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=ConversationState.start_reply(m["id"].to(int)),
                aria_label="reply",
            ),
        ),
        rx.cond(
            m["can_react"].to(bool),
            rx.popover.root(
                rx.popover.trigger(
                    rx.icon_button(
                        rx.icon("smile-plus", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="react",
                    )
                ),
                rx.popover.content(
                    rx.hstack(
                        *[
                            rx.popover.close(
                                rx.button(
                                    emoji,
                                    variant="ghost",
                                    size="2",
                                    on_click=ConversationState.react(m["id"].to(int), emoji),
                                )
                            )
                            for emoji in REACTIONS
                        ],
                        spacing="1",
                    ),
                    padding="6px",
                ),
            ),
        ),
        spacing="1",
        class_name="bubble-actions",
        opacity="0",
    )


def bubble(m: rx.Var) -> rx.Component:
    out = m["out"].to(bool)
    bubble = rx.box(
        rx.cond(
            out & (m["sender"].to(str) != ""),
            rx.text(m["sender"], size="1", weight="bold", color=rx.color("accent", 11)),
        ),
        _content(m),
        rx.hstack(
            rx.moment(
                m["at"].to(str), format="HH:mm", font_size="11px", color=rx.color("gray", 10)
            ),
            rx.cond(out, _ticks(m)),
            spacing="1",
            align="center",
            justify="end",
            width="100%",
        ),
        _error(m),
        rx.cond(
            m["reactions"].to(list).length() > 0,
            rx.badge(
                rx.foreach(m["reactions"].to(list[str]), rx.text),
                variant="surface",
                radius="full",
                position="absolute",
                bottom="-12px",
                left="8px",
            ),
        ),
        position="relative",
        background=rx.cond(out, rx.color("accent", 3), rx.color("gray", 1)),
        border=f"1px solid {rx.color('gray', 4)}",
        padding="6px 10px 4px",
        border_radius="10px",
        max_width=["88%", "75%", "65%"],
        margin_bottom=rx.cond(m["reactions"].to(list).length() > 0, "14px", "0"),
        data_testid=rx.cond(out, "bubble-out", "bubble-in"),
        data_status=m["status"].to(str),
        id="m-" + m["id"].to(str),
        outline=rx.cond(
            m["id"].to(int) == ConversationState.focus_id,
            f"2px solid {rx.color('amber', 8)}",
            "none",
        ),
    )
    return rx.fragment(
        rx.cond(
            m["new_day"].to(bool),
            rx.center(
                rx.badge(
                    rx.moment(m["at"].to(str), format="LL", locale=SessionState.moment_locale),
                    variant="soft",
                    color_scheme="gray",
                ),
                width="100%",
                padding_y="8px",
            ),
        ),
        rx.cond(
            m["note"].to(bool),
            _note(m),
            _message_or_activity(m, out, bubble),
        ),
    )


def _note(m: rx.Var) -> rx.Component:
    """Private notes: amber, full width, signed, with mentions highlighted."""
    return rx.box(
        rx.hstack(
            rx.icon("lock", size=12, color=rx.color("amber", 11)),
            rx.text(t("thread.private_note"), size="1", weight="bold", color=rx.color("amber", 11)),
            rx.text("·", size="1", color=rx.color("amber", 11)),
            rx.text(m["sender"], size="1", color=rx.color("amber", 11)),
            rx.spacer(),
            rx.moment(
                m["at"].to(str), format="HH:mm", font_size="11px", color=rx.color("gray", 10)
            ),
            spacing="1",
            align="center",
            width="100%",
        ),
        rx.text(
            rx.foreach(
                m["segments"].to(list[dict]),
                lambda part: rx.cond(
                    part["mention"].to(bool),
                    rx.el.span(
                        part["text"],
                        font_weight="600",
                        color=rx.color("accent", 11),
                        data_testid="mention",
                    ),
                    rx.el.span(part["text"]),
                ),
            ),
            size="2",
            white_space="pre-wrap",
        ),
        background=rx.color("amber", 3),
        border=f"1px dashed {rx.color('amber', 7)}",
        border_radius="10px",
        padding="6px 10px",
        margin_x=["0", "10%"],
        data_testid="note",
    )


def _message_or_activity(m: rx.Var, out: rx.Var, bubble: rx.Component) -> rx.Component:
    return rx.fragment(
        rx.cond(
            (m["type"].to(str) == "system") | (m["type"].to(str) == "activity"),
            rx.center(
                rx.badge(
                    m["text"],
                    rx.cond(
                        m["until"].to(str) != "",
                        rx.el.span(
                            " ",
                            rx.moment(
                                m["until"].to(str),
                                format="LLL",
                                locale=SessionState.moment_locale,
                            ),
                        ),
                    ),
                    variant="surface",
                    color_scheme="gray",
                    size="1",
                    data_testid="activity",
                ),
                width="100%",
            ),
            rx.hstack(
                rx.cond(out, _actions(m)),
                bubble,
                rx.cond(out, rx.fragment(), _actions(m)),
                justify=rx.cond(out, "end", "start"),
                align="center",
                width="100%",
                spacing="2",
                _hover={"& .bubble-actions": {"opacity": "1"}},
            ),
        ),
    )
