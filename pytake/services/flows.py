"""Building chatbot flows (admins): the draft a builder edits step by step, its checks, and
publishing it as an immutable version that new runs start on."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, func, select

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.flows import definition
from pytake.flows.definition import StepError
from pytake.models import (
    Channel,
    Contact,
    Flow,
    FlowRun,
    FlowVersion,
    Membership,
    MessageTemplate,
    Organization,
    Role,
    Team,
    User,
    utcnow,
)
from pytake.services import audit, organization, runs
from pytake.services.conversations import valid_id
from pytake.variables import names

TRIGGERS = ("new_conversation", "keyword", "outside_hours", "button", "manual")
MAX_FLOWS = 200
MAX_NAME = 80


def _flow(s: Session, identity: Identity, flow_id: object, *, lock: bool = False) -> Flow:
    identity.require(Role.ADMIN)
    query = select(Flow).where(Flow.id == flow_id, Flow.organization_id == identity.organization_id)
    flow = s.exec(query.with_for_update() if lock else query).first() if valid_id(flow_id) else None
    if flow is None:
        raise AccessError("flows.not_found")
    return flow


def _name(value: object) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME:
        raise AccessError("flows.bad_name", max=MAX_NAME)
    return name


def listing(s: Session, identity: Identity) -> list[dict]:
    identity.require(Role.ADMIN)
    running = dict(
        s.exec(
            select(FlowRun.flow_id, func.count())
            .where(
                FlowRun.organization_id == identity.organization_id,
                FlowRun.state.in_(runs.ACTIVE),  # waiting for a reply is running too
            )
            .group_by(FlowRun.flow_id)
        ).all()
    )
    versions = dict(
        s.exec(
            select(FlowVersion.id, FlowVersion.number).where(
                FlowVersion.organization_id == identity.organization_id
            )
        ).all()
    )
    flows = s.exec(
        select(Flow)
        .where(Flow.organization_id == identity.organization_id)
        .order_by(Flow.priority, Flow.name)
    ).all()
    return [
        {
            "id": flow.id,
            "name": flow.name,
            "trigger": flow.trigger,
            "trigger_value": flow.trigger_value,
            "priority": flow.priority,
            "active": flow.active,
            "version": versions.get(flow.version_id, 0),
            "steps": len(definition.steps_of(flow.draft)),
            "running": running.get(flow.id, 0),
        }
        for flow in flows
    ]


def create(s: Session, identity: Identity, name: object) -> Flow:
    identity.require(Role.ADMIN)
    name = _name(name)
    org = identity.organization_id
    count = s.exec(select(func.count()).where(Flow.organization_id == org)).one()
    if count >= MAX_FLOWS:
        raise AccessError("flows.too_many", max=MAX_FLOWS)
    if s.exec(select(Flow.id).where(Flow.organization_id == org, Flow.name == name)).first():
        raise AccessError("flows.name_taken")
    flow = Flow(organization_id=org, name=name, draft={"steps": []})
    s.add(flow)
    s.flush()
    _audit(s, identity, "flow.created", flow)
    return flow


def _audit(s: Session, identity: Identity, action: str, flow: Flow, **details) -> None:
    audit.record(
        s,
        action,
        organization_id=identity.organization_id,
        actor_user_id=identity.user_id,
        subject=f"flow:{flow.id}",
        name=flow.name,
        **details,
    )


def editor(s: Session, identity: Identity, flow_id: object) -> dict:
    flow = _flow(s, identity, flow_id)
    version = s.get(FlowVersion, flow.version_id) if flow.version_id else None
    return {
        "id": flow.id,
        "name": flow.name,
        "trigger": flow.trigger,
        "trigger_value": flow.trigger_value,
        "channel_ids": [int(c) for c in flow.channel_ids or []],
        "priority": flow.priority,
        "active": flow.active,
        "version": version.number if version else 0,
        "published_at": version.published_at.isoformat() if version else "",
        "changed": version is None or version.definition != flow.draft,
        "steps": definition.steps_of(flow.draft),
    }


def save_settings(s: Session, identity: Identity, flow_id: object, form: object) -> None:
    """Name, trigger, numbers, priority and whether the flow answers customers."""
    flow = _flow(s, identity, flow_id, lock=True)
    form = form if isinstance(form, dict) else {}
    name = _name(form.get("name", flow.name))
    taken = s.exec(
        select(Flow.id).where(
            Flow.organization_id == flow.organization_id, Flow.name == name, Flow.id != flow.id
        )
    ).first()
    if taken:
        raise AccessError("flows.name_taken")
    trigger = form.get("trigger", flow.trigger)
    if trigger not in TRIGGERS:
        raise AccessError("flows.bad_trigger")
    value = " ".join(str(form.get("trigger_value", flow.trigger_value) or "").split())[:500]
    if trigger in ("keyword", "button") and not value:
        raise AccessError("flows.trigger_value_required")
    try:
        priority = int(str(form.get("priority", flow.priority)).strip())
    except ValueError:
        raise AccessError("flows.bad_priority") from None
    if not 0 <= priority <= 1000:
        raise AccessError("flows.bad_priority")
    channel_ids = form.get("channel_ids", flow.channel_ids) or []
    if not isinstance(channel_ids, list) or not all(valid_id(c) for c in channel_ids):
        raise AccessError("flows.bad_channel")
    owned = set(
        s.exec(
            select(Channel.id).where(
                Channel.organization_id == flow.organization_id, Channel.id.in_(channel_ids)
            )
        ).all()
    )
    if owned != set(channel_ids):
        raise AccessError("flows.bad_channel")
    active = form.get("active", flow.active) in (True, "on", "true", "1")
    if active and not flow.version_id:
        raise AccessError("flows.publish_first")
    flow.name, flow.trigger, flow.trigger_value = name, trigger, value
    flow.priority, flow.channel_ids, flow.active = priority, sorted(channel_ids), active
    flow.updated_at = utcnow()
    _audit(s, identity, "flow.settings", flow, trigger=trigger, active=active)


def _steps(flow: Flow) -> list[dict]:
    return [dict(step) for step in definition.steps_of(flow.draft)]


def _store(flow: Flow, steps: list[dict]) -> None:
    flow.draft = {"steps": steps}
    flow.updated_at = utcnow()


def _refusal(error: StepError) -> AccessError:
    return AccessError(error.code, **error.params)


def add_step(s: Session, identity: Identity, flow_id: object, kind: object) -> str:
    """A new step of ``kind`` at the end, with its defaults; its id."""
    flow = _flow(s, identity, flow_id, lock=True)
    steps = _steps(flow)
    if len(steps) >= definition.MAX_STEPS:
        raise AccessError("flows.too_many_steps", max=definition.MAX_STEPS)
    step_id = definition.new_id({step["id"] for step in steps})
    try:
        steps.append(definition.clean_step({"id": step_id, "kind": kind}))
    except StepError as error:
        raise _refusal(error) from None
    _store(flow, steps)
    return step_id


def save_step(s: Session, identity: Identity, flow_id: object, raw: object) -> None:
    """Replace a step with what the builder's form sent (its kind and place stay)."""
    flow = _flow(s, identity, flow_id, lock=True)
    steps = _steps(flow)
    raw = raw if isinstance(raw, dict) else {}
    n = _position(steps, raw.get("id"))
    try:
        steps[n] = definition.clean_step({**steps[n], **raw, "kind": steps[n]["kind"]})
    except StepError as error:
        raise _refusal(error) from None
    _store(flow, steps)


