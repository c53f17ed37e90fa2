"""Chatbot flows: the list, the builder (steps, their branches, trigger) and its test mode."""

from __future__ import annotations

import zoneinfo

import reflex as rx
from starlette.concurrency import run_in_threadpool

from pytake.auth.errors import AccessError
from pytake.flows import definition, engine, rehearsal
from pytake.models import Role, utcnow
from pytake.services import flows
from pytake.ui.forms import EditorMixin, confirm, editor_dialog, error_callout
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state, icon_tile, shell
from pytake.ui.pages.settings.frame import labelled
from pytake.ui.session import SessionState, in_transaction, t, translated

ICONS = {
    "message": "message-square",
    "menu": "list",
    "input": "text-cursor-input",
    "condition": "git-branch",
    "set": "tag",
    "http": "globe",
    "wait": "hourglass",
    "handoff": "user-round-check",
    "resolve": "circle-check",
    "jump": "corner-down-right",
}
NEXT_CHOICE = "next"  # a select item cannot hold "": the following step
DAYS = range(7)


def _summary(step: dict, refs: dict[str, list[dict]]) -> str:
    """One line saying what the step does, with the names of what it points at."""
    names = {
        field: {o["value"]: o["name"] for o in refs.get(kind, [])}
        for field, kind in (
            ("team_id", "teams"),
            ("user_id", "members"),
            ("flow_id", "flows"),
            ("channel_id", "channels"),
            ("template_id", "templates"),
        )
    }
    pointed = [names[f].get(str(step[f]), "") for f in names if step.get(f)]
    words = [w for w in pointed if w]
    for field in ("text", "url", "attribute", "label", "value"):
        if step.get(field):
            words.append(str(step[field]))
            break
    if step["kind"] == "wait":
        words.append(f"{step['minutes']} min")
    return " · ".join(words)[:120]


@access(min_role=Role.ADMIN)
class FlowsState(GuardedState):
    rows: list[dict] = []
    problem: str = ""

    @rx.event
    async def load(self):
        self.rows = await in_transaction(flows.listing, self._identity())

    @rx.event
    async def create(self, form: dict):
        try:
            flow = await in_transaction(flows.create, self._identity(), form.get("name"))
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return None
        self.problem = ""
        return rx.redirect(f"/flows/{flow.id}")


