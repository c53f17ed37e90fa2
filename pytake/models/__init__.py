"""Every table, imported here so the metadata (and Alembic) sees all of them."""

from pytake.models.accounts import (
    AuditLog,
    Invitation,
    Membership,
    Organization,
    Role,
    SignInThrottle,
    Team,
    TeamChannel,
    TeamMember,
    User,
    UserSession,
)
from pytake.models.alerts import Alert, DeploymentSecret, PushDevice
from pytake.models.automation import BusinessHours
from pytake.models.base import utcnow
from pytake.models.channels import Channel
from pytake.models.conversations import (
    Attachment,
    Contact,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Label,
    Message,
    Note,
)
from pytake.models.flows import Flow, FlowRun, FlowVersion
from pytake.models.pipeline import Outbox, OutboxState, ParkedUpdate, WebhookEvent
from pytake.models.templates import MessageTemplate, QuickReply

__all__ = [
    "Alert",
    "Attachment",
    "AuditLog",
    "BusinessHours",
    "Channel",
    "Contact",
    "Conversation",
    "ConversationLabel",
    "ConversationStatus",
    "DeploymentSecret",
    "Flow",
    "FlowRun",
    "FlowVersion",
    "Invitation",
    "Label",
    "Membership",
    "Message",
    "MessageTemplate",
    "Note",
    "Organization",
    "Outbox",
    "OutboxState",
    "ParkedUpdate",
    "PushDevice",
    "QuickReply",
    "Role",
    "SignInThrottle",
    "Team",
    "TeamChannel",
    "TeamMember",
    "User",
    "UserSession",
    "WebhookEvent",
    "utcnow",
]