def _position(steps: list[dict], step_id: object) -> int:
    for n, step in enumerate(steps):
        if step["id"] == step_id:
            return n
    raise AccessError("flows.step_not_found")


def set_target(
    s: Session, identity: Identity, flow_id: object, step_id: object, branch: object, target: object
) -> None:
    """Point one way out of a step (``next``, ``yes``, ``no``, ``fallback``, ``option:N``)
    at a step, the following one (``""``) or the end."""
    flow = _flow(s, identity, flow_id, lock=True)
    steps = _steps(flow)
    step = steps[_position(steps, step_id)]
    if not isinstance(target, str) or (
        target not in (definition.NEXT, definition.END) and target not in {x["id"] for x in steps}
    ):
        raise AccessError("flows.bad_target")
    if isinstance(branch, str) and branch.startswith("option:") and step["kind"] == "menu":
        n = branch.removeprefix("option:")
        if not n.isdigit() or int(n) >= len(step["options"]):
            raise AccessError("flows.bad_target")
        options = [dict(o) for o in step["options"]]
        options[int(n)]["next"] = target
        step["options"] = options
    elif branch in definition.TARGETS and branch in step:
        step[branch] = target
    else:
        raise AccessError("flows.bad_target")
    _store(flow, steps)


def move_step(s: Session, identity: Identity, flow_id: object, step_id: object, by: object) -> None:
    flow = _flow(s, identity, flow_id, lock=True)
    steps = _steps(flow)
    n = _position(steps, step_id)
    to = n + (1 if by == 1 else -1)
    if 0 <= to < len(steps):
        steps[n], steps[to] = steps[to], steps[n]
        _store(flow, steps)


def delete_step(s: Session, identity: Identity, flow_id: object, step_id: object) -> None:
    """Remove a step; branches that led to it now lead to the end (and publishing says so
    where that leaves a menu option pointing nowhere useful)."""
    flow = _flow(s, identity, flow_id, lock=True)
    steps = _steps(flow)
    gone = steps.pop(_position(steps, step_id))["id"]
    for step in steps:
        for field in definition.TARGETS:
            if step.get(field) == gone:
                step[field] = definition.END
        if step["kind"] == "menu":
            step["options"] = [
                {**o, "next": definition.END if o["next"] == gone else o["next"]}
                for o in step["options"]
            ]
    _store(flow, steps)


def delete(s: Session, identity: Identity, flow_id: object) -> None:
    """A flow and its versions; conversations it was answering go to their teams' queues."""
    flow = _flow(s, identity, flow_id, lock=True)
    runs.stop_flow(s, flow.id)
    _audit(s, identity, "flow.deleted", flow)
    s.delete(flow)


# Publishing ----------------------------------------------------------------------------------


