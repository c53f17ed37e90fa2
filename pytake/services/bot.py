"""Chatbot flows on live conversations: triggers, the run's state machine, hand-off to
humans, and the customer's STOP.

A customer's message reaches the bot inside the inbound pipeline's transaction: it starts a
run or is queued on the running one, once, because the message is stored once. The run
itself advances in the ``flow`` job (``process``), a step at a time under a row lock, so a
crash repeats at most the unfinished pass: messages carry keys made of the run and a
counter that rolls back with it, so nothing is sent twice. HTTP steps call out between two
transactions, never while holding one.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from sqlmodel import Session, func, select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.channels.base import MessageType
from pytake.flows import calls, engine
from pytake.folding import fold
from pytake.i18n import translate
from pytake.models import (
    Channel,
    Contact,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Flow,
    FlowRun,
    FlowVersion,
    Label,
    Membership,
    Message,
    MessageTemplate,
    Organization,
    Team,
    User,
    utcnow,
)
from pytake.services import conversations, hours, organization, outbound, templates, timing
from pytake.services.actions import MAX_LABELS_PER_CONVERSATION
from pytake.services.activity import record_activity
from pytake.services.contacts import MAX_ATTRIBUTES, MAX_VALUE, PROFILE_NAME
from pytake.services.effects import Effects
from pytake.services.runs import (
    ACTIVE,
    BOT,
    DONE,
    FAILED,
    PENDING,
    STOPPED,
    WAITING,
    active_run,
    end,
    stop,
)

log = logging.getLogger("pytake.bot")

MAX_TRAIL = 200
MAX_CALLS_PER_PASS = 5
CALL_MARGIN = 30  # seconds beyond an HTTP step's own time limit before the run is retried


# The customer's words ---------------------------------------------------------------------


def answer_of(kind: str, content: dict) -> engine.Answer:
    content = content or {}
    if kind == MessageType.TEXT:
        return engine.Answer(text=str(content.get("body") or ""))
    if kind in (MessageType.BUTTON_REPLY, MessageType.LIST_REPLY):
        return engine.Answer(text=str(content.get("title") or ""), choice=str(content.get("id")))
    if kind == MessageType.TEMPLATE_BUTTON:
        text, payload = str(content.get("text") or ""), str(content.get("payload") or "")
        return engine.Answer(text=text, choice=payload)
    return engine.Answer()  # a photo, a sticker…: not an answer to a question


def _keywords(value: str) -> set[str]:
    return {_said(word) for word in value.replace(";", ",").split(",") if _said(word)}


def _said(text: str) -> str:
    """Words as keywords compare: no case, accents or punctuation around ("Sair!" is SAIR)."""
    return fold(text).strip(" .,;:!?¡¿…\"'")


def on_inbound(
    s: Session,
    channel: Channel,
    conversation: Conversation,
    contact: Contact,
    message_id: int,
    kind: str,
    content: dict,
    effects: Effects,
) -> bool:
    """Give a new customer message to the bot; True when the bot (or the STOP handling)
    answers it, so no greeting or away message goes out as well."""
    answer = answer_of(kind, content)
    said = _said(answer.text)
    settings = organization.settings_of(s.get(Organization, conversation.organization_id))
    if said and said in _keywords(settings["opt_out_keywords"]):
        _opt(s, conversation, contact, True, settings, effects)
        return True
    if said and contact.opted_out_at and said in _keywords(settings["opt_in_keywords"]):
        _opt(s, conversation, contact, False, settings, effects)
        return True
    run = active_run(s, conversation)
    if run is not None:
        run.inputs = [*run.inputs, message_id]
        if (run.cursor or {}).get("waiting") != "http":  # else its call's pass reads it
            run.state, run.next_attempt_at = PENDING, utcnow()
            effects.flows.append(run.id)
        return True
    if conversation.assignee_id is not None:
        return False  # a person is already on it: no bot starts over their head
    flow = _triggered(s, channel, conversation, answer)
    if flow is None:
        return False
    effects.flows.append(start(s, conversation, flow).id)
    return True


def _opt(
    s: Session,
    conversation: Conversation,
    contact: Contact,
    out: bool,
    settings: dict,
    effects: Effects,
) -> None:
    contact = s.get(Contact, contact.id, with_for_update=True)
    contact.opted_out_at = utcnow() if out else None
    if out:
        stop(s, conversation, "opted_out", BOT)
    record_activity(s, conversation, "opted_out" if out else "opted_in", BOT)
    text = translate("optout.confirmed" if out else "optout.welcome_back", settings["language"])
    key = f"opt-{'out' if out else 'in'}-{int(utcnow().timestamp())}"
    outbox_id = outbound.send_automatic(s, conversation, text, key)
    if outbox_id is not None:
        effects.outbox.append(outbox_id)


def _first_message(s: Session, conversation: Conversation) -> bool:
    count = s.exec(
        select(func.count())
        .select_from(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
    ).one()
    return count <= 1


def _triggered(
    s: Session, channel: Channel, conversation: Conversation, answer: engine.Answer
) -> Flow | None:
    """The published, active flow this message starts (lowest priority number first)."""
    organization_id = conversation.organization_id

    def published() -> list[Flow]:
        query = (
            select(Flow)
            .where(
                Flow.organization_id == organization_id,
                Flow.active,
                Flow.version_id.is_not(None),
                Flow.trigger != "manual",
            )
            .order_by(Flow.priority, Flow.id)
        )
        return list(s.exec(query))

    candidates = db.memo(s, ("flows", organization_id), published)
    said = _said(answer.text)
    for flow in candidates:
        if flow.channel_ids and channel.id not in flow.channel_ids:
            continue
        if flow.trigger == "keyword" and said in _keywords(flow.trigger_value):
            return flow
        if flow.trigger == "button" and answer.choice and answer.choice == flow.trigger_value:
            return flow
        if flow.trigger == "new_conversation" and _first_message(s, conversation):
            return flow
        if flow.trigger == "outside_hours":
            found = hours.state(s, conversation)
            if found is not None and not found[1]:
                return flow
    return None


def start(s: Session, conversation: Conversation, flow: Flow) -> FlowRun:
    run = FlowRun(
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        flow_id=flow.id,
        version_id=flow.version_id,
        state=PENDING,
        next_attempt_at=utcnow(),
    )
    s.add(run)
    s.flush()
    conversation.bot_run_id = run.id
    record_activity(s, conversation, "bot_started", BOT, target=flow.name)
    s.add(conversation)
    return run


# Advancing a run (the ``flow`` job) -------------------------------------------------------


def process(run_id: int, effects: Effects) -> None:
    """Advance a run as far as it goes now; HTTP steps are performed between transactions."""
    response = None
    for _ in range(MAX_CALLS_PER_PASS + 1):
        with db.session(write=True) as s:
            pending = advance(s, run_id, response, effects)
        if pending is None:
            return
        request, hosts = pending
        response = calls.perform(request, hosts)
    log.warning("flow run %s: more than %s HTTP calls in one pass", run_id, MAX_CALLS_PER_PASS)


def context(s: Session, conversation: Conversation) -> engine.Context:
    contact = s.get(Contact, conversation.contact_id)
    org = s.get(Organization, conversation.organization_id)
    found = hours.state(s, conversation)
    return engine.Context(
        name=contact.name or contact.username or "",
        wa_id=contact.wa_id,
        attributes={k: str(v) for k, v in (contact.attributes or {}).items()},
        channel_id=conversation.channel_id,
        now=utcnow(),
        zone=zoneinfo.ZoneInfo(organization.settings_of(org)["timezone"]),
        open_now=found[1] if found is not None else None,
    )


def _events(s: Session, run: FlowRun, response) -> list:
    """What the bot has to react to now, in order."""
    cursor = run.cursor or {}
    if not cursor:
        # Typed before the bot's first words, these answer none of its questions.
        for answer in _inputs(s, run):
            _trail(run, "", "ignored", answer.text[:60])
        return [engine.Start()]
    if cursor.get("waiting") == "http":
        if response is None:
            return []
        for answer in _inputs(s, run):  # typed while the bot was calling out
            _trail(run, "", "ignored", answer.text[:60])
        return [response]
    if run.inputs:
        return _inputs(s, run)
    if run.wake_at is not None and run.wake_at <= utcnow():
        run.wake_at = None  # used up: a step that waits again sets it anew
        return [engine.Timeout()]
    return []


def _inputs(s: Session, run: FlowRun) -> list[engine.Answer]:
    """The customer's messages the run has not read yet, oldest first; now read."""
    inputs, run.inputs = run.inputs, []
    if not inputs:
        return []
    rows = s.exec(
        select(Message)
        .where(Message.id.in_(inputs), Message.conversation_id == run.conversation_id)
        .order_by(Message.id)
    ).all()
    return [answer_of(row.type, row.content) for row in rows]


