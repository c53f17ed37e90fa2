"""What a flow is: an ordered list of steps, each of one kind, joined by targets.

A target is a step id, ``""`` (the step that follows in the list) or ``"end"`` (the bot
stops and the conversation waits in its team's queue). The first step is where a run
starts. ``clean_step`` checks one step as the builder saves it; ``problems`` checks a whole
flow before it is published.
"""

from __future__ import annotations

import re
import secrets
import urllib.parse

from pytake.flows import answers
from pytake.variables import BUILT_IN, malformed, names

NEXT, END = "", "end"
MAX_STEPS = 100
MAX_TEXT = 1024  # an interactive message's body
MAX_OPTIONS = 10  # a list's rows
BUTTONS_MAX, BUTTON_TITLE, ROW_TITLE = 3, 20, 24
MAX_TIMEOUT_MINUTES = 23 * 60  # the bot only speaks inside the 24-hour window
MAX_WAIT_MINUTES = 23 * 60
HTTP_TIMEOUT_MAX = 10
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH")
CONDITION_TESTS = ("attribute", "hours", "channel", "time")
OPERATORS = ("equals", "not_equals", "contains", "starts_with", "is_set", "is_empty")
OPERATORS_NUMERIC = ("greater", "less")
MEDIA_KINDS = ("image", "video", "document", "audio")
MAX_CAPTION = 1024
# Fields whose {{variables}} are filled when the bot runs.
FILLED = ("text", "retry", "reminder", "value", "url", "headers", "body", "media_url",
          "template_values")  # fmt: skip
_ID = re.compile(r"^[a-z0-9]{1,12}$")
_ATTRIBUTE = re.compile(r"^[\w][\w .-]{0,39}$", re.UNICODE)
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MAPPING = re.compile(r"^\s*([\w][\w .-]{0,39}?)\s*=\s*([\w.\[\]-]+)\s*$", re.UNICODE)

# Each kind's fields and their defaults; anything else a client sends is dropped.
FIELDS: dict[str, dict[str, object]] = {
    "message": {"text": "", "media_type": "", "media_url": "", "template_id": 0,
                "template_values": "", "next": NEXT},
    "menu": {"text": "", "options": [], "button": "", "retry": "", "attribute": "",
             "timeout": 0, "reminder": "", "fallback": END},
    "input": {"text": "", "check": "text", "pattern": "", "attribute": "", "retry": "",
              "timeout": 0, "reminder": "", "fallback": END, "next": NEXT},
    "condition": {"test": "attribute", "attribute": "", "op": "equals", "value": "",
                  "channel_id": 0, "days": [], "start": "", "end": "", "yes": NEXT,
                  "no": NEXT},
    "set": {"attribute": "", "value": "", "label": "", "next": NEXT},
    "http": {"method": "GET", "url": "", "headers": "", "body": "", "timeout": 5,
             "save": "", "next": NEXT, "fallback": NEXT},
    "wait": {"minutes": 1, "next": NEXT},
    "handoff": {"team_id": 0, "user_id": 0, "text": ""},
    "resolve": {"text": ""},
    "jump": {"flow_id": 0},
}  # fmt: skip
KINDS = tuple(FIELDS)
QUESTIONS = frozenset({"menu", "input"})
TARGETS = ("next", "yes", "no", "fallback")
LIMITS = {"text": 4096, "retry": 1024, "reminder": 1024, "button": BUTTON_TITLE,
          "media_url": 2000, "url": 2000, "headers": 2000, "body": 4000, "save": 2000,
          "value": 500, "pattern": 200, "template_values": 2000, "label": 60}  # fmt: skip


