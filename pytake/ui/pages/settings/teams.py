"""Teams: who is in each, and which numbers each serves."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.models import Role
from pytake.realtime import signals
from pytake.services import assignment, directory, teams
from pytake.services import channels as channel_service
from pytake.ui.forms import EditorMixin, editor_dialog
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state
from pytake.ui.pages.settings.frame import (
    add_button,
    edit_and_delete,
    section_heading,
    settings_frame,
)
from pytake.ui.session import SessionState, in_transaction, t, translated


def _save_team(
    s,
    identity,
    team_id: int,
    name: object,
    members: list[int],
    channels: list[int],
    rule: tuple[object, object],
):
    """One transaction: the team's name, members, numbers and assignment rule."""
    team = (
        teams.rename(s, identity, team_id, name)
        if team_id
        else teams.create(s, identity.organization_id, name, actor=identity)
    )
    teams.set_members(s, identity, team.id, members)
    teams.set_channels(s, identity, team.id, channels)
    assignment.configure(s, identity, team.id, *rule)


def _checked(form: dict, prefix: str) -> list[int]:
    """Ids of the ticked ``prefix<id>`` boxes; anything else the client sent is ignored."""
    return [
        int(key[len(prefix) :])
        for key, value in form.items()
        if isinstance(key, str)
        and key.startswith(prefix)
        and key[len(prefix) :].isdigit()
        and value
    ]


@access(min_role=Role.ADMIN)
class TeamsState(EditorMixin, GuardedState):
    rows: list[dict] = []
    people: list[dict] = []
    numbers: list[dict] = []

    @rx.event
    async def load(self):
        identity = self._identity()
        self.rows = await in_transaction(teams.overview, identity)
        members = await in_transaction(directory.members, identity.organization_id)
        self.people = [{"id": m["id"], "name": m["name"]} for m in members if m["active"]]
        self.numbers = [
            {"id": c["id"], "name": c["name"]}
            for c in await in_transaction(channel_service.overview, identity)
        ]

    @rx.event
    def start(self, team_id: int):
        found = next((row for row in self.rows if row["id"] == team_id), None)
        team = found or {"id": 0, "name": "", "members": [], "channels": []}
        self._open_editor(
            {
                "id": team["id"],
                "name": team["name"],
                "members": [m["id"] for m in team["members"]],
                "channels": [c["id"] for c in team["channels"]],
                "policy": team.get("policy", "off"),
                "sticky": team.get("sticky", True),
            }
        )

    @rx.event
    def choose_policy(self, policy: str):
        if policy in teams.POLICIES:
            self.editing = {**self.editing, "policy": policy}

    @rx.event
    async def save(self, form: dict):
        form = form if isinstance(form, dict) else {}
        saved = await self._save_editor(
            _save_team,
            self.editing.get("id") or 0,
            form.get("name"),
            _checked(form, "member_"),
            _checked(form, "channel_"),
            (self.editing.get("policy", "off"), form.get("sticky") == "on"),
        )
        if saved:  # its members' scopes changed
            await signals.scope_changed(self._identity().organization_id)

    @rx.event
    async def delete(self, team_id: int):
        try:
            await in_transaction(teams.delete, self._identity(), team_id)
        except AccessError as refusal:
            return rx.toast.error(await translated(self, refusal))
        await signals.scope_changed(self._identity().organization_id)
        await self.load()
        return None


def _checkbox(prefix: str, item: rx.Var, chosen: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.checkbox(
                name=prefix + item["id"].to(str),
                default_checked=chosen.contains(item["id"]),
            ),
            rx.text(item["name"], size="2"),
            spacing="2",
            align="center",
        ),
        cursor="pointer",
    )


