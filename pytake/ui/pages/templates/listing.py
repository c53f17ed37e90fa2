"""The WhatsApp templates as last synced from Meta: the state the page lists them from.

Kept apart from the page's view: the editor's state reloads this listing after a submit,
and the view shows the editor, so both import this module and neither imports the other.
"""

from __future__ import annotations

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.jobs import templates as template_jobs
from pytake.services import templates
from pytake.ui.guard import GuardedState
from pytake.ui.pages.templates.quick_replies import QuickRepliesState
from pytake.ui.session import in_transaction, translated


class TemplatesState(GuardedState):
    """The templates of the organization's numbers, as the last sync left them, and the
    refusal of the last action on them. Loading it loads the quick replies too: the page
    shows both."""

    rows: list[dict] = []
    synced_at: str = ""
    sync_error: str = ""
    syncing: bool = False
    problem: str = ""

    @rx.event
    async def load(self):
        found = await in_transaction(templates.listing, self._identity())
        self.rows, self.synced_at, self.sync_error = (
            found["rows"],
            found["synced_at"],
            found["error"],
        )
        return QuickRepliesState.load

    @rx.event
    async def delete(self, template_id: int):
        """Delete at Meta, then here; the name cannot be used again for 30 days."""
        try:
            await template_jobs.delete(self._identity(), template_id)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.problem = ""
        await self.load()

    @rx.event
    async def sync_now(self):
        """Admins fetch the list from Meta now instead of waiting for the periodic sync."""
        try:
            org = templates.may_sync(self._identity())
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.syncing, self.problem = True, ""
        yield
        try:
            await template_jobs.sync(org)
        finally:
            self.syncing = False
        await self.load()