class StepError(ValueError):
    """A step the builder sent cannot be saved: ``code`` names the i18n message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params


def new_id(taken: set[str]) -> str:
    while True:
        candidate = secrets.token_hex(3)
        if candidate not in taken:
            return candidate


def _int(value: object, low: int, high: int, field: str) -> int:
    try:
        number = int(str(value).strip() or 0) if not isinstance(value, bool) else -1
    except ValueError:
        raise StepError("flows.bad_number", field=field) from None
    if not low <= number <= high:
        raise StepError("flows.out_of_range", field=field, low=low, high=high)
    return number


def _target(value: object) -> str:
    value = value if isinstance(value, str) else ""
    if value not in (NEXT, END) and not _ID.match(value):
        raise StepError("flows.bad_target")
    return value


def _options(value: object) -> list[dict]:
    """The menu's choices: a list of {title, next}, or one title per line."""
    if isinstance(value, str):
        value = [{"title": line} for line in value.splitlines()]
    if not isinstance(value, list):
        raise StepError("flows.bad_options")
    options = []
    for item in value:
        if not isinstance(item, dict):
            raise StepError("flows.bad_options")
        title = " ".join(str(item.get("title") or "").split())
        if title:
            options.append({"title": title[:ROW_TITLE], "next": _target(item.get("next", NEXT))})
    if len(options) > MAX_OPTIONS:
        raise StepError("flows.too_many_options", max=MAX_OPTIONS)
    return options


def clean_step(raw: object) -> dict:
    """One step as stored: known fields only, each of the right type and size."""
    if not isinstance(raw, dict) or raw.get("kind") not in FIELDS:
        raise StepError("flows.bad_kind")
    kind = raw["kind"]
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        raise StepError("flows.bad_step")
    step: dict = {"id": step_id, "kind": kind}
    for field, default in FIELDS[kind].items():
        value = raw.get(field, default)
        if field in TARGETS:
            step[field] = _target(value)
        elif field == "options":
            step[field] = _options(value)
        elif field == "days":
            days = value if isinstance(value, list) else []
            step[field] = sorted({_int(d, 0, 6, field) for d in days})
        elif isinstance(default, int):
            top = {"timeout": MAX_TIMEOUT_MINUTES, "minutes": MAX_WAIT_MINUTES}.get(field)
            if kind == "http" and field == "timeout":
                step[field] = _int(value, 1, HTTP_TIMEOUT_MAX, field)
            elif field == "minutes":  # a wait of 0 would never end: only its timer wakes it
                step[field] = _int(value, 1, MAX_WAIT_MINUTES, field)
            else:
                step[field] = _int(value, 0, top or 2**53, field)
        else:
            text = value.strip() if isinstance(value, str) else ""
            if len(text) > LIMITS.get(field, 200):
                raise StepError("flows.too_long", field=field, max=LIMITS.get(field, 200))
            step[field] = text
    return _checked_choices(step)


def _checked_choices(step: dict) -> dict:
    """Choices among fixed values, checked once the step is whole."""
    allowed = {
        "media_type": ("", *MEDIA_KINDS),
        "check": answers.KINDS,
        "test": CONDITION_TESTS,
        "op": OPERATORS + OPERATORS_NUMERIC,
        "method": HTTP_METHODS,
    }
    for field, values in allowed.items():
        if field in step and step[field] not in values:
            raise StepError("flows.bad_choice", field=field)
    for field in ("start", "end"):
        if step.get(field) and not _TIME.match(step[field]):
            raise StepError("flows.bad_time")
    return step


def steps_of(definition: object) -> list[dict]:
    steps = (definition or {}).get("steps") if isinstance(definition, dict) else None
    return steps if isinstance(steps, list) else []


def following(steps: list[dict], index: int) -> str | None:
    return steps[index + 1]["id"] if index + 1 < len(steps) else None


def resolve(steps: list[dict], index: int, target: str) -> str | None:
    """The id a target leads to from the step at ``index``; None ends the run."""
    if target == END:
        return None
    if target == NEXT:
        return following(steps, index)
    return target