@access(min_role=Role.ADMIN)
class BuilderState(EditorMixin, GuardedState):
    flow: dict = {}
    steps: list[dict] = []
    targets: list[dict] = []
    refs: dict[str, list[dict]] = {}
    problems: list[str] = []
    notice: str = ""
    testing: bool = False
    test_lines: list[dict] = []
    test_choices: list[dict] = []
    test_done: bool = False
    _test_cursor: dict = {}
    _test_attributes: dict = {}

    def _flow_id(self) -> int:
        raw = str(self.router.page.params.get("flow_id", ""))
        return int(raw) if raw.isdigit() and len(raw) < 19 else 0

    async def _call(self, fn, *args) -> bool:
        try:
            await in_transaction(fn, self._identity(), self._flow_id(), *args)
        except AccessError as refusal:
            self.notice = ""
            self.problems = [await translated(self, refusal)]
            return False
        return True

    @rx.event
    async def load(self):
        identity = self._identity()
        try:
            found = await in_transaction(flows.editor, identity, self._flow_id())
        except AccessError:
            return rx.redirect("/flows")
        self.refs = await in_transaction(flows.references, identity)
        self.flow = {k: v for k, v in found.items() if k != "steps"}
        session = await self.get_state(SessionState)
        numbered = list(enumerate(found["steps"], start=1))
        self.targets = [
            {"value": NEXT_CHOICE, "name": session._text("flows.target.next")},
            {"value": definition.END, "name": session._text("flows.target.end")},
        ] + [
            {"value": step["id"], "name": f"{n} · " + session._text(f"flows.kind.{step['kind']}")}
            for n, step in numbered
        ]
        self.steps = [self._view(n, step) for n, step in numbered]
        return None

    def _view(self, n: int, step: dict) -> dict:
        outs = []
        if step["kind"] == "menu":
            for i, option in enumerate(step["options"]):
                outs.append(("option:" + str(i), "", option["title"], option["next"]))
        for field in definition.TARGETS:
            if field in step:
                outs.append((field, f"flows.branch.{field}", "", step[field]))
        return {
            **{k: v for k, v in step.items() if k != "options"},
            "options": "\n".join(o["title"] for o in step.get("options", [])),
            "number": n,
            "icon": ICONS[step["kind"]],
            "summary": _summary(step, self.refs),
            "branches": [
                {"branch": b, "key": key, "title": title, "target": target or NEXT_CHOICE}
                for b, key, title, target in outs
            ],
        }

    # Steps ---------------------------------------------------------------------------------

    @rx.event
    async def add(self, kind: str):
        if await self._call(flows.add_step, kind):
            await self.load()
            self._open_editor(self.steps[-1])

    @rx.event
    def edit(self, step_id: str):
        found = next((s for s in self.steps if s["id"] == step_id), None)
        if found is not None:
            self._open_editor(found)

    @rx.event
    async def save_step(self, form: dict):
        raw = {k: v for k, v in (form or {}).items() if not k.startswith("day_")}
        if self.editing.get("kind") == "condition":
            raw["days"] = [int(k[4:]) for k in form if k.startswith("day_") and k[4:].isdigit()]
        if self.editing.get("kind") == "menu":  # options keep their branches by position
            old = self.editing.get("branches", [])
            targets = [b["target"] for b in old if b["branch"].startswith("option:")]
            lines = [x for x in str(raw.get("options", "")).splitlines() if x.strip()]
            raw["options"] = [
                {"title": title, "next": _stored(targets[i]) if i < len(targets) else ""}
                for i, title in enumerate(lines)
            ]
        raw["id"] = self.editing.get("id")
        await self._save_editor(flows.save_step, self._flow_id(), raw)

    @rx.event
    async def target(self, step_id: str, branch: str, value: str):
        if await self._call(flows.set_target, step_id, branch, _stored(value)):
            await self.load()

    @rx.event
    async def move(self, step_id: str, by: int):
        if await self._call(flows.move_step, step_id, by):
            await self.load()

    @rx.event
    async def remove(self, step_id: str):
        if await self._call(flows.delete_step, step_id):
            await self.load()

    # The flow ------------------------------------------------------------------------------

    @rx.event
    async def save_settings(self, form: dict):
        form = dict(form or {})
        form["channel_ids"] = [int(k[8:]) for k in form if k.startswith("channel_")]
        form["active"] = form.get("active") == "on"
        if await self._call(flows.save_settings, form):
            self.problems, self.notice = [], await translated(self, "flows.saved")
            await self.load()

    @rx.event
    async def publish(self):
        try:
            number = await in_transaction(flows.publish, self._identity(), self._flow_id())
        except flows.NotPublishable as refused:
            self.notice = ""
            self.problems = [await self._problem_text(p) for p in refused.problems]
            return
        except AccessError as refusal:
            self.problems = [await translated(self, refusal)]
            return
        self.problems = []
        self.notice = await translated(self, "flows.published", version=number)
        await self.load()

    async def _problem_text(self, problem: definition.Problem) -> str:
        n, key, params = problem
        session = await self.get_state(SessionState)
        params = {
            k: session._text(v) if str(v).startswith("flows.") else v for k, v in params.items()
        }
        text = session._text(key, **params)
        return session._text("flows.problem.at_step", step=n, problem=text) if n else text

    @rx.event
    async def delete_flow(self):
        if await self._call(flows.delete):
            return rx.redirect("/flows")
        return None

    # Test mode -----------------------------------------------------------------------------

    @rx.event
    async def toggle_test(self):
        self.testing = not self.testing
        if self.testing:
            await self.restart_test()

    @rx.event
    async def restart_test(self):
        self._test_cursor, self._test_attributes = {}, {}
        self.test_lines, self.test_choices, self.test_done = [], [], False
        await self._play(engine.Start())

    @rx.event
    async def test_send(self, form: dict):
        text = " ".join(str((form or {}).get("text", "")).split())[:500]
        if text and not self.test_done:
            await self._play(engine.Answer(text=text), text)

    @rx.event
    async def test_choose(self, choice_id: str, title: str):
        if not self.test_done:
            await self._play(engine.Answer(text=title, choice=choice_id), title)

    @rx.event
    async def test_timeout(self):
        if not self.test_done:
            await self._play(engine.Timeout())

    async def _play(self, event, said: str = "") -> None:
        identity = self._identity()
        setup = await in_transaction(flows.rehearsal_setup, identity, self._flow_id())
        ctx = engine.Context(
            name=identity.name,
            wa_id="5500000000000",
            attributes=self._test_attributes,
            channel_id=0,
            now=utcnow(),
            zone=zoneinfo.ZoneInfo(setup["timezone"]),
        )
        played = await run_in_threadpool(
            lambda: rehearsal.play(setup["draft"], self._test_cursor, ctx, event, setup["hosts"])
        )
        self._test_cursor, self._test_attributes = played.cursor, ctx.attributes
        mine = [{"side": "me", "text": said, "key": "", "options": []}] if said else []
        self.test_lines = [*self.test_lines, *mine, *(line.as_dict() for line in played.lines)]
        self.test_choices = played.choices if not played.done else []
        self.test_done = played.done


