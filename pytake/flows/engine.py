"""Running a flow, without a database: given where a run stands and what just happened,
what the bot does next and where it stands after.

The runtime (``pytake.services.flows``) applies the actions to a real conversation; the
builder's test mode applies them to a chat panel. Both therefore behave the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from pytake.flows import answers, definition
from pytake.folding import fold
from pytake.variables import contact_values, substitute

MAX_RETRIES = 3  # invalid answers to one question before its fallback
MAX_STEPS_PER_PASS = 30  # steps in a row without waiting for the customer: a loop
MAX_STEPS_PER_RUN = 300
CHOICE_PREFIX = "flow:"


# What happens to the bot ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Start:
    pass


@dataclasses.dataclass(frozen=True)
class Answer:
    text: str = ""
    choice: str = ""  # the id of a tapped button or list row


@dataclasses.dataclass(frozen=True)
class Timeout:
    pass


@dataclasses.dataclass(frozen=True)
class Response:
    """How an HTTP step's request went: ``data`` is the parsed JSON, ``failed`` a reason."""

    status: int = 0
    data: object = None
    failed: str = ""


Event = Start | Answer | Timeout | Response


# What the bot does ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Say:
    kind: str  # text | interactive | image … | template
    content: dict
    step: str


@dataclasses.dataclass(frozen=True)
class Remember:
    attribute: str
    value: str


@dataclasses.dataclass(frozen=True)
class AddLabel:
    name: str


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict
    body: str
    timeout: int


@dataclasses.dataclass(frozen=True)
class Handoff:
    team_id: int
    user_id: int


@dataclasses.dataclass(frozen=True)
class Resolve:
    pass


@dataclasses.dataclass(frozen=True)
class Jump:
    flow_id: int


@dataclasses.dataclass(frozen=True)
class Finish:
    reason: str  # end | handoff | resolved | jump | loop | too_long | no_answer | broken


@dataclasses.dataclass(frozen=True)
class Sleep:
    minutes: int  # wake me with Timeout then (0: only an answer wakes me)


@dataclasses.dataclass(frozen=True)
class Visit:
    """A step taken, for the trail the agent reads."""

    step: str
    kind: str
    note: str = ""


Action = Say | Remember | AddLabel | Request | Handoff | Resolve | Jump | Finish | Sleep | Visit


@dataclasses.dataclass
class Context:
    """What the bot may know of the conversation."""

    name: str
    wa_id: str | None
    attributes: dict[str, str]
    channel_id: int
    now: dt.datetime
    zone: zoneinfo.ZoneInfo
    open_now: bool | None = None  # business hours; None: the number has none (always open)

    def fill(self, text: str) -> str:
        attributes = {k.casefold(): str(v) for k, v in self.attributes.items()}
        return substitute(text, contact_values(self.name, self.wa_id), attributes)


@dataclasses.dataclass
class Outcome:
    actions: list[Action]
    cursor: dict


def fresh_cursor(first: str | None, taken: int = 0) -> dict:
    return {"step": first, "waiting": "", "retries": 0, "reminded": False, "taken": taken}


def advance(flow: dict, cursor: dict, ctx: Context, event: Event) -> Outcome:
    """The bot's next moves. ``cursor["waiting"]`` says what it waits for: ``answer``,
    ``wait`` (a Timeout), ``http`` (a Response) or nothing (it just starts)."""
    steps = definition.steps_of(flow)
    index = {step["id"]: n for n, step in enumerate(steps)}
    run = _Run(steps, index, dict(cursor), ctx)
    if isinstance(event, Start):
        run.cursor = fresh_cursor(steps[0]["id"] if steps else None, cursor.get("taken", 0))
    elif not run.resume(event):
        return Outcome(run.actions, run.cursor)
    run.go()
    return Outcome(run.actions, run.cursor)