def _trail(run: FlowRun, step: str, kind: str, note: str = "") -> None:
    entry = {"at": utcnow().isoformat(), "step": step, "kind": kind, "note": note}
    run.trail = [*run.trail, entry][-MAX_TRAIL:]


def advance(s: Session, run_id: int, response, effects: Effects):
    """One pass under the run's lock: react to what is due; ``(request, hosts)`` when an
    HTTP step needs its call made (outside this transaction), else None."""
    seen = s.get(FlowRun, run_id)
    if seen is None or seen.state not in ACTIVE:
        return None
    # The conversation first, then its run: the order the inbound pipeline and agents'
    # actions lock them in (the other order deadlocks with a message arriving meanwhile).
    conversation = s.get(Conversation, seen.conversation_id, with_for_update=True)
    run = s.get(FlowRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.state not in ACTIVE:
        return None
    if conversation.bot_run_id != run.id:
        end(s, run, STOPPED, "replaced")
        return None
    if (run.cursor or {}).get("waiting") == "http" and response is None:
        request = engine.Request(**run.cursor["request"])
        _lease(run, request)
        return request, _hosts(s, run)
    ctx = context(s, conversation)
    applier = _Applier(s, run, conversation, ctx, effects)
    events = _events(s, run, response)
    for n, event in enumerate(events):
        if run.state not in ACTIVE:
            break  # the rest of a burst after the bot handed over: the agent reads them
        if isinstance(event, engine.Answer) and run.cursor.get("waiting") != "answer":
            applier.trail("", "ignored", event.text[:60])  # typed while the bot was busy
            continue
        applier.feed(event)
        if applier.request is not None:
            for later in events[n + 1 :]:  # read now, and typed while the bot calls out
                applier.trail("", "ignored", later.text[:60])
            _lease(run, applier.request)
            return applier.request, _hosts(s, run)
    _park(run)
    effects.touch(conversation)
    return None


def _hosts(s: Session, run: FlowRun) -> list[str]:
    org = s.get(Organization, run.organization_id)
    return organization.settings_of(org)["flow_hosts"]


def _lease(run: FlowRun, request: engine.Request) -> None:
    """Not due again while its HTTP call may still be running (unless this worker dies)."""
    run.state = PENDING
    run.next_attempt_at = utcnow() + dt.timedelta(seconds=request.timeout + CALL_MARGIN)


def _park(run: FlowRun) -> None:
    """Schedule the run's next look: its timer, else only a customer's reply wakes it."""
    if run.state not in ACTIVE:
        return
    if run.wake_at is not None:
        run.state, run.next_attempt_at = PENDING, run.wake_at
    else:
        run.state, run.next_attempt_at = WAITING, None


class _Applier:
    """Turns the engine's actions into changes of the conversation, contact and run."""

    def __init__(self, s, run: FlowRun, conversation: Conversation, ctx, effects) -> None:
        self.s, self.run, self.conversation = s, run, conversation
        self.ctx, self.effects = ctx, effects
        self.request: engine.Request | None = None

    def feed(self, event) -> None:
        run = self.run
        for _ in range(3):  # a jump restarts on another flow: a few in a row at most
            version = self.s.get(FlowVersion, run.version_id)
            outcome = engine.advance(version.definition, run.cursor or {}, self.ctx, event)
            run.cursor = outcome.cursor
            jump = None
            for action in outcome.actions:
                jump = self.apply(action) or jump
            if jump is None or run.state not in ACTIVE:
                return
            event = engine.Start()
        self._finish(engine.Finish("loop"))

    def trail(self, step: str, kind: str, note: str = "") -> None:
        _trail(self.run, step, kind, note)

    def apply(self, action) -> FlowVersion | None:
        method = getattr(self, f"_{type(action).__name__.lower()}")
        return method(action)

    def _visit(self, action: engine.Visit) -> None:
        self.trail(action.step, action.kind, action.note)

    def _say(self, action: engine.Say) -> None:
        run = self.run
        try:
            kind, content = self._content(action)
        except AccessError as refusal:
            self.trail(action.step, "not_sent", refusal.code)
            return
        key = f"flow-{run.id}-{run.sent}"
        run.sent += 1
        try:
            outbox_id = outbound.send_automatic(
                self.s, self.conversation, "", key, kind=kind, content=content
            )
        except AccessError as refusal:  # e.g. a text its variables left empty
            self.trail(action.step, "not_sent", refusal.code)
            return
        if outbox_id is None:
            self.trail(action.step, "not_sent", "window_closed")
        else:
            self.effects.outbox.append(outbox_id)

    def _content(self, action: engine.Say) -> tuple[MessageType, dict]:
        if action.kind != "template":
            return MessageType(action.kind), action.content
        template = self.s.get(MessageTemplate, action.content["template_id"])
        channel = self.s.get(Channel, self.conversation.channel_id)
        if (
            template is None
            or template.organization_id != self.run.organization_id
            or template.account_id != channel.account_id
        ):
            raise AccessError("template.not_found")
        fields = templates.variables(template)
        values = dict(zip([f["key"] for f in fields], action.content["values"], strict=False))
        if template.category.upper() == templates.MARKETING:
            contact = self.s.get(Contact, self.conversation.contact_id)
            if contact.opted_out_at is not None:
                raise AccessError("template.opted_out")
        return MessageType.TEMPLATE, templates.compose(template, values)

    def _remember(self, action: engine.Remember) -> None:
        contact = self.s.get(Contact, self.conversation.contact_id, with_for_update=True)
        attributes = dict(contact.attributes or {})
        value = action.value[:MAX_VALUE]
        wanted = action.attribute.casefold()
        # "Email" set by an agent and "email" saved by the bot are one attribute.
        key = next((k for k in attributes if k.casefold() == wanted), action.attribute)
        custom = [k for k in attributes if k != PROFILE_NAME]
        if wanted != PROFILE_NAME and (key in attributes or len(custom) < MAX_ATTRIBUTES):
            attributes[key] = value
            contact.attributes, contact.updated_at = attributes, utcnow()
        self.run.answers = {**self.run.answers, action.attribute: value}

    def _addlabel(self, action: engine.AddLabel) -> None:
        label = self.s.exec(
            select(Label).where(
                Label.organization_id == self.run.organization_id,
                func.lower(Label.name) == action.name.lower(),
            )
        ).first()
        if label is None:
            self.trail("", "not_labelled", action.name)
            return
        # The link has no id column (insert_ignore returns one): a plain insert, if missing.
        have = self.s.exec(
            select(ConversationLabel.label_id).where(
                ConversationLabel.conversation_id == self.conversation.id
            )
        ).all()
        if label.id in have:
            return
        if len(have) >= MAX_LABELS_PER_CONVERSATION:
            self.trail("", "not_labelled", action.name)
            return
        self.s.add(ConversationLabel(conversation_id=self.conversation.id, label_id=label.id))
        record_activity(self.s, self.conversation, "labeled", BOT, target=label.name)

    def _request(self, action: engine.Request) -> None:
        self.run.cursor = {**self.run.cursor, "request": vars(action)}
        self.request = action

    def _handoff(self, action: engine.Handoff) -> None:
        conversation, org = self.conversation, self.run.organization_id
        team = self.s.get(Team, action.team_id) if action.team_id else None
        if team is not None and team.organization_id == org:
            conversation.team_id = team.id
        user = self.s.exec(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                User.id == action.user_id,
                Membership.is_active,
                Membership.organization_id == org,
            )
        ).first()
        if user is not None:
            conversation.assignee_id = user.id
        target = (user.name if user else "") or (team.name if team else "")
        record_activity(self.s, conversation, "bot_handoff", BOT, target=target)

    def _resolve(self, action: engine.Resolve) -> None:
        self.conversation.status = ConversationStatus.RESOLVED
        self.conversation.resolved_at = utcnow()
        timing.resolved(self.s, self.conversation)
        record_activity(self.s, self.conversation, "bot_resolved", BOT)

    def _jump(self, action: engine.Jump) -> FlowVersion | None:
        target = self.s.get(Flow, action.flow_id)
        if target is None or target.organization_id != self.run.organization_id:
            self._finish(engine.Finish("broken"))
            return None
        if not target.version_id:
            self._finish(engine.Finish("broken"))
            return None
        self.run.flow_id, self.run.version_id = target.id, target.version_id
        self.trail("", "jump", target.name)
        return self.s.get(FlowVersion, target.version_id)

    def _sleep(self, action: engine.Sleep) -> None:
        minutes = action.minutes
        self.run.wake_at = utcnow() + dt.timedelta(minutes=minutes) if minutes else None

    def _finish(self, action: engine.Finish) -> None:
        reason = action.reason
        state = FAILED if reason in ("loop", "too_long", "broken") else DONE
        end(self.s, self.run, state, reason)
        self.conversation.bot_run_id = None
        if reason not in ("handoff",):
            record_activity(self.s, self.conversation, "bot_ended", BOT, reason=reason)


# What the agent who takes over reads -------------------------------------------------------


def summary(s: Session, identity: Identity, conversation_id: object) -> dict | None:
    """The conversation's latest bot run: its flow, state, the answers and steps taken."""
    conversation = conversations.get(s, identity, conversation_id)
    run = s.exec(
        select(FlowRun)
        .where(FlowRun.conversation_id == conversation.id)
        .order_by(FlowRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return None
    flow = s.get(Flow, run.flow_id)
    version = s.get(FlowVersion, run.version_id)
    steps = {step["id"]: step for step in (version.definition or {}).get("steps", [])}
    trail = []
    for entry in run.trail[-30:]:
        step = steps.get(entry["step"]) or {}
        trail.append(
            {
                "at": entry["at"],
                "kind": entry["kind"],
                "note": entry["note"],
                "text": (step.get("text") or "")[:80],
            }
        )
    return {
        "flow": flow.name if flow else "",
        "version": version.number,
        "state": run.state,
        "reason": run.end_reason,
        "answers": [{"name": k, "value": v} for k, v in run.answers.items()],
        "trail": trail,
        "active": run.state in ACTIVE,
    }