def branches(step: dict) -> list[tuple[str, str]]:
    """(label, target) of every way out of a step; label is the i18n key or option title."""
    kind = step["kind"]
    if kind == "menu":
        return [(o["title"], o["next"]) for o in step["options"]] + [
            ("flows.branch.fallback", step["fallback"])
        ]
    if kind == "condition":
        return [("flows.branch.yes", step["yes"]), ("flows.branch.no", step["no"])]
    if kind in ("handoff", "resolve", "jump"):
        return []
    out = [("flows.branch.next", step["next"])]
    if "fallback" in step:
        out.append(("flows.branch.fallback", step["fallback"]))
    return out


def saved_attributes(steps: list[dict]) -> set[str]:
    """Attributes the flow itself fills, in lower case."""
    found = set()
    for step in steps:
        if step.get("attribute") and step["kind"] in ("menu", "input", "set"):
            found.add(step["attribute"].casefold())
        for line in (step.get("save") or "").splitlines():
            mapped = _MAPPING.match(line)
            if mapped:
                found.add(mapped[1].casefold())
    return found


def mappings(save: str) -> list[tuple[str, str]]:
    """``attribute = path.in.response`` lines as pairs; bad lines are problems at publish."""
    return [(m[1], m[2]) for m in map(_MAPPING.match, save.splitlines()) if m]


def host_allowed(url: str, hosts: list[str]) -> bool:
    try:
        parsed = urllib.parse.urlsplit(url)
        host = (parsed.hostname or "").lower()
    except ValueError:  # "http://[::1" and the like
        return False
    return parsed.scheme in ("http", "https") and bool(host) and host in hosts


Problem = tuple[int, str, dict]  # (step number from 1, or 0 for the flow; i18n key; params)


def problems(definition: object, known: set[str], hosts: list[str]) -> list[Problem]:
    """Everything that would make the flow misbehave, before anyone's conversation meets it.
    ``known`` are attributes contacts already have; ``hosts`` the HTTP allowlist."""
    steps = steps_of(definition)
    if not steps:
        return [(0, "flows.problem.empty", {})]
    if len(steps) > MAX_STEPS:
        return [(0, "flows.problem.too_many", {"max": MAX_STEPS})]
    ids = {step["id"]: n for n, step in enumerate(steps)}
    found: list[Problem] = []
    attributes = known | saved_attributes(steps) | BUILT_IN
    for n, step in enumerate(steps, start=1):
        found += [(n, code, params) for code, params in _step_problems(step, hosts)]
        for label, target in branches(step):
            if target not in (NEXT, END) and target not in ids:
                found.append((n, "flows.problem.unknown_target", {"branch": label}))
            if target == NEXT and n == len(steps) and step["kind"] in ("menu", "condition"):
                found.append((n, "flows.problem.branch_missing", {"branch": label}))
        for field in FILLED:
            for scope, name in names(step.get(field, "")):
                if scope != "contact" or name.casefold() not in attributes:
                    found.append((n, "flows.problem.unknown_variable", {"name": name}))
            for name in malformed(step.get(field, "")):
                found.append((n, "flows.problem.bad_variable", {"name": name}))
    reachable = _reachable(steps)
    for n, step in enumerate(steps, start=1):
        if step["id"] not in reachable:
            found.append((n, "flows.problem.unreachable", {}))
    found += [(n, "flows.problem.loop", {}) for n in _endless_loops(steps)]
    return found