def _team_dialog() -> rx.Component:
    editing = TeamsState.editing
    return editor_dialog(
        TeamsState,
        ("teams.add", "teams.edit"),
        TeamsState.save,
        "team-save",
        rx.text(t("teams.name"), size="2", weight="medium"),
        rx.input(
            name="name",
            default_value=editing["name"].to(str),
            max_length=120,
            required=True,
            width="100%",
            data_testid="team-name",
        ),
        rx.text(t("teams.members"), size="2", weight="medium", margin_top="8px"),
        rx.grid(
            rx.foreach(
                TeamsState.people,
                lambda p: _checkbox("member_", p, editing["members"].to(list[int])),
            ),
            columns="2",
            spacing="2",
            width="100%",
        ),
        rx.text(t("teams.channels"), size="2", weight="medium", margin_top="8px"),
        rx.text(t("teams.channels.hint"), size="1", color=rx.color("gray", 10)),
        rx.cond(
            TeamsState.numbers.length() > 0,
            rx.vstack(
                rx.foreach(
                    TeamsState.numbers,
                    lambda c: _checkbox("channel_", c, editing["channels"].to(list[int])),
                ),
                spacing="2",
            ),
            rx.text(t("teams.no_channels"), size="1", color=rx.color("gray", 10)),
        ),
        rx.text(t("teams.assignment"), size="2", weight="medium", margin_top="8px"),
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="team-policy"),
            rx.select.content(
                *[rx.select.item(t(f"assignment.{p}"), value=p) for p in teams.POLICIES]
            ),
            value=editing["policy"].to(str),
            on_change=TeamsState.choose_policy,
        ),
        rx.cond(  # how auto-assignment works, only while it is on
            editing["policy"].to(str) != "off",
            rx.text(
                t("teams.assignment.hint"),
                size="1",
                color=rx.color("gray", 10),
                data_testid="team-policy-hint",
            ),
        ),
        rx.el.label(
            rx.hstack(
                rx.checkbox(name="sticky", default_checked=editing["sticky"].to(bool)),
                rx.text(t("teams.sticky"), size="2"),
                spacing="2",
                align="center",
            ),
            cursor="pointer",
        ),
        max_width="560px",
    )


def _badges(items: rx.Var, empty_key: str, color: str) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.flex(
            rx.foreach(
                items, lambda item: rx.badge(item["name"], variant="soft", color_scheme=color)
            ),
            wrap="wrap",
            spacing="1",
        ),
        rx.text(t(empty_key), size="1", color=rx.color("gray", 10)),
    )


def _team_card(team: rx.Var) -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.heading(team["name"], size="4"),
                rx.spacer(),
                edit_and_delete(
                    "teams",
                    TeamsState.start(team["id"].to(int)),
                    TeamsState.delete(team["id"].to(int)),
                ),
                width="100%",
                align="center",
            ),
            rx.text(t("teams.members"), size="1", weight="medium", color=rx.color("gray", 11)),
            _badges(team["members"].to(list[dict]), "teams.no_members", "gray"),
            rx.text(t("teams.channels"), size="1", weight="medium", color=rx.color("gray", 11)),
            _badges(team["channels"].to(list[dict]), "teams.serves_none", "teal"),
            rx.hstack(
                rx.icon("shuffle", size=14, color=rx.color("gray", 10)),
                rx.text(
                    SessionState.tr["assignment." + team["policy"].to(str)],
                    size="1",
                    color=rx.color("gray", 11),
                ),
                spacing="1",
                align="center",
                data_testid="team-policy-summary",
            ),
            spacing="2",
            width="100%",
        ),
        data_testid="team-card",
    )


def teams_page() -> rx.Component:
    return settings_frame(
        "settings.intro.teams",
        section_heading(
            "settings.section.teams", add_button("teams.add", TeamsState.start(0), "team-add")
        ),
        rx.cond(
            TeamsState.rows.length() > 0,
            rx.grid(
                rx.foreach(TeamsState.rows, _team_card),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            empty_state("users-round", "teams.empty_title", "teams.empty_body"),
        ),
        _team_dialog(),
    )
