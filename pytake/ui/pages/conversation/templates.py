"""Sending a WhatsApp template from the conversation: choose one, fill its variables
(from what PyTake knows of the customer), preview it as the phone shows it, attach a file
for its media header, send. Its own substate, so the conversation's stays small.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.channels.base import MessageType
from pytake.services import outbound, templates
from pytake.ui import uploads
from pytake.ui.pages.conversation.state import SCROLL_TO_END, ConversationState
from pytake.ui.session import in_transaction, translated


class TemplateSendState(ConversationState):
    """The template dialog's choices and values; the dialog's openness and the conversation
    are its parent's."""

    template_choices: list[dict] = []
    template_id: int = 0
    template_values: dict[str, str] = {}
    template_preview: str = ""
    template_file: str = ""  # the name of a file chosen for the template's media header
    _template_file: dict = {}  # that file, staged: path, mime, name
    _template_key: str = ""  # one idempotency key per template being sent

    @rx.var
    def template_value(self) -> str:
        return str(self.template_id) if self.template_id else ""

    @rx.var
    def template_fields(self) -> list[dict]:
        """The chosen template's variables, in the order the customer reads them."""
        picked = next((c for c in self.template_choices if c["id"] == self.template_id), None)
        return picked["fields"] if picked else []

    @rx.event
    async def open_templates(self):
        identity = self._identity()
        try:
            self.template_choices = await in_transaction(
                templates.choices, identity, self.conversation_id
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        self.template_id, self.template_values, self.template_preview = 0, {}, ""
        self.template_open, self.problem, self._template_key = True, "", ""
        self._drop_template_file()

    @rx.event
    def close_templates(self, _open: bool = False):
        self.template_open = False
        self._drop_template_file()

    def _drop_template_file(self) -> None:
        uploads.discard(self._template_file)
        self._template_file, self.template_file = {}, ""

    @rx.event
    async def attach_template_file(self, files: list[rx.UploadFile]):
        """A file for the template's media header, sent along instead of a link (WhatsApp
        receives it uploaded, like any attachment; its type is checked when sent)."""
        if not files or not self.template_id:
            return
        upload = files[0]
        staged = await uploads.stage(upload, outbound.UPLOADS[MessageType.DOCUMENT][1])
        if staged is None:
            self.problem = await translated(self, "send.file_too_large", limit_mb=100)
            return
        await asyncio.to_thread(uploads.discard, self._template_file)
        mime = (upload.content_type or "application/octet-stream").split(";")[0].lower()
        name = Path(upload.name or "file").name
        self._template_file = {"path": str(staged), "mime": mime, "name": name}
        self.template_file, self.problem = name, ""

    @rx.event
    def clear_template_file(self):
        self._drop_template_file()

    @rx.event
    async def pick_template(self, template_id: str):
        """Choose a template; its variables start from what PyTake knows of the customer."""
        picked = next(
            (c for c in self.template_choices if str(c["id"]) == template_id and c["sendable"]),
            None,
        )
        if picked is None:
            return
        self._drop_template_file()
        known = await in_transaction(templates.suggested, self._identity(), self.conversation_id)
        self.template_id = picked["id"]
        self.template_values = {  # a place or a product is never a contact's attribute
            f["key"]: known.get(f["label"].casefold(), "") if f["kind"] == "text" else ""
            for f in picked["fields"]
        }
        await self._render_template()

    @rx.event
    async def set_template_value(self, key: str, value: str):
        if key in self.template_values and isinstance(value, str):
            self.template_values = {**self.template_values, key: value[: templates.MAX_VALUE]}
            await self._render_template()

    async def _render_template(self) -> None:
        self.template_preview = await in_transaction(
            templates.preview_for,
            self._identity(),
            self.conversation_id,
            self.template_id,
            self.template_values,
        )

    @rx.event
    async def send_template(self, _form: dict | None = None):
        if not self.template_open or not self.template_id:
            return None  # a second click, queued behind the send that closed the dialog
        if not self._template_key:
            self._template_key = secrets.token_urlsafe(16)
        staged = self._template_file
        try:
            content = await in_transaction(
                templates.content_for,
                self._identity(),
                self.conversation_id,
                self.template_id,
                self.template_values,
                header_file=bool(staged),
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return None
        file = (
            outbound.StagedFile(Path(staged["path"]), staged["mime"], staged["name"])
            if staged
            else None
        )
        if await self._submit("template", content, file, key=self._template_key):
            # Moved into the media store, or (a repeated click) the first send had it.
            await asyncio.to_thread(uploads.discard, staged)
            self._template_file, self.template_file = {}, ""
            self.template_open, self.template_id, self._template_key = False, 0, ""
            return rx.call_script(SCROLL_TO_END)
        return None