def _step_problems(step: dict, hosts: list[str]) -> list[tuple[str, dict]]:
    kind, out = step["kind"], []
    if kind == "message" and not (step["text"] or step["media_url"] or step["template_id"]):
        out.append(("flows.problem.nothing_to_send", {}))
    if kind == "message" and bool(step["media_type"]) != bool(step["media_url"]):
        out.append(("flows.problem.media_incomplete", {}))
    if kind == "message" and step["media_url"] and not step["media_url"].startswith("https://"):
        out.append(("flows.problem.link_https", {}))  # WhatsApp fetches only https links
    captioned = kind == "message" and step["media_url"] and step["media_type"] != "audio"
    if captioned and len(step["text"]) > MAX_CAPTION:
        out.append(("flows.too_long", {"field": "flows.field.text", "max": MAX_CAPTION}))
    if kind in QUESTIONS and not step["text"]:
        out.append(("flows.problem.no_question", {}))
    if kind == "menu":
        titles = [o["title"].casefold() for o in step["options"]]
        if not titles:
            out.append(("flows.problem.no_options", {}))
        if len(set(titles)) != len(titles):
            out.append(("flows.problem.duplicate_options", {}))
        if titles and not as_buttons(step["options"]) and not step["button"]:
            out.append(("flows.problem.list_button", {}))
        if titles and as_buttons(step["options"]) and len(step["text"]) > MAX_TEXT:
            out.append(("flows.too_long", {"field": "flows.field.question", "max": MAX_TEXT}))
    if kind == "input":
        if not step["attribute"]:
            out.append(("flows.problem.no_attribute", {}))
        if step["check"] == "pattern":
            why = answers.check_pattern(step["pattern"]) if step["pattern"] else "empty"
            if why:
                out.append(("flows.problem.bad_pattern", {"error": why}))
    if step.get("attribute") and not _ATTRIBUTE.match(step["attribute"]):
        out.append(("flows.problem.bad_attribute", {}))
    if kind == "condition":
        if step["test"] == "attribute" and not step["attribute"]:
            out.append(("flows.problem.no_attribute", {}))
        if step["test"] == "channel" and not step["channel_id"]:
            out.append(("flows.problem.no_channel", {}))
        if step["test"] == "time" and not (step["days"] or (step["start"] and step["end"])):
            out.append(("flows.problem.no_time", {}))
    if kind == "set" and not (step["attribute"] or step["label"]):
        out.append(("flows.problem.nothing_to_set", {}))
    if kind == "http":
        if not host_allowed(step["url"].split("{{", 1)[0] or step["url"], hosts):
            out.append(("flows.problem.host_not_allowed", {}))
        bad = [line for line in step["save"].splitlines() if line.strip()]
        if len(bad) != len(mappings(step["save"])):
            out.append(("flows.problem.bad_mapping", {}))
    if kind == "handoff" and not (step["team_id"] or step["user_id"]):
        out.append(("flows.problem.no_handoff_target", {}))
    if kind == "jump" and not step["flow_id"]:
        out.append(("flows.problem.no_flow", {}))
    return out


def as_buttons(options: list[dict]) -> bool:
    """Up to three short options show as reply buttons; more, or longer ones, as a list."""
    return len(options) <= BUTTONS_MAX and all(len(o["title"]) <= BUTTON_TITLE for o in options)


def _endless_loops(steps: list[dict]) -> list[int]:
    """Step numbers (from 1) that go round for ever without waiting for anything: messages
    and settings leading back to themselves. (Loops through a condition may end; the engine
    stops those that do not.)"""
    index = {step["id"]: n for n, step in enumerate(steps)}
    looping: set[int] = set()
    for start in range(len(steps)):
        seen, n = set(), start
        while n is not None and n not in seen and steps[n]["kind"] in ("message", "set"):
            seen.add(n)
            target = resolve(steps, n, steps[n]["next"])
            n = index.get(target) if target is not None else None
        if seen and n == start:
            looping.add(start + 1)
    return sorted(looping)


def _reachable(steps: list[dict]) -> set[str]:
    index = {step["id"]: n for n, step in enumerate(steps)}
    seen: set[str] = set()
    todo = [steps[0]["id"]]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in index:
            continue
        seen.add(step_id)
        n = index[step_id]
        for _label, target in branches(steps[n]):
            found = resolve(steps, n, target)
            if found is not None:
                todo.append(found)
    return seen
