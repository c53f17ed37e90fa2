"""The builder's test mode: a flow played as if the admin were the customer, with nothing
sent to anyone and nothing stored. Waits are skipped; HTTP steps really call (allowed hosts
only), so the mapping of answers is tested too."""

from __future__ import annotations

import dataclasses
import urllib.parse

from pytake.flows import calls, engine

MAX_ROUNDS = 10  # HTTP calls and skipped waits in one go


@dataclasses.dataclass
class Line:
    """One line of the test chat: the bot's words (``bot``), the tester's (``me``) or what
    happened (``note``: an i18n key and its value)."""

    side: str
    text: str = ""
    key: str = ""
    options: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Played:
    lines: list[Line]
    cursor: dict
    choices: list[dict]  # the menu on screen: {id, title}
    done: bool


def play(flow: dict, cursor: dict, ctx: engine.Context, event, hosts: list[str]) -> Played:
    lines: list[Line] = []
    choices: list[dict] = []
    done = False
    for _ in range(MAX_ROUNDS):
        outcome = engine.advance(flow, cursor, ctx, event)
        cursor, event = outcome.cursor, None
        for action in outcome.actions:
            match action:
                case engine.Say(kind="text", content=content):
                    lines.append(Line("bot", content["body"]))
                case engine.Say(kind="interactive", content=content):
                    rows = content.get("buttons") or [
                        row for section in content.get("sections", []) for row in section["rows"]
                    ]
                    choices = [{"id": row["id"], "title": row["title"]} for row in rows]
                    lines.append(Line("bot", content["body"], options=[c["title"] for c in rows]))
                case engine.Say(kind="template", content=content):
                    lines.append(Line("note", str(content["template_id"]), "flows.test.template"))
                case engine.Say(kind=kind, content=content):
                    caption = content.get("caption", "")
                    lines.append(Line("bot", f"[{kind}] {content['link']} {caption}".strip()))
                case engine.Remember(attribute=name, value=value):
                    lines.append(Line("note", f"{name} = {value}", "flows.test.saved"))
                case engine.AddLabel(name=name):
                    lines.append(Line("note", name, "flows.test.label"))
                case engine.Handoff():
                    lines.append(Line("note", "", "flows.test.handoff"))
                case engine.Resolve():
                    lines.append(Line("note", "", "flows.test.resolved"))
                case engine.Jump(flow_id=flow_id):
                    lines.append(Line("note", str(flow_id), "flows.test.jump"))
                    done = True
                case engine.Finish(reason=reason):
                    lines.append(Line("note", reason, "flows.test.finished"))
                    done = True
                case engine.Request() as request:
                    response = calls.perform(request, hosts)
                    status = response.failed or str(response.status)
                    lines.append(
                        Line(
                            "note", f"{request.method} {request.url} → {status}", "flows.test.http"
                        )
                    )
                    if response.failed in calls.EXPLAINED:  # in words: why it was not called
                        why = f"flows.http_failed.{response.failed}"
                        lines.append(Line("note", _host(request.url), why))
                    event = response
                case engine.Sleep(minutes=minutes) if cursor.get("waiting") == "wait":
                    lines.append(Line("note", str(minutes), "flows.test.waited"))
                    event = engine.Timeout()
        if event is None:
            break
    return Played(lines, cursor, choices, done)


def _host(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).hostname or ""
    except ValueError:  # "http://[::1"
        return ""
