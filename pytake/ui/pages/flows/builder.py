"""The builder's state: one flow, its steps as the page shows them, and the edits (steps,
their branches, the flow's settings, publishing). Test mode keeps its own (``rehearsal``)."""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.flows import definition
from pytake.models import Role
from pytake.services import flows
from pytake.ui.forms import EditorMixin
from pytake.ui.guard import GuardedState, access
from pytake.ui.session import SessionState, in_transaction, translated

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


def flow_id(state: rx.State) -> int:
    """The flow in the page's URL; 0 (no flow) for anything that cannot be one."""
    raw = str(state.router.page.params.get("flow_id", ""))
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


@access(min_role=Role.ADMIN)
class BuilderState(EditorMixin, GuardedState):
    flow: dict = {}
    steps: list[dict] = []
    targets: list[dict] = []
    refs: dict[str, list[dict]] = {}
    problems: list[str] = []
    notice: str = ""

    async def _call(self, fn, *args) -> bool:
        try:
            await in_transaction(fn, self._identity(), flow_id(self), *args)
        except AccessError as refusal:
            self.notice = ""
            self.problems = [await translated(self, refusal)]
            return False
        return True

    @rx.event
    async def load(self):
        identity = self._identity()
        try:
            found = await in_transaction(flows.editor, identity, flow_id(self))
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
        await self._save_editor(flows.save_step, flow_id(self), raw)

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
            number = await in_transaction(flows.publish, self._identity(), flow_id(self))
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


def _stored(value: str) -> str:
    return definition.NEXT if value == NEXT_CHOICE else value