def _stored(value: str) -> str:
    return definition.NEXT if value == NEXT_CHOICE else value


# The list ------------------------------------------------------------------------------------


def _flow_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row["name"], href="/flows/" + row["id"].to(str), weight="medium"),
        ),
        rx.table.cell(SessionState.tr["flows.trigger." + row["trigger"].to(str)].to(str)),
        rx.table.cell(
            rx.cond(
                row["version"].to(int) > 0,
                rx.badge("v" + row["version"].to(str), variant="soft"),
                rx.badge(t("flows.draft"), color_scheme="gray", variant="soft"),
            )
        ),
        rx.table.cell(
            rx.cond(
                row["active"].to(bool),
                rx.badge(t("flows.active"), color_scheme="green"),
                rx.badge(t("flows.inactive"), color_scheme="gray"),
            )
        ),
        rx.table.cell(row["running"].to(str)),
        rx.table.cell(row["priority"].to(str)),
        data_testid="flow-row",
    )


def flows_page() -> rx.Component:
    return shell(
        "nav.flows",
        rx.vstack(
            rx.text(t("flows.intro"), size="2", color=rx.color("gray", 11)),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="name",
                        placeholder=t("flows.new_name"),
                        max_length=flows.MAX_NAME,
                        required=True,
                        width="280px",
                        data_testid="flow-new-name",
                    ),
                    rx.button(
                        rx.icon("plus", size=14),
                        t("flows.create"),
                        type="submit",
                        data_testid="flow-create",
                    ),
                ),
                on_submit=FlowsState.create,
            ),
            error_callout(FlowsState.problem),
            rx.cond(
                FlowsState.rows.length() > 0,
                card(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(t(f"flows.column.{c}"))
                                    for c in (
                                        "name",
                                        "trigger",
                                        "version",
                                        "state",
                                        "running",
                                        "priority",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(FlowsState.rows, _flow_row)),
                        width="100%",
                    )
                ),
                empty_state("bot", "flows.empty_title", "flows.empty_body"),
            ),
            spacing="4",
            width="100%",
        ),
    )


# The builder ---------------------------------------------------------------------------------


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


