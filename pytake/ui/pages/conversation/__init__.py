"""One conversation's page (see ``page``)."""

from pytake.ui.pages.conversation.page import conversation_page
from pytake.ui.pages.conversation.state import ConversationState

__all__ = ["ConversationState", "conversation_page"]
