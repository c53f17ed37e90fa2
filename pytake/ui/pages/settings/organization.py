"""Organization settings: name, default language, time zone, visibility, reopen window and
data retention."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.i18n import LANGUAGES
from pytake.models import Role
from pytake.realtime import signals
from pytake.services import organization
from pytake.services.conversations import VISIBILITY_RULES
from pytake.ui.forms import error_callout, timezone_input
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card
from pytake.ui.pages.settings.frame import labelled, section_heading, settings_frame
from pytake.ui.session import in_transaction, t, translated

AUTO = "auto"  # a select item cannot have an empty value: "the browser's language"
FIELDS = (
    "name",
    "language",
    "timezone",
    "visibility",
    "reopen_hours",
    "retention_days",
    "opt_out_keywords",
    "opt_in_keywords",
    "flow_hosts",
    "csat_template",
)


@access(min_role=Role.ADMIN)
class OrganizationState(GuardedState):
    values: dict[str, str] = {}
    timezones: list[str] = []
    problem: str = ""
    version: int = 0  # remounts the form with the saved values

    @rx.event
    async def load(self):
        current = await in_transaction(organization.current, self._identity())
        self._show(current)
        self.timezones = list(organization.timezones())
        self.problem = ""

    def _show(self, current: dict) -> None:
        self.values = {
            "name": current["name"],
            "language": current["language"] or AUTO,
            "timezone": current["timezone"],
            "visibility": current["visibility"],
            "reopen_hours": f"{current['reopen_hours']:g}",
            "retention_days": str(current["retention_days"]),
            "csat": "on" if current["csat"] else "",
            "csat_template": current["csat_template"],
            "opt_out_keywords": current["opt_out_keywords"],
            "opt_in_keywords": current["opt_in_keywords"],
            "flow_hosts": "\n".join(current["flow_hosts"]),
        }
        self.version += 1

    @rx.event
    def choose(self, field: str, value: str | bool):
        """Selects and radio groups are controlled: keep their choice until saved."""
        if field in ("language", "visibility") and isinstance(value, str):
            self.values = {**self.values, field: value[:40]}
        elif field == "csat":
            self.values = {**self.values, "csat": "on" if value is True else ""}

    @rx.event
    async def save(self, form: dict):
        form = form if isinstance(form, dict) else {}
        changes = {name: form[name] for name in FIELDS if isinstance(form.get(name), str)}
        changes |= {name: self.values.get(name, "") for name in ("language", "visibility", "csat")}
        if changes["language"] == AUTO:
            changes["language"] = ""
        try:
            saved = await in_transaction(
                organization.update,
                self._identity().organization_id,
                changes,
                actor=self._identity(),
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return None
        self.problem = ""
        self._show(saved)
        await signals.scope_changed(self._identity().organization_id)  # the rule may differ
        return rx.toast.success(await translated(self, "settings.saved"))


def _visibility_choice(rule: str) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.radio_group.item(value=rule, margin_top="3px"),
            rx.vstack(
                rx.text(t(f"visibility.{rule}"), size="2", weight="medium"),
                rx.text(t(f"visibility.{rule}.hint"), size="1", color=rx.color("gray", 10)),
                spacing="0",
            ),
            align="start",
            spacing="2",
        ),
        cursor="pointer",
    )


def organization_page() -> rx.Component:
    values = OrganizationState.values
    return settings_frame(
        "settings.intro.organization",
        card(
            rx.form(
                rx.vstack(
                    section_heading("settings.section.organization"),
                    error_callout(OrganizationState.problem),
                    rx.grid(
                        labelled(
                            "settings.org_name",
                            rx.input(
                                name="name",
                                default_value=values["name"],
                                max_length=120,
                                required=True,
                                size="3",
                                width="100%",
                                data_testid="org-name",
                            ),
                        ),
                        labelled(
                            "settings.default_language",
                            rx.select.root(
                                rx.select.trigger(width="100%"),
                                rx.select.content(
                                    rx.select.item(t("settings.browser_language"), value=AUTO),
                                    *[
                                        rx.select.item(label, value=code)
                                        for code, label in LANGUAGES.items()
                                    ],
                                ),
                                value=values["language"],
                                on_change=lambda v: OrganizationState.choose("language", v),
                                size="3",
                            ),
                            "settings.default_language.hint",
                        ),
                        labelled(
                            "settings.timezone",
                            timezone_input(
                                "timezone",
                                values["timezone"],
                                OrganizationState.timezones,
                                data_testid="org-timezone",
                            ),
                            "settings.timezone.hint",
                        ),
                        labelled(
                            "settings.reopen_hours",
                            rx.input(
                                name="reopen_hours",
                                default_value=values["reopen_hours"],
                                type="number",
                                min=0,
                                max=organization.MAX_REOPEN_HOURS,
                                step="any",
                                size="3",
                                data_testid="org-reopen",
                            ),
                            "settings.reopen_hours.hint",
                        ),
                        labelled(
                            "settings.retention_days",
                            rx.input(
                                name="retention_days",
                                default_value=values["retention_days"],
                                type="number",
                                min=0,
                                max=organization.MAX_RETENTION_DAYS,
                                size="3",
                                data_testid="org-retention",
                            ),
                            "settings.retention_days.hint",
                        ),
                        columns=rx.breakpoints(initial="1", md="2"),
                        spacing="4",
                        width="100%",
                    ),
                    rx.divider(),
                    labelled(
                        "settings.visibility",
                        rx.radio_group.root(
                            rx.vstack(
                                *[_visibility_choice(rule) for rule in VISIBILITY_RULES],
                                spacing="3",
                            ),
                            value=values["visibility"],
                            on_change=lambda v: OrganizationState.choose("visibility", v),
                            data_testid="org-visibility",
                        ),
                        "settings.visibility.hint",
                    ),
                    rx.divider(),
                    labelled(
                        "settings.csat",
                        rx.switch(
                            checked=values["csat"] == "on",
                            on_change=lambda v: OrganizationState.choose("csat", v),
                            data_testid="org-csat",
                        ),
                        "settings.csat.hint",
                    ),
                    labelled(
                        "organization.csat_template",
                        rx.input(
                            name="csat_template",
                            default_value=values["csat_template"],
                            placeholder="avaliacao_atendimento",
                            size="3",
                            width="100%",
                            max_width="420px",
                            data_testid="org-csat-template",
                        ),
                        "organization.csat_template_hint",
                    ),
                    rx.divider(),
                    rx.grid(
                        *[
                            labelled(
                                f"organization.{key}",
                                rx.input(
                                    name=key,
                                    default_value=values[key],
                                    size="3",
                                    width="100%",
                                    data_testid=testid,
                                ),
                                hint,
                            )
                            for key, testid, hint in (
                                ("opt_out_keywords", "org-opt-out", "organization.opt_out_hint"),
                                ("opt_in_keywords", "org-opt-in", None),
                            )
                        ],
                        columns=rx.breakpoints(initial="1", md="2"),
                        spacing="4",
                        width="100%",
                    ),
                    labelled(
                        "organization.flow_hosts",
                        rx.text_area(
                            name="flow_hosts",
                            default_value=values["flow_hosts"],
                            rows="3",
                            width="100%",
                            data_testid="org-flow-hosts",
                        ),
                        "organization.flow_hosts_hint",
                    ),
                    rx.hstack(
                        rx.button(
                            t("action.save"), type="submit", size="3", data_testid="org-save"
                        ),
                        justify="end",
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=OrganizationState.save,
                reset_on_submit=False,
                key=OrganizationState.version.to(str),
            )
        ),
    )
