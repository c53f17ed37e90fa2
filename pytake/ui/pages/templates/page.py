"""The templates page: the WhatsApp templates' table (synced, created, deleted) in one tab,
the quick replies in the other."""

from __future__ import annotations

import reflex as rx

from pytake.ui.forms import confirm
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.pages.templates.editor import template_editor
from pytake.ui.pages.templates.editor_state import TemplateEditorState
from pytake.ui.pages.templates.listing import TemplatesState
from pytake.ui.pages.templates.quick_replies import quick_replies_tab
from pytake.ui.session import SessionState, t

STATUS_COLORS = {
    "approved": "green",
    "pending": "amber",
    "in_appeal": "amber",
    "rejected": "red",
    "paused": "orange",
    "disabled": "gray",
}


def _template_row(row: rx.Var) -> rx.Component:
    status = row["status"].to(str)
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.code(row["name"]),
                rx.text(
                    row["preview"],
                    size="1",
                    color=rx.color("gray", 11),
                    white_space="pre-wrap",
                    max_width="480px",
                ),
                spacing="1",
            )
        ),
        rx.table.cell(row["language"]),
        rx.table.cell(SessionState.tr["templates.category_" + row["category"].to(str)].to(str)),
        rx.table.cell(
            rx.vstack(
                rx.badge(
                    SessionState.tr["templates.status_" + status].to(str),
                    color_scheme=rx.match(
                        status, *[(k, v) for k, v in STATUS_COLORS.items()], "gray"
                    ),
                    data_testid="template-status",
                ),
                rx.cond(
                    row["reason"].to(str) != "",
                    rx.text(row["reason"], size="1", color=rx.color("red", 11)),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    SessionState.is_admin & row["editable"].to(bool),
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        variant="ghost",
                        on_click=TemplateEditorState.start_edit(row["id"].to(int)),
                        aria_label="edit",
                        data_testid="template-edit",
                    ),
                ),
                _delete_button(row["id"].to(int), status),
                spacing="3",
            )
        ),
        data_testid="template-row",
    )


def _delete_button(template_id: rx.Var, status: rx.Var) -> rx.Component:
    return rx.cond(
        SessionState.is_admin & (status != "disabled"),
        confirm(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                aria_label="delete",
                data_testid="template-delete",
            ),
            "templates.delete_title",
            "templates.delete_body",
            "templates.delete",
            TemplatesState.delete(template_id),
        ),
    )


def templates_page() -> rx.Component:
    return shell(
        "nav.templates",
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger(t("templates.whatsapp_tab"), value="whatsapp"),
                rx.tabs.trigger(
                    t("quick_replies.tab"), value="quick", data_testid="quick-replies-tab"
                ),
            ),
            rx.tabs.content(_whatsapp_templates(), value="whatsapp", padding_top="16px"),
            rx.tabs.content(quick_replies_tab(), value="quick", padding_top="16px"),
            default_value="whatsapp",
            width="100%",
        ),
    )


def _whatsapp_templates() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.cond(
                TemplatesState.synced_at != "",
                rx.text(
                    t("templates.synced"),
                    " ",
                    rx.moment(
                        TemplatesState.synced_at,
                        from_now=True,
                        locale=SessionState.moment_locale,
                    ),
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.text(t("templates.never_synced"), size="2", color=rx.color("gray", 11)),
            ),
            rx.spacer(),
            rx.cond(
                SessionState.is_admin,
                rx.hstack(
                    rx.button(
                        rx.icon("refresh-cw", size=14),
                        t("templates.sync_now"),
                        loading=TemplatesState.syncing,
                        on_click=TemplatesState.sync_now,
                        variant="soft",
                        data_testid="templates-sync",
                    ),
                    rx.button(
                        rx.icon("plus", size=14),
                        t("templates.new"),
                        on_click=TemplateEditorState.start,
                        data_testid="template-new",
                    ),
                    spacing="2",
                ),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            (TemplatesState.sync_error != "") | (TemplatesState.problem != ""),
            rx.callout(
                rx.cond(
                    TemplatesState.problem != "",
                    TemplatesState.problem,
                    t("templates.sync_failed") + " " + TemplatesState.sync_error,
                ),
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                width="100%",
                data_testid="templates-problem",
            ),
        ),
        rx.cond(
            TemplatesState.rows.length() > 0,
            card(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(t("templates.name")),
                            rx.table.column_header_cell(t("templates.language")),
                            rx.table.column_header_cell(t("templates.category")),
                            rx.table.column_header_cell(t("templates.status")),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(TemplatesState.rows, _template_row)),
                    width="100%",
                )
            ),
            empty_state("file-text", "templates.empty_title", "templates.empty_body"),
        ),
        template_editor(),
        spacing="4",
        width="100%",
    )