class _Run:
    def __init__(self, steps: list[dict], index: dict[str, int], cursor: dict, ctx: Context):
        self.steps, self.index, self.cursor, self.ctx = steps, index, cursor, ctx
        self.actions: list[Action] = []

    # Moving -----------------------------------------------------------------------------

    def step(self) -> dict | None:
        n = self.index.get(self.cursor.get("step") or "")
        return self.steps[n] if n is not None else None

    def move(self, target: str) -> None:
        n = self.index[self.cursor["step"]]
        self.cursor.update(
            step=definition.resolve(self.steps, n, target), waiting="", retries=0, reminded=False
        )

    def finish(self, reason: str) -> None:
        self.actions.append(Finish(reason))
        self.cursor.update(step=None, waiting="")

    def say(self, text: str, step: dict) -> None:
        if text:
            self.actions.append(Say("text", {"body": self.ctx.fill(text)}, step["id"]))

    def go(self) -> None:
        """Take steps until the bot must wait or stops."""
        for done in range(MAX_STEPS_PER_PASS + 1):
            step = self.step()
            if step is None:
                if self.cursor.get("step") is not None:
                    return self.finish("broken")  # a target removed since: never crash
                return self.finish("end")
            if self.cursor.get("taken", 0) >= MAX_STEPS_PER_RUN:
                return self.finish("too_long")
            if done == MAX_STEPS_PER_PASS:
                break
            self.cursor["taken"] = self.cursor.get("taken", 0) + 1
            self.actions.append(Visit(step["id"], step["kind"]))
            if not getattr(self, f"do_{step['kind']}")(step):
                return None
        return self.finish("loop")

    # Steps: each returns True to go on, False when the bot now waits or stopped -----------

    def do_message(self, step: dict) -> bool:
        fill = self.ctx.fill
        if step["template_id"]:
            values = [fill(v) for v in step["template_values"].splitlines()]
            content = {"template_id": step["template_id"], "values": values}
            self.actions.append(Say("template", content, step["id"]))
        elif step["media_url"]:
            content = {"link": fill(step["media_url"])}
            if step["text"] and step["media_type"] != "audio":
                content["caption"] = fill(step["text"])
            self.actions.append(Say(step["media_type"], content, step["id"]))
        else:
            self.say(step["text"], step)
        self.move(step["next"])
        return True

    def do_menu(self, step: dict) -> bool:
        self.actions.append(Say("interactive", menu_content(step, self.ctx.fill), step["id"]))
        return self.wait_answer(step)

    def do_input(self, step: dict) -> bool:
        self.say(step["text"], step)
        return self.wait_answer(step)

    def wait_answer(self, step: dict) -> bool:
        self.cursor.update(waiting="answer")
        self.actions.append(Sleep(step["timeout"]))
        return False

    def do_condition(self, step: dict) -> bool:
        self.move(step["yes"] if condition_holds(step, self.ctx) else step["no"])
        return True

    def do_set(self, step: dict) -> bool:
        if step["attribute"]:
            value = self.ctx.fill(step["value"])
            self.remember(step["attribute"], value)
        if step["label"]:
            self.actions.append(AddLabel(step["label"]))
        self.move(step["next"])
        return True

    def remember(self, attribute: str, value: str) -> None:
        self.ctx.attributes[attribute] = value
        self.actions.append(Remember(attribute, value))

    def do_http(self, step: dict) -> bool:
        headers = {}
        for line in step["headers"].splitlines():
            name, _, value = line.partition(":")
            if name.strip() and value.strip():
                headers[name.strip()] = self.ctx.fill(value.strip())
        url = self.ctx.fill(step["url"])
        self.actions.append(
            Request(step["method"], url, headers, self.ctx.fill(step["body"]), step["timeout"])
        )
        self.cursor.update(waiting="http")
        return False

    def do_wait(self, step: dict) -> bool:
        if step["minutes"] <= 0:  # saved before waits had to last: nothing would wake it
            self.move(step["next"])
            return True
        self.cursor.update(waiting="wait")
        self.actions.append(Sleep(step["minutes"]))
        return False

    def do_handoff(self, step: dict) -> bool:
        self.say(step["text"], step)
        self.actions.append(Handoff(step["team_id"], step["user_id"]))
        self.finish("handoff")
        return False

    def do_resolve(self, step: dict) -> bool:
        self.say(step["text"], step)
        self.actions.append(Resolve())
        self.finish("resolved")
        return False

    def do_jump(self, step: dict) -> bool:
        self.actions.append(Jump(step["flow_id"]))
        self.cursor.update(step=None, waiting="")
        return False

    # Resuming after a wait ----------------------------------------------------------------

    def resume(self, event: Event) -> bool:
        """Handle what the bot waited for; True when it should take further steps."""
        step, waiting = self.step(), self.cursor.get("waiting")
        if step is None:
            return False
        if waiting == "answer" and isinstance(event, Answer):
            return self.answered(step, event)
        if waiting == "answer" and isinstance(event, Timeout):
            if step["reminder"] and not self.cursor.get("reminded"):
                self.cursor["reminded"] = True
                self.say(step["reminder"], step)
                self.actions.append(Sleep(step["timeout"]))
                return False
            self.actions.append(Visit(step["id"], "no_answer"))
            self.move(step["fallback"])
            return True
        if waiting == "wait" and isinstance(event, Timeout):
            self.move(step["next"])
            return True
        if waiting == "http" and isinstance(event, Response):
            return self.responded(step, event)
        return False  # not what the bot waits for (a stray timer, a reply during a wait)

    def answered(self, step: dict, event: Answer) -> bool:
        if step["kind"] == "menu":
            chosen = choice_of(step, event)
            if chosen is not None:
                option = step["options"][chosen]
                if step["attribute"]:
                    self.remember(step["attribute"], option["title"])
                self.actions.append(Visit(step["id"], "answer", option["title"]))
                self.move(option["next"])
                return True
        else:
            value = answers.check(step["check"], event.text, step["pattern"])
            if value is not None:
                self.remember(step["attribute"], value)
                self.actions.append(Visit(step["id"], "answer", value))
                self.move(step["next"])
                return True
        self.cursor["retries"] = self.cursor.get("retries", 0) + 1
        if self.cursor["retries"] >= MAX_RETRIES:
            self.actions.append(Visit(step["id"], "no_answer"))
            self.move(step["fallback"])
            return True
        # Without a retry text a question is asked again (a menu is shown again anyway).
        self.say(step["retry"] or (step["text"] if step["kind"] == "input" else ""), step)
        if step["kind"] == "menu" and event.choice:  # tapped an old menu: show this one
            self.actions.append(Say("interactive", menu_content(step, self.ctx.fill), step["id"]))
        elif step["kind"] == "menu":  # typed: the options as numbered text to answer with
            self.say(numbered(step, self.ctx.fill), step)
        self.actions.append(Sleep(step["timeout"]))
        return False

    def responded(self, step: dict, event: Response) -> bool:
        if event.failed or not 200 <= event.status < 300:
            self.actions.append(Visit(step["id"], "http", event.failed or str(event.status)))
            self.move(step["fallback"])
            return True
        for attribute, path in definition.mappings(step["save"]):
            value = pick(event.data, path)
            if value is not None:
                self.remember(attribute, value)
        self.move(step["next"])
        return True


