"""The quick-replies tab of the templates page: canned answers agents insert with ``/``."""

from __future__ import annotations

import functools

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.services import quick_replies, teams
from pytake.ui.forms import EditorMixin, editor_dialog
from pytake.ui.guard import GuardedState
from pytake.ui.layout import card, empty_state
from pytake.ui.session import SessionState, in_transaction, t, translated


class QuickRepliesState(EditorMixin, GuardedState):
    """The organization's quick replies; supervisors and up change them (checked in the
    service as well)."""

    rows: list[dict] = []
    teams: list[dict] = []

    @rx.event
    async def load(self):
        identity = self._identity()
        self.rows = await in_transaction(quick_replies.listing, identity)
        self.teams = [
            {"value": str(team["id"]), "name": team["name"]}
            for team in await in_transaction(teams.listing, identity.organization_id)
        ]

    @rx.event
    def start(self, reply_id: int):
        found = next((r for r in self.rows if r["id"] == reply_id), None)
        self._open_editor(found or {"id": 0, "shortcut": "", "body": "", "team_id": 0})

    @rx.event
    async def save(self, form: dict):
        form = form if isinstance(form, dict) else {}
        team = form.get("team")
        save = functools.partial(
            quick_replies.save,
            shortcut=form.get("shortcut"),
            body=form.get("body"),
            team_id=int(team) if isinstance(team, str) and team.isdigit() else None,
            reply_id=self.editing.get("id") or None,
        )
        await self._save_editor(save)

    @rx.event
    async def delete(self, reply_id: int):
        try:
            await in_transaction(quick_replies.delete, self._identity(), reply_id)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        await self.load()
        return None


def _quick_reply_dialog() -> rx.Component:
    reply = QuickRepliesState.editing
    return editor_dialog(
        QuickRepliesState,
        ("quick_replies.add", "quick_replies.edit"),
        QuickRepliesState.save,
        "quick-reply-save",
        rx.text(t("quick_replies.shortcut"), size="2", weight="medium"),
        rx.input(
            name="shortcut",
            default_value=reply["shortcut"].to(str),
            placeholder="hello",
            max_length=40,
            required=True,
            width="100%",
            data_testid="quick-reply-shortcut",
        ),
        rx.text(t("quick_replies.body"), size="2", weight="medium"),
        rx.text_area(
            name="body",
            default_value=reply["body"].to(str),
            rows="5",
            max_length=4096,
            required=True,
            width="100%",
            data_testid="quick-reply-body",
        ),
        rx.text(t("quick_replies.variables"), size="1", color=rx.color("gray", 10)),
        rx.text(t("quick_replies.team"), size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(width="100%"),
            rx.select.content(
                rx.select.item(t("quick_replies.everyone"), value="all"),
                rx.foreach(
                    QuickRepliesState.teams,
                    lambda team: rx.select.item(team["name"], value=team["value"].to(str)),
                ),
            ),
            name="team",
            default_value=rx.cond(reply["team_id"].to(int) > 0, reply["team_id"].to(str), "all"),
        ),
    )


def quick_replies_tab() -> rx.Component:
    """The list for everyone; its buttons for supervisors and up (the service checks too)."""
    manage = SessionState.user_role != "agent"
    return rx.vstack(
        rx.hstack(
            rx.text(t("quick_replies.hint"), size="2", color=rx.color("gray", 11)),
            rx.spacer(),
            rx.cond(
                manage,
                rx.button(
                    rx.icon("plus", size=14),
                    t("quick_replies.add"),
                    variant="soft",
                    on_click=QuickRepliesState.start(0),
                    data_testid="quick-reply-add",
                ),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            QuickRepliesState.rows.length() > 0,
            card(
                rx.foreach(
                    QuickRepliesState.rows,
                    lambda reply: rx.hstack(
                        rx.vstack(
                            rx.hstack(
                                rx.code("/" + reply["shortcut"].to(str)),
                                rx.cond(
                                    reply["team"].to(str) != "",
                                    rx.badge(reply["team"], variant="outline", size="1"),
                                ),
                                spacing="2",
                            ),
                            rx.text(reply["body"], size="2", white_space="pre-wrap"),
                            spacing="1",
                            flex="1",
                        ),
                        rx.cond(
                            manage,
                            rx.hstack(
                                rx.icon_button(
                                    rx.icon("pencil", size=14),
                                    variant="ghost",
                                    on_click=QuickRepliesState.start(reply["id"].to(int)),
                                    aria_label="edit",
                                ),
                                rx.icon_button(
                                    rx.icon("trash-2", size=14),
                                    variant="ghost",
                                    color_scheme="red",
                                    on_click=QuickRepliesState.delete(reply["id"].to(int)),
                                    aria_label="delete",
                                ),
                            ),
                        ),
                        width="100%",
                        padding="10px 0",
                        border_bottom=f"1px solid {rx.color('gray', 4)}",
                        data_testid="quick-reply-row",
                    ),
                )
            ),
            empty_state("zap", "quick_replies.empty_title", "quick_replies.empty_body"),
        ),
        _quick_reply_dialog(),
        spacing="3",
        width="100%",
    )
