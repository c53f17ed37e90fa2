"""The composer: the draft, quick replies ("/"), @mentions in notes, attachments and voice."""

from __future__ import annotations

import reflex as rx

from pytake.ui import uploads
from pytake.ui.forms import error_callout
from pytake.ui.pages.conversation.dialogs import dialogs, template_dialog
from pytake.ui.pages.conversation.header import icon_menu, more_menu
from pytake.ui.pages.conversation.state import UPLOAD_ID, VOICE_UPLOAD_ID, ConversationState
from pytake.ui.pages.conversation.templates import TemplateSendState
from pytake.ui.session import t


def _attach_button() -> rx.Component:
    button = rx.icon_button(
        rx.icon("paperclip", size=18),
        variant="ghost",
        color_scheme="gray",
        type="button",
        aria_label="attach",
    )
    return uploads.one_file(button, UPLOAD_ID, ConversationState.attach)


def _quick_reply_picker() -> rx.Component:
    """Matches for "/word": click one, or ↑/↓ and Enter (assets/pytake.js); Esc closes."""
    return rx.vstack(
        rx.foreach(
            ConversationState.quick_matches,
            lambda reply: rx.box(
                rx.hstack(
                    rx.code("/" + reply["shortcut"].to(str)),
                    rx.cond(
                        reply["team"].to(str) != "",
                        rx.badge(reply["team"], variant="outline", size="1"),
                    ),
                    align="center",
                    spacing="2",
                ),
                rx.text(reply["body"], size="1", color=rx.color("gray", 11), trim="both"),
                on_click=ConversationState.use_quick_reply(reply["id"].to(int)),
                padding="6px 10px",
                border_radius="6px",
                cursor="pointer",
                width="100%",
                _hover={"background": rx.color("accent", 3)},
                custom_attrs={"role": "option"},
                class_name="quick-reply",
                data_testid="quick-reply",
            ),
        ),
        spacing="0",
        width="100%",
        max_height="240px",
        overflow_y="auto",
        padding="4px",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        background=rx.color("gray", 1),
        custom_attrs={"role": "listbox"},
        data_testid="quick-replies",
    )


def _mention_menu() -> rx.Component:
    return icon_menu(
        "at-sign",
        "mention",
        "mention-menu",
        rx.foreach(
            ConversationState.members,
            lambda member: rx.menu.item(
                member["name"], on_click=ConversationState.mention(member["name"].to(str))
            ),
        ),
        variant="ghost",
        color_scheme="amber",
        on_open_change=ConversationState.load_members,
    )


def composer() -> rx.Component:
    open_window = ConversationState.info["window_open"].to(bool)
    note = ConversationState.note_mode
    return rx.vstack(
        rx.segmented_control.root(
            rx.segmented_control.item(t("thread.mode_reply"), value="reply"),
            rx.segmented_control.item(t("thread.mode_note"), value="note"),
            value=rx.cond(note, "note", "reply"),
            on_change=lambda mode: ConversationState.set_note_mode(mode == "note"),
            size="1",
            data_testid="composer-mode",
        ),
        rx.cond(
            ConversationState.reply_to > 0,
            rx.hstack(
                rx.box(
                    rx.text(ConversationState.reply_preview, size="1", trim="both"),
                    border_left=f"3px solid {rx.color('accent', 9)}",
                    padding_left="8px",
                    flex="1",
                ),
                rx.icon_button(
                    rx.icon("x", size=14),
                    size="1",
                    variant="ghost",
                    on_click=ConversationState.cancel_reply,
                    aria_label="cancel reply",
                ),
                width="100%",
                align="center",
            ),
        ),
        error_callout(ConversationState.problem, size="1", data_testid="composer-problem"),
        rx.cond(ConversationState.quick_matches.length() > 0, _quick_reply_picker()),
        rx.cond(
            open_window | note,
            rx.form(
                rx.hstack(
                    rx.cond(
                        note,
                        rx.hstack(_mention_menu(), align="center", height="44px"),
                        rx.hstack(
                            more_menu(),
                            _attach_button(),
                            spacing="1",
                            align="center",
                            height="44px",
                        ),
                    ),
                    rx.upload.root(
                        rx.box(),
                        id=VOICE_UPLOAD_ID,
                        max_files=1,
                        multiple=False,
                        no_click=True,
                        no_drag=True,
                        on_drop=ConversationState.attach_voice(
                            rx.upload_files(upload_id=VOICE_UPLOAD_ID)
                        ),
                        display="none",
                    ),
                    rx.cond(
                        ConversationState.recording,
                        rx.hstack(
                            rx.box(
                                width="10px",
                                height="10px",
                                border_radius="50%",
                                background=rx.color("red", 9),
                            ),
                            rx.text(t("thread.recording"), size="2"),
                            rx.spacer(),
                            rx.button(
                                t("thread.cancel"),
                                variant="soft",
                                color_scheme="gray",
                                type="button",
                                on_click=ConversationState.stop_recording(False),
                            ),
                            rx.button(
                                rx.icon("send-horizontal", size=16),
                                t("thread.send_voice"),
                                type="button",
                                on_click=ConversationState.stop_recording(True),
                                data_testid="voice-send",
                            ),
                            align="center",
                            flex="1",
                            min_height="44px",
                            data_testid="recording",
                        ),
                    ),
                    rx.text_area(
                        value=ConversationState.draft,
                        on_change=ConversationState.set_draft,
                        placeholder=rx.cond(note, t("thread.type_note"), t("thread.type_message")),
                        background=rx.cond(note, rx.color("amber", 2), "transparent"),
                        enter_key_submit=True,
                        auto_height=True,
                        rows="1",
                        min_height="44px",
                        max_height="180px",
                        resize="none",
                        max_length=4096,
                        flex="1",
                        size="3",
                        id="composer-input",
                        name="draft",
                        display=rx.cond(ConversationState.recording, "none", "flex"),
                        data_testid="composer",
                    ),
                    rx.cond(
                        (ConversationState.draft == "") & ~ConversationState.recording & ~note,
                        rx.icon_button(
                            rx.icon("mic", size=18),
                            type="button",
                            size="3",
                            variant="soft",
                            on_click=ConversationState.start_recording,
                            aria_label="record a voice note",
                            data_testid="record",
                        ),
                    ),
                    rx.cond(
                        ConversationState.draft != "",
                        rx.icon_button(
                            rx.icon("send-horizontal", size=18),
                            type="submit",
                            size="3",
                            loading=ConversationState.sending,
                            data_testid="send",
                            aria_label="send",
                        ),
                    ),
                    align="end",
                    width="100%",
                    spacing="2",
                ),
                on_submit=ConversationState.send,
                reset_on_submit=False,
                width="100%",
            ),
            rx.callout.root(
                rx.callout.icon(rx.icon("lock", size=16)),
                rx.callout.text(t("thread.window_closed")),
                rx.hstack(
                    rx.button(
                        rx.icon("file-text", size=14),
                        t("thread.send_template"),
                        size="1",
                        type="button",
                        on_click=TemplateSendState.open_templates,
                        data_testid="template-instead",
                    ),
                    rx.button(
                        rx.icon("sticky-note", size=14),
                        t("thread.write_note_instead"),
                        variant="soft",
                        color_scheme="amber",
                        size="1",
                        type="button",
                        on_click=ConversationState.set_note_mode(True),
                        data_testid="note-instead",
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="composer-closed",
            ),
        ),
        dialogs(),
        template_dialog(),
        width="100%",
        spacing="2",
        padding_top="12px",
        border_top=f"1px solid {rx.color('gray', 4)}",
    )
