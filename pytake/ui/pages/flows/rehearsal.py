"""The builder's test mode: the admin plays the customer against the draft and nothing is
sent (``pytake.flows.rehearsal`` plays it)."""

from __future__ import annotations

import zoneinfo

import reflex as rx
from starlette.concurrency import run_in_threadpool

from pytake.flows import engine, rehearsal
from pytake.models import Role, utcnow
from pytake.services import flows
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card
from pytake.ui.pages.flows.builder import flow_id
from pytake.ui.session import SessionState, in_transaction, t


@access(min_role=Role.ADMIN)
class RehearsalState(GuardedState):
    """A state of its own: the conversation played here is no part of the flow being edited,
    so the builder's events neither carry nor change it."""

    testing: bool = False
    test_lines: list[dict] = []
    test_choices: list[dict] = []
    test_done: bool = False
    _test_cursor: dict = {}
    _test_attributes: dict = {}

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
        setup = await in_transaction(flows.rehearsal_setup, identity, flow_id(self))
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


def test_panel() -> rx.Component:
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
                    on_click=RehearsalState.restart_test,
                ),
                align="center",
                width="100%",
            ),
            rx.text(t("flows.test.intro"), size="1", color=rx.color("gray", 10)),
            rx.vstack(
                rx.foreach(RehearsalState.test_lines, _test_line),
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
                    RehearsalState.test_choices,
                    lambda c: rx.button(
                        c["title"],
                        size="1",
                        variant="outline",
                        on_click=RehearsalState.test_choose(c["id"].to(str), c["title"].to(str)),
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
                        disabled=RehearsalState.test_done,
                        data_testid="test-input",
                    ),
                    rx.icon_button(
                        rx.icon("send", size=14),
                        type="submit",
                        aria_label="send",
                        disabled=RehearsalState.test_done,
                    ),
                    width="100%",
                ),
                on_submit=RehearsalState.test_send,
                reset_on_submit=True,
                width="100%",
            ),
            rx.button(
                t("flows.test.no_answer"),
                size="1",
                variant="ghost",
                on_click=RehearsalState.test_timeout,
                disabled=RehearsalState.test_done,
            ),
            spacing="2",
            width="100%",
        ),
        min_width="340px",
        max_width="380px",
    )