def _known_attributes(s: Session, organization_id: int, wanted: set[str]) -> set[str]:
    """Which of these attribute names some contact of the organization already has."""
    known = set()
    for name in wanted:
        holder = s.exec(
            select(Contact.id)
            .where(
                Contact.organization_id == organization_id, Contact.attributes[name].is_not(None)
            )
            .limit(1)
        ).first()
        if holder is not None:
            known.add(name.casefold())
    return known


def _references(s: Session, flow: Flow, steps: list[dict]) -> list[definition.Problem]:
    """Teams, members, numbers, templates and flows the steps name, in this organization."""
    org = flow.organization_id
    found: list[definition.Problem] = []

    def exists(model, row_id: int) -> bool:
        row = s.get(model, row_id)
        return row is not None and row.organization_id == org

    for n, step in enumerate(steps, start=1):
        for field, model, label in (
            ("team_id", Team, "flows.field.team"),
            ("channel_id", Channel, "flows.field.channel"),
            ("template_id", MessageTemplate, "flows.field.template"),
        ):
            if field == "channel_id" and step.get("test") != "channel":
                continue  # left from an earlier choice of test: not used
            if step.get(field) and not exists(model, step[field]):
                found.append((n, "flows.problem.missing_reference", {"field": label}))
        if step.get("user_id"):
            member = s.exec(
                select(Membership.id).where(
                    Membership.user_id == step["user_id"], Membership.organization_id == org
                )
            ).first()
            if member is None:
                found.append((n, "flows.problem.missing_reference", {"field": "flows.field.agent"}))
        if step.get("flow_id"):
            target = s.get(Flow, step["flow_id"])
            if target is None or target.organization_id != org or target.id == flow.id:
                found.append((n, "flows.problem.missing_reference", {"field": "flows.field.flow"}))
            elif not target.version_id:
                found.append((n, "flows.problem.jump_unpublished", {"name": target.name}))
    return found


def problems(s: Session, identity: Identity, flow_id: object) -> list[definition.Problem]:
    flow = _flow(s, identity, flow_id)
    return _problems(s, flow)


def _problems(s: Session, flow: Flow) -> list[definition.Problem]:
    steps = definition.steps_of(flow.draft)
    settings = organization.settings_of(s.get(Organization, flow.organization_id))
    used = {
        name
        for step in steps
        for field in definition.FILLED
        for scope, name in names(step.get(field, ""))
        if scope == "contact"
    }
    known = _known_attributes(s, flow.organization_id, used - definition.BUILT_IN)
    found = definition.problems(flow.draft, known, settings["flow_hosts"])
    return found + _references(s, flow, steps)


class NotPublishable(AccessError):
    def __init__(self, found: list[definition.Problem]) -> None:
        super().__init__("flows.not_publishable", count=len(found))
        self.problems = found


def publish(s: Session, identity: Identity, flow_id: object) -> int:
    """The draft becomes the next version; new runs start on it, running ones finish on
    theirs. Refused, with every problem, while the draft has any."""
    flow = _flow(s, identity, flow_id, lock=True)
    found = _problems(s, flow)
    if found:
        raise NotPublishable(found)
    last = s.exec(
        select(sa.func.max(FlowVersion.number)).where(FlowVersion.flow_id == flow.id)
    ).one()
    version = FlowVersion(
        organization_id=flow.organization_id,
        flow_id=flow.id,
        number=(last or 0) + 1,
        definition=flow.draft,
        published_by=identity.user_id,
    )
    s.add(version)
    s.flush()
    flow.version_id, flow.updated_at = version.id, utcnow()
    _audit(s, identity, "flow.published", flow, version=version.number)
    return version.number


def references(s: Session, identity: Identity) -> dict[str, list[dict]]:
    """What steps may name (teams, members, numbers, other flows, approved templates), as
    {value, name} for the builder's selects."""
    identity.require(Role.ADMIN)
    org = identity.organization_id

    def pairs(rows) -> list[dict]:
        return [{"value": str(row_id), "name": name} for row_id, name in rows]

    return {
        "teams": pairs(s.exec(select(Team.id, Team.name).where(Team.organization_id == org))),
        "members": pairs(
            s.exec(
                select(User.id, User.name)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == org, Membership.is_active)
                .order_by(User.name)
            )
        ),
        "channels": pairs(
            s.exec(select(Channel.id, Channel.name).where(Channel.organization_id == org))
        ),
        "flows": pairs(s.exec(select(Flow.id, Flow.name).where(Flow.organization_id == org))),
        "templates": pairs(
            (row.id, f"{row.name} ({row.language})")
            for row in s.exec(
                select(MessageTemplate).where(
                    MessageTemplate.organization_id == org, MessageTemplate.status == "APPROVED"
                )
            )
        ),
    }


def rehearsal_setup(s: Session, identity: Identity, flow_id: object) -> dict:
    """What the test mode plays: the draft, the organization's time zone and hosts."""
    flow = _flow(s, identity, flow_id)
    settings = organization.settings_of(s.get(Organization, flow.organization_id))
    return {"draft": flow.draft, "timezone": settings["timezone"], "hosts": settings["flow_hosts"]}