# Pieces the runtime and the builder share ------------------------------------------------


def menu_content(step: dict, fill) -> dict:
    """Reply buttons for up to three short options, else a list; ids name step and option."""
    options = step["options"]
    ids = [f"{CHOICE_PREFIX}{step['id']}:{n}" for n in range(len(options))]
    body = fill(step["text"])
    if definition.as_buttons(options):
        buttons = [{"id": i, "title": o["title"]} for i, o in zip(ids, options, strict=True)]
        return {"kind": "button", "body": body, "buttons": buttons}
    rows = [{"id": i, "title": o["title"]} for i, o in zip(ids, options, strict=True)]
    return {"kind": "list", "body": body, "button": step["button"], "sections": [{"rows": rows}]}


def numbered(step: dict, fill) -> str:
    """The menu for a customer who types: its question, then "1. Vendas", "2. Suporte"…"""
    options = [f"{n}. {o['title']}" for n, o in enumerate(step["options"], start=1)]
    return "\n".join([fill(step["text"]), "", *options])


def choice_of(step: dict, event: Answer) -> int | None:
    """The option a customer chose: tapped, typed as its number ("2"), or typed as its title
    ("vendas" for "Vendas") when they answer a menu with text."""
    prefix = f"{CHOICE_PREFIX}{step['id']}:"
    if event.choice.startswith(prefix):
        n = event.choice.removeprefix(prefix)
        return int(n) if n.isdigit() and int(n) < len(step["options"]) else None
    typed = fold(event.text).strip(" .)")
    if typed.isdigit() and 1 <= int(typed) <= len(step["options"]):
        return int(typed) - 1
    titles = [fold(o["title"]) for o in step["options"]]
    return titles.index(typed) if typed in titles else None


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def condition_holds(step: dict, ctx: Context) -> bool:
    test = step["test"]
    if test == "hours":
        return ctx.open_now is not False
    if test == "channel":
        return ctx.channel_id == step["channel_id"]
    if test == "time":
        local = ctx.now.astimezone(ctx.zone)
        if step["days"] and local.weekday() not in step["days"]:
            return False
        if step["start"] and step["end"]:
            now = local.hour * 60 + local.minute
            start, end = _minutes(step["start"]), _minutes(step["end"])
            return start <= now < end if start <= end else (now >= start or now < end)
        return True
    attributes = {k.casefold(): str(v) for k, v in ctx.attributes.items()}
    have = fold(attributes.get(step["attribute"].casefold(), ""))
    want = fold(ctx.fill(step["value"]))
    op = step["op"]
    if op in definition.OPERATORS_NUMERIC:
        left, right = answers.check("number", have), answers.check("number", want)
        if left is None or right is None:
            return False
        return float(left) > float(right) if op == "greater" else float(left) < float(right)
    return {
        "equals": have == want,
        "not_equals": have != want,
        "contains": bool(want) and want in have,
        "starts_with": bool(want) and have.startswith(want),
        "is_set": bool(have),
        "is_empty": not have,
    }[op]


def pick(data: object, path: str) -> str | None:
    """``a.b[0].c`` out of a JSON document, as text; None when absent."""
    current = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    if current is None or isinstance(current, dict | list):
        return None
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)[:500]
