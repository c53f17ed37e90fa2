"""What agents do to a conversation: assign, transfer, resolve, reopen, snooze, label,
mark unread, leave a private note.

Each action is checked here against the caller's role and the conversation's organization
(through the visibility rule), and leaves an activity entry in the conversation's history.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.models import (
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Label,
    Membership,
    Note,
    Team,
    TeamMember,
    User,
    utcnow,
)
from pytake.services import alerts, conversations, runs, timing
from pytake.services.activity import record_activity
from pytake.services.conversations import valid_id

MAX_SNOOZE = dt.timedelta(days=365)
MAX_NOTE = 4000
MAX_LABELS_PER_CONVERSATION = 20


def _record(s: Session, identity: Identity, conversation: Conversation, kind: str, **details):
    record_activity(
        s, conversation, kind, identity.name, sender_user_id=identity.user_id, **details
    )


def assign(
    s: Session, identity: Identity, conversation_id: object, assignee_id: object
) -> tuple[int, int]:
    """Give the conversation to a member (None: back to the queue).

    Agents act on what they see (their own and unassigned conversations); a conversation
    is only ever given to an active member of its organization.
    """
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    target = None
    if assignee_id is not None:
        if not valid_id(assignee_id):
            raise AccessError("conversation.assignee_invalid")
        target = s.exec(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                User.id == assignee_id,
                Membership.is_active,
                Membership.organization_id == conversation.organization_id,
            )
        ).first()
        if target is None:
            raise AccessError("conversation.assignee_invalid")
    if conversation.assignee_id == (target.id if target else None):
        return conversation.organization_id, conversation.id
    conversation.assignee_id = target.id if target else None
    if target is not None:
        runs.stop(s, conversation, "agent_took", identity.name)
    if target is None:
        _record(s, identity, conversation, "unassigned")
    elif target.id == identity.user_id:
        _record(s, identity, conversation, "took")
    else:
        _record(s, identity, conversation, "assigned", target=target.name)
    return conversation.organization_id, conversation.id


def release_all(
    s: Session, organization_id: int, user: User, actor_name: str
) -> list[tuple[int, int]]:
    """A deactivated member's unresolved conversations go back to the queue (to their team,
    if they have one), each with a note in its history; returns them for live updates."""
    held = s.exec(
        select(Conversation).where(
            Conversation.organization_id == organization_id,
            Conversation.assignee_id == user.id,
            Conversation.status != ConversationStatus.RESOLVED,
        )
    ).all()
    for conversation in held:
        conversation.assignee_id = None
        record_activity(s, conversation, "released", actor_name, target=user.name)
    return [(organization_id, conversation.id) for conversation in held]


def assign_team(
    s: Session, identity: Identity, conversation_id: object, team_id: object
) -> tuple[int, int]:
    """Hand the conversation to a team of its organization (None: to no team).

    An assignee outside the new team lets go of it, so it waits in the team's queue.
    """
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    team = None
    if team_id is not None:
        team = (
            s.exec(
                select(Team).where(
                    Team.id == team_id, Team.organization_id == conversation.organization_id
                )
            ).first()
            if valid_id(team_id)
            else None
        )
        if team is None:
            raise AccessError("conversation.team_invalid")
    if conversation.team_id == (team.id if team else None):
        return conversation.organization_id, conversation.id
    conversation.team_id = team.id if team else None
    if team is not None and conversation.assignee_id is not None:
        stays = s.exec(
            select(TeamMember.id).where(
                TeamMember.team_id == team.id, TeamMember.user_id == conversation.assignee_id
            )
        ).first()
        if stays is None:
            conversation.assignee_id = None
    if team is None:
        _record(s, identity, conversation, "team_removed")
    else:
        _record(s, identity, conversation, "team_assigned", target=team.name)
    return conversation.organization_id, conversation.id


def set_labels(
    s: Session, identity: Identity, conversation_id: object, label_ids: object
) -> tuple[int, int]:
    """Make the conversation's labels exactly these labels of its organization."""
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    if (
        not isinstance(label_ids, list)
        or len(label_ids) > MAX_LABELS_PER_CONVERSATION
        or not all(valid_id(i) for i in label_ids)
    ):
        raise AccessError("conversation.labels_invalid", max=MAX_LABELS_PER_CONVERSATION)
    wanted = {
        label.id: label.name
        for label in s.exec(
            select(Label).where(
                Label.organization_id == conversation.organization_id,
                Label.id.in_(set(label_ids)),
            )
        )
    }
    if len(wanted) != len(set(label_ids)):
        raise AccessError("conversation.labels_invalid", max=MAX_LABELS_PER_CONVERSATION)
    current = {
        link.label_id: link
        for link in s.exec(
            select(ConversationLabel).where(ConversationLabel.conversation_id == conversation.id)
        )
    }
    added = [wanted[i] for i in wanted.keys() - current.keys()]
    removed = current.keys() - wanted.keys()
    if not added and not removed:
        return conversation.organization_id, conversation.id
    for label_id in wanted.keys() - current.keys():
        s.add(ConversationLabel(conversation_id=conversation.id, label_id=label_id))
    removed_names = s.exec(select(Label.name).where(Label.id.in_(removed))).all() if removed else []
    for label_id in removed:
        s.delete(current[label_id])
    if added:
        _record(s, identity, conversation, "labeled", target=", ".join(sorted(added)))
    if removed_names:
        _record(s, identity, conversation, "unlabeled", target=", ".join(sorted(removed_names)))
    return conversation.organization_id, conversation.id