def _fixed(name: str, values: tuple[str, ...], prefix: str, default: rx.Var) -> rx.Component:
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
                        _fixed(
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
                        _fixed(
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
                    _fixed(
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
                        _fixed(
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
                        _fixed(
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


def _step_dialog() -> rx.Component:
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


def _step_card(step: rx.Var) -> rx.Component:
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


def _add_menu() -> rx.Component:
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
                        _fixed("trigger", flows.TRIGGERS, "flows.trigger", flow["trigger"].to(str)),
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


def _test_line(line: rx.Var) -> rx.Component:
    side = line["side"].to(str)
    bubble = rx.box(
        rx.text(line["text"].to(str), size="2", white_space="pre-wrap"),
        rx.foreach(
            line["options"].to(list[str]),
            lambda o: rx.text("▸ " + o, size="1", color=rx.color("accent", 11)),
        ),
        background=rx.cond(side == "me", rx.color("green", 4), rx.color("gray", 3)),
        padding="6px 10px",
        border_radius="10px",
        max_width="85%",
    )
    note = rx.text(
        SessionState.tr[line["key"].to(str)].to(str) + " " + line["text"].to(str),
        size="1",
        color=rx.color("gray", 10),
        font_style="italic",
        text_align="center",
        width="100%",
    )
    return rx.cond(
        side == "note",
        note,
        rx.flex(bubble, justify=rx.cond(side == "me", "end", "start"), width="100%"),
    )


def _test_panel() -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.icon("flask-conical", size=16),
                rx.heading(t("flows.test.title"), size="3"),
                rx.spacer(),
                rx.button(
                    rx.icon("rotate-ccw", size=14),
                    t("flows.test.restart"),
                    size="1",
                    variant="soft",
                    on_click=BuilderState.restart_test,
                ),
                align="center",
                width="100%",
            ),
            rx.text(t("flows.test.intro"), size="1", color=rx.color("gray", 10)),
            rx.vstack(
                rx.foreach(BuilderState.test_lines, _test_line),
                spacing="2",
                width="100%",
                max_height="440px",
                overflow_y="auto",
                padding="8px",
                background=rx.color("gray", 2),
                border_radius="8px",
                data_testid="test-chat",
            ),
            rx.flex(
                rx.foreach(
                    BuilderState.test_choices,
                    lambda c: rx.button(
                        c["title"],
                        size="1",
                        variant="outline",
                        on_click=BuilderState.test_choose(c["id"].to(str), c["title"].to(str)),
                        data_testid="test-choice",
                    ),
                ),
                wrap="wrap",
                gap="6px",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="text",
                        placeholder=t("flows.test.placeholder"),
                        width="100%",
                        disabled=BuilderState.test_done,
                        data_testid="test-input",
                    ),
                    rx.icon_button(
                        rx.icon("send", size=14),
                        type="submit",
                        aria_label="send",
                        disabled=BuilderState.test_done,
                    ),
                    width="100%",
                ),
                on_submit=BuilderState.test_send,
                reset_on_submit=True,
                width="100%",
            ),
            rx.button(
                t("flows.test.no_answer"),
                size="1",
                variant="ghost",
                on_click=BuilderState.test_timeout,
                disabled=BuilderState.test_done,
            ),
            spacing="2",
            width="100%",
        ),
        min_width="340px",
        max_width="380px",
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
                    on_click=BuilderState.toggle_test,
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
                        rx.vstack(rx.foreach(BuilderState.steps, _step_card), width="100%"),
                        empty_state("bot", "flows.no_steps_title", "flows.no_steps_body"),
                    ),
                    _add_menu(),
                    width="100%",
                    spacing="3",
                ),
                rx.cond(BuilderState.testing, _test_panel()),
                align="start",
                width="100%",
                spacing="4",
            ),
            _step_dialog(),
            spacing="4",
            width="100%",
        ),
    )
