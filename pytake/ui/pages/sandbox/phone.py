"""The phone itself, drawn like WhatsApp: the business's header, the chat's bubbles (with
taps, reactions and replies) and the composer."""

from __future__ import annotations

import reflex as rx

from pytake.ui import uploads
from pytake.ui.pages.sandbox.state import REACTIONS, PhoneState
from pytake.ui.session import SessionState, t

PHONE_UPLOAD_ID = "sandbox-phone-upload"
VOICE_UPLOAD_ID = "sandbox-voice-upload"
KIND_ICONS = {
    "image": "image",
    "video": "video",
    "audio": "headphones",
    "voice": "mic",
    "document": "file-text",
    "sticker": "sticker",
    "location": "map-pin",
    "contacts": "contact",
}


def _media(line: rx.Var) -> rx.Component:
    """A chip naming the kind of file (or place, or card) and its name."""
    kind = line["kind"].to(str)

    def chip(icon: str) -> rx.Component:
        return rx.hstack(
            rx.icon(icon, size=16),
            rx.text(SessionState.tr["sandbox.kind." + kind], size="2", weight="medium"),
            rx.text(line["media"].to(str), size="1", color=rx.color("gray", 11)),
            spacing="2",
            align="center",
            padding="6px 8px",
            background="rgba(0,0,0,0.05)",
            border_radius="6px",
            wrap="wrap",
        )

    chips = rx.match(
        kind, *[(name, chip(icon)) for name, icon in KIND_ICONS.items()], rx.fragment()
    )
    return rx.cond(
        line["src"].to(str) != "",
        rx.image(
            src=line["src"].to(str),
            max_width="240px",
            max_height="240px",
            border_radius="6px",
            data_testid="phone-picture",
        ),
        chips,
    )


def _tap_button(line: rx.Var, button: rx.Var) -> rx.Component:
    return rx.button(
        rx.cond(button["tap"].to(str) == "url", rx.icon("external-link", size=14), rx.fragment()),
        button["title"].to(str),
        on_click=PhoneState.tap(
            line["wamid"].to(str),
            button["tap"].to(str),
            button["id"].to(str),
            button["title"].to(str),
        ),
        variant="soft",
        size="2",
        width="100%",
        data_testid="phone-tap",
    )


def _ticks(line: rx.Var) -> rx.Component:
    """On the customer's own messages, as their phone shows them: sent, delivered to the
    business, read by it (blue)."""
    status = line["status"].to(str)
    return rx.cond(
        status == "read",
        rx.text("✓✓", size="1", color="#53bdeb", data_testid="phone-ticks"),
        rx.cond(
            status == "delivered",
            rx.text("✓✓", size="1", data_testid="phone-ticks"),
            rx.text("✓", size="1", data_testid="phone-ticks"),
        ),
    )


def _failed(line: rx.Var) -> rx.Component:
    """A business message that never reached the phone: a real phone shows nothing; the
    sandbox says why, to teach what the agent's screen reports."""
    return rx.cond(
        line["status"].to(str) == "failed",
        rx.text(
            t("sandbox.not_delivered") + " · " + line["error"].to(str),
            size="1",
            color=rx.color("red", 11),
        ),
    )