def add_note(
    s: Session, identity: Identity, conversation_id: object, body: object
) -> tuple[int, int]:
    """A private note; "@Name" of an active member of the organization mentions them."""
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    text = body.strip() if isinstance(body, str) else ""
    if not text or len(text) > MAX_NOTE:
        raise AccessError("note.bad_body", max=MAX_NOTE)
    note = Note(
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        author_id=identity.user_id,
        body=text,
        mentions=mentioned(members(s, identity), text),
    )
    s.add(note)
    conversation.last_activity_at = utcnow()
    if note.mentions:
        s.flush()
        alerts.on_note(s, conversation, note)
    return conversation.organization_id, conversation.id


def mentioned(people: list[dict], text: str) -> list[int]:
    """Ids of the people named as "@Full Name" in the text (longest name first, so that
    "@Ana Maria" is not also "@Ana")."""
    lowered, found = text.casefold(), []
    for person in sorted(people, key=lambda p: -len(p["name"])):
        tag = "@" + person["name"].casefold()
        if tag in lowered:
            found.append(person["id"])
            lowered = lowered.replace(tag, " ")
    return found


def set_status(
    s: Session,
    identity: Identity,
    conversation_id: object,
    status: object,
    *,
    snooze_until: dt.datetime | None = None,
) -> tuple[int, int]:
    if status not in ConversationStatus.__members__.values():
        raise AccessError("conversation.status_invalid")
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    status = ConversationStatus(status)
    if status is ConversationStatus.SNOOZED:
        now = utcnow()
        if snooze_until is None or not now < snooze_until <= now + MAX_SNOOZE:
            raise AccessError("conversation.snooze_invalid")
        conversation.snoozed_until = snooze_until
    if conversation.status == status and status is not ConversationStatus.SNOOZED:
        return conversation.organization_id, conversation.id
    if status is not ConversationStatus.RESOLVED and conversation.status == "resolved":
        _reopen_conflict(s, conversation)
    if status is ConversationStatus.RESOLVED:
        runs.stop(s, conversation, "resolved", identity.name)
    conversation.status = status.value
    conversation.resolved_at = utcnow() if status is ConversationStatus.RESOLVED else None
    if status is ConversationStatus.RESOLVED:
        timing.resolved(s, conversation)
    if status is not ConversationStatus.SNOOZED:
        conversation.snoozed_until = None
    details = {"until": snooze_until.isoformat()} if snooze_until else {}
    _record(s, identity, conversation, status.value, **details)
    return conversation.organization_id, conversation.id


def _reopen_conflict(s: Session, conversation: Conversation) -> None:
    """One unresolved conversation per customer and number: a newer one must be used."""
    newer = s.exec(
        select(Conversation.id).where(
            Conversation.channel_id == conversation.channel_id,
            Conversation.contact_id == conversation.contact_id,
            Conversation.status != ConversationStatus.RESOLVED,
            Conversation.id != conversation.id,
        )
    ).first()
    if newer is not None:
        raise AccessError("conversation.newer_open", conversation=newer)


def mark_unread(s: Session, identity: Identity, conversation_id: object) -> tuple[int, int]:
    conversation = conversations.get(s, identity, conversation_id, lock=True)
    conversation.unread_count = max(conversation.unread_count, 1)
    return conversation.organization_id, conversation.id


def members(s: Session, identity: Identity) -> list[dict]:
    """Who a conversation can be given to: the organization's active members."""
    rows = s.exec(
        select(User.id, User.name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == identity.organization_id, Membership.is_active)
        .order_by(User.name)
    ).all()
    return [
        {"id": user_id, "name": name, "me": user_id == identity.user_id} for user_id, name in rows
    ]


def wake_snoozed(s: Session) -> list[tuple[int, int]]:
    """Snoozed conversations whose time has come are open again."""
    due = s.exec(
        select(Conversation).where(
            Conversation.status == ConversationStatus.SNOOZED,
            Conversation.snoozed_until <= utcnow(),
        )
    ).all()
    for conversation in due:
        conversation.status, conversation.snoozed_until = ConversationStatus.OPEN.value, None
    s.flush()
    return [(c.organization_id, c.id) for c in due]
