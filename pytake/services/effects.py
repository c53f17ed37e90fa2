"""What a job's transaction changed, for the job to announce and schedule after the commit.

Applying webhooks, sending, downloading media and advancing bot runs each fill one, as do
the agents' actions and sends in the app, and one after-commit path (``jobs.runner.announce``:
publish the changes, wake the jobs, give waiting conversations out) serves them all. It
lives apart from the modules that fill it so that they, the bot among them, need not import
each other for its sake.
"""

from __future__ import annotations

import dataclasses

from pytake.models import Conversation, Message


@dataclasses.dataclass(slots=True)
class Effects:
    """What changed, for the caller to announce and schedule after the commit."""

    conversations: set[tuple[int, int]] = dataclasses.field(default_factory=set)  # (org, id)
    attachments: list[int] = dataclasses.field(default_factory=list)
    outbox: list[int] = dataclasses.field(default_factory=list)  # sends to wake up
    flows: list[int] = dataclasses.field(default_factory=list)  # bot runs to advance
    problems: list[str] = dataclasses.field(default_factory=list)
    # The change may have left a conversation waiting for an agent (a customer wrote, a
    # bot handed over): assign now rather than at the next periodic pass. A send's outcome
    # never does, and sparing it the pass matters at hundreds of sends a second.
    assignable: bool = True

    def touch(self, conversation: Conversation | Message) -> None:
        conversation_id = getattr(conversation, "conversation_id", None) or conversation.id
        self.conversations.add((conversation.organization_id, conversation_id))