def _bubble(line: rx.Var) -> rx.Component:
    mine = line["mine"].to(bool)
    text = line["text"].to(str)
    return rx.box(
        rx.vstack(
            rx.cond(
                line["quote"].to(str) != "",
                rx.text(
                    line["quote"].to(str),
                    size="1",
                    padding="4px 8px",
                    border_left=f"3px solid {rx.color('accent', 9)}",
                    background="rgba(0,0,0,0.05)",
                    border_radius="4px",
                    width="100%",
                ),
            ),
            rx.cond(
                line["header"].to(str) != "",
                rx.text(line["header"].to(str), weight="bold", size="2"),
            ),
            _media(line),
            rx.cond(
                text != "",
                rx.text(text, size="2", white_space="pre-wrap", data_testid="phone-text"),
            ),
            rx.cond(
                line["footer"].to(str) != "",
                rx.text(line["footer"].to(str), size="1", color=rx.color("gray", 10)),
            ),
            rx.hstack(
                rx.text(line["time"].to(str), size="1", color=rx.color("gray", 10)),
                rx.cond(mine, _ticks(line), _failed(line)),
                spacing="1",
                justify="end",
                width="100%",
                align="center",
            ),
            rx.foreach(line["buttons"].to(list[dict]), lambda button: _tap_button(line, button)),
            spacing="1",
            align="start",
        ),
        rx.cond(
            line["reaction"].to(str) != "",
            rx.box(
                line["reaction"].to(str),
                position="absolute",
                bottom="-12px",
                right="8px",
                background="white",
                border_radius="10px",
                padding="0 4px",
                box_shadow="0 1px 2px rgba(0,0,0,0.2)",
                font_size="13px",
            ),
        ),
        rx.hstack(
            *[
                rx.button(
                    emoji,
                    on_click=PhoneState.react(line["wamid"].to(str), emoji),
                    size="1",
                    variant="ghost",
                )
                for emoji in REACTIONS
            ],
            rx.icon_button(
                rx.icon("reply", size=14),
                on_click=PhoneState.reply_to(line["wamid"].to(str), text),
                size="1",
                variant="ghost",
                aria_label="reply",
            ),
            class_name="phone-actions",
            spacing="0",
            position="absolute",
            top="-14px",
            right="4px",
            background="white",
            border_radius="12px",
            box_shadow="0 1px 3px rgba(0,0,0,0.25)",
        ),
        position="relative",
        max_width="82%",
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        background=rx.cond(mine, "#d9fdd3", "white"),
        color="#111b21",
        padding="6px 9px",
        border_radius="8px",
        box_shadow="0 1px 0.5px rgba(11,20,26,0.13)",
        margin_bottom=rx.cond(line["reaction"].to(str) != "", "14px", "2px"),
        data_testid=rx.cond(mine, "phone-sent", "phone-received"),
        style={
            "& .phone-actions": {"display": "none"},
            "&:hover .phone-actions": {"display": "flex"},
        },
    )


def _upload_button(icon: str, upload_id: str, on_drop, label: str, accept=None) -> rx.Component:
    """One file from the phone (``on_drop`` receives it)."""
    button = rx.icon_button(
        rx.icon(icon, size=16), variant="ghost", type="button", aria_label=label
    )
    return uploads.one_file(button, upload_id, on_drop, accept=accept)


def _composer() -> rx.Component:
    return rx.vstack(
        rx.cond(
            PhoneState.replying_to != "",
            rx.hstack(
                rx.text(PhoneState.replying_text, size="1", flex="1", color=rx.color("gray", 11)),
                rx.icon_button(
                    rx.icon("x", size=12),
                    on_click=PhoneState.cancel_reply,
                    size="1",
                    variant="ghost",
                ),
                width="100%",
                background="white",
                padding="4px 8px",
                border_radius="8px",
                border_left=f"3px solid {rx.color('accent', 9)}",
            ),
        ),
        rx.form(
            rx.hstack(
                _upload_button("paperclip", PHONE_UPLOAD_ID, PhoneState.send_file, "file"),
                _upload_button(
                    "mic", VOICE_UPLOAD_ID, PhoneState.send_voice, "voice", {"audio/*": []}
                ),
                rx.input(
                    name="text",
                    value=PhoneState.draft,
                    on_change=PhoneState.set_draft,
                    placeholder=t("sandbox.type_message"),
                    radius="full",
                    flex="1",
                    data_testid="phone-input",
                ),
                rx.icon_button(
                    rx.icon("send", size=16), type="submit", radius="full", data_testid="phone-send"
                ),
                align="center",
                spacing="2",
                width="100%",
            ),
            on_submit=PhoneState.send_text,
            reset_on_submit=True,
            width="100%",
        ),
        width="100%",
        spacing="1",
        padding="8px",
        background="#f0f2f5",
    )


def phone() -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.center(
                    rx.icon("store", size=18, color="white"),
                    width="36px",
                    height="36px",
                    border_radius="50%",
                    background="rgba(255,255,255,0.2)",
                ),
                rx.vstack(
                    rx.text(PhoneState.business, weight="bold", size="2", color="white"),
                    rx.text(PhoneState.customer_name, size="1", color="rgba(255,255,255,0.8)"),
                    spacing="0",
                ),
                padding="10px 12px",
                width="100%",
                background="#008069",
                align="center",
            ),
            rx.vstack(
                rx.foreach(PhoneState.lines, _bubble),
                id="phone-thread",
                spacing="2",
                padding="16px 10px",
                width="100%",
                flex="1",
                overflow_y="auto",
                background="#efeae2",
            ),
            _composer(),
            spacing="0",
            height="100%",
        ),
        width="380px",
        max_width="100%",
        height="720px",
        border="10px solid #1f2c34",
        border_radius="36px",
        overflow="hidden",
        box_shadow="0 10px 30px rgba(0,0,0,0.25)",
        flex_shrink="0",
        data_testid="phone",
    )
