"""The conversation's state: the messages on screen, the composer's draft and what the
agent does with the conversation. Changes reach it as deltas from the live core
(``ConversationState._take_updates``, see ``pytake.realtime.push``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from pathlib import Path

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.channels.base import MessageType
from pytake.jobs import outbox, runner
from pytake.models import utcnow
from pytake.realtime import presence, push
from pytake.services import (
    actions,
    bot,
    contacts,
    csat,
    labels,
    outbound,
    quick_replies,
    scope,
    teams,
    thread,
)
from pytake.services.effects import Effects
from pytake.ui import uploads
from pytake.ui.guard import GuardedState
from pytake.ui.pages.conversation.messages import DIALOGS, exact_shortcut, first_message, with_days
from pytake.ui.session import SessionState, in_transaction, translated

SCROLL_TO_END = "window.pytakeScrollThread()"  # assets/pytake.js
UPLOAD_ID = "composer-upload"
TEMPLATE_UPLOAD_ID = "template-header-upload"
VOICE_UPLOAD_ID = "voice-upload"  # filled by assets/pytake.js when a recording stops
MAX_PAGES_TO_REACH = 20  # older pages loaded to show a searched message
TYPING_EVERY_SECONDS = 20  # WhatsApp shows "typing…" for up to 25 s
REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"]
SNOOZE_HOURS = (1, 4, 24, 168)
_background: set[asyncio.Task] = set()


def _later(coroutine) -> None:
    """Fire and forget, keeping a reference so the task is not collected mid-flight."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


def kind_of(mime: str) -> str:
    if mime == "image/webp":
        return "sticker"
    for prefix, kind in (("image/", "image"), ("video/", "video"), ("audio/", "audio")):
        if mime.startswith(prefix):
            return kind
    return "document"


class ConversationState(GuardedState):
    conversation_id: int = 0
    info: dict = {}
    messages: list[dict] = []
    has_older: bool = False
    focus_id: int = 0  # the message a search result opened the conversation at
    draft: str = ""
    reply_to: int = 0
    reply_preview: str = ""
    problem: str = ""
    sending: bool = False
    recording: bool = False
    members: list[dict] = []
    teams: list[dict] = []
    labels: list[dict] = []  # the organization's, each with "on" for this conversation
    note_mode: bool = False  # the composer writes a private note instead of a message
    panel_open: bool = False
    quick_matches: list[dict] = []  # quick replies offered while the draft is "/word"
    template_open: bool = False  # the template dialog (``templates.TemplateSendState``)
    contact: dict = {}
    bot: dict = {}  # the latest chatbot run: what the customer told it
    dialog: str = ""  # the structured message being composed: location, contact, buttons, list
    _draft_key: str = ""
    _dialog_key: str = ""
    _typing_at: float = 0.0
    _applied: int = 0  # the number of the last update this tab applied (``push.take``)
    _lang: str = "en"  # the member's, read with the page (``_language``)

    async def _language(self) -> str:
        self._lang = (await self.get_state(SessionState)).language
        return self._lang

    def _key(self) -> str:
        """One idempotency key per draft: a double click or a replayed event reuses it."""
        if not self._draft_key:
            self._draft_key = secrets.token_urlsafe(16)
        return self._draft_key

    @rx.event
    async def load(self):
        raw = self.router.page.params.get("conversation_id", "")
        self.conversation_id = int(raw) if str(raw).isdigit() and len(str(raw)) < 19 else 0
        self.messages, self.info, self.problem = [], {}, ""
        self.reply_to, self.reply_preview, self.draft, self._draft_key = 0, "", "", ""
        self.note_mode, self.quick_matches, self.template_open = False, [], False
        identity, token = self._identity(), self.router.session.client_token
        # Watched before reading: a change committed meanwhile arrives as an update.
        await push.watch(
            token,
            (push.CONVERSATION, self.conversation_id),
            identity.organization_id,
            identity.user_id,
            await in_transaction(scope.scope_of, identity),
        )
        self._applied = 0
        try:
            await self._reload()  # the header and the latest page, or the refusal
        except AccessError as refusal:
            push.unwatch(token)
            self.messages, self.info = [], {}
            self.problem = await translated(self, refusal)
            return None
        receipt = await in_transaction(outbound.read_receipt, identity, self.conversation_id)
        if receipt is not None:
            _later(outbox.mark_read(*receipt))
        wanted = str(self.router.page.params.get("message", ""))
        self.focus_id = int(wanted) if wanted.isdigit() and len(wanted) < 19 else 0
        if self.focus_id and await self._reach(self.focus_id):
            return rx.call_script(f"window.pytakeScrollTo('m-{self.focus_id}')")
        return rx.call_script(SCROLL_TO_END)

    async def _reach(self, message_id: int) -> bool:
        """Load older pages until the message is shown (search results open at it)."""
        for _ in range(MAX_PAGES_TO_REACH):
            if any(m["id"] == message_id for m in self.messages):
                return True
            if not self.has_older:
                return False
            await self.load_older()
        return False

    async def _reload(self) -> None:
        identity, language = self._identity(), await self._language()
        latest, more = await in_transaction(thread.page, identity, self.conversation_id, language)
        info = await in_transaction(thread.header, identity, self.conversation_id)
        await self._show(latest, more, info)

    async def _show(self, latest: list[dict], more: bool, info: dict) -> None:
        """The latest page replaces the one shown; older pages loaded above it stay."""
        first = first_message(latest)
        # Keep the older pages loaded above the latest one: everything before its first message
        # (notes carry negative ids, so position, not id, says where a page starts).
        cut = next((i for i, m in enumerate(self.messages) if m["id"] >= (first or 0) > 0), 0)
        older = self.messages[:cut] if first else []
        self.messages = with_days(older + latest)
        self.has_older = more if not older else self.has_older
        self.info = info
        if self.panel_open:
            await self._load_contact()

    async def _take_updates(self, token: str) -> None:
        """Run by the server in this tab's state (``realtime.push``, ``ui.tabs``): the
        changes waiting for it."""
        taken = push.take(token, self._applied)
        if not push.watching(token) or not self.conversation_id:
            return
        seen_by = push.scope(token)
        missed = taken.resync or seen_by is None
        if seen_by is None:  # the organization's roles, teams or rule changed
            seen_by = await in_transaction(scope.scope_of, self._identity())
            push.rescope(token, seen_by)
        self._applied = taken.last
        ours = [u for u in taken.updates if u.conversation_id == self.conversation_id]
        try:
            if missed:
                await self._reload()
            elif ours:
                update = ours[-1]
                info = await update.header.get("") if seen_by.sees(update.change.after) else None
                if info is None:
                    raise AccessError("conversation.not_found")
                latest, more = await update.thread.get(self._lang)  # as the page was read
                mine = update.change.after.assignee_id == seen_by.user_id
                await self._show(latest, more, {**info, "mine": mine})
        except AccessError:  # reassigned away from this agent meanwhile
            self.messages, self.info = [], {}
            self.problem = await translated(self, "conversation.not_found")

    @rx.event
    async def load_older(self):
        first = first_message(self.messages)
        if first is None:
            return
        older, more = await in_transaction(
            thread.page,
            self._identity(),
            self.conversation_id,
            await self._language(),
            before=first,
        )
        self.messages = with_days(older + self.messages)
        self.has_older = more

    @rx.event
    async def set_draft(self, value: str):
        self.draft = value[: 4096 + 1] if isinstance(value, str) else ""
        await self._match_quick_replies()
        if self.note_mode or self.quick_matches:
            return
        now = asyncio.get_running_loop().time()
        if self.draft.strip() and now - self._typing_at > TYPING_EVERY_SECONDS:
            self._typing_at = now
            target = await in_transaction(
                outbound.latest_inbound, self._identity(), self.conversation_id
            )
            if target is not None:
                _later(outbox.mark_read(*target, typing=True))

    async def _match_quick_replies(self) -> None:
        """A draft that is "/" and a word offers the quick replies whose shortcut matches."""
        typed = self.draft
        if typed.startswith("/") and " " not in typed and "\n" not in typed:
            self.quick_matches = await in_transaction(
                quick_replies.listing, self._identity(), typed[1:], limit=quick_replies.SHOWN
            )
        else:
            self.quick_matches = []

    async def _shortcut_of(self, text: str) -> int | None:
        if not text.startswith("/") or any(c.isspace() for c in text):
            return None
        found = await in_transaction(
            quick_replies.listing, self._identity(), text[1:], limit=quick_replies.SHOWN
        )
        return exact_shortcut(text, found)

    @rx.event
    async def use_quick_reply(self, reply_id: int):
        try:
            self.draft = await in_transaction(
                quick_replies.filled, self._identity(), self.conversation_id, reply_id
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return None
        self.quick_matches = []
        return rx.set_focus("composer-input")

    async def _act(self, action, *args, **kwargs) -> bool:
        """Run a conversation action; tell every tab that shows it."""
        try:
            changed = await in_transaction(
                action, self._identity(), self.conversation_id, *args, **kwargs
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return False
        self.problem = ""
        # Resolving or letting go frees an agent's room; a transfer fills a team's queue.
        await runner.announce(Effects(conversations={changed}))
        await self._reload()
        return True

    # The pickers fill when their menu opens (``_open`` is the menu's new state).
    @rx.event
    async def load_members(self, _open: bool = True):
        identity = self._identity()
        here = await presence.online(identity.organization_id)
        members = await in_transaction(actions.members, identity)
        self.members = [{**member, "online": member["id"] in here} for member in members]

    @rx.event
    async def load_teams(self, _open: bool = True):
        org = self._identity().organization_id
        self.teams = [
            {"id": team["id"], "name": team["name"]}
            for team in await in_transaction(teams.listing, org)
        ]

    @rx.event
    async def assign_team(self, team_id: int | None):
        await self._act(actions.assign_team, team_id)

    @rx.event
    async def load_labels(self, _open: bool = True):
        org = self._identity().organization_id
        chosen = {label["id"] for label in self.info.get("labels", [])}
        found = await in_transaction(labels.listing, org)
        self.labels = [{**label, "on": label["id"] in chosen} for label in found]

    @rx.event
    async def toggle_label(self, label_id: int):
        chosen = {label["id"] for label in self.info.get("labels", [])}
        if not isinstance(label_id, int) or label_id not in {x["id"] for x in self.labels}:
            return
        chosen ^= {label_id}
        if await self._act(actions.set_labels, sorted(chosen)):
            await self.load_labels()

    @rx.event
    async def create_label(self, form: dict):
        name = form.get("name") if isinstance(form, dict) else None
        try:
            label = await in_transaction(labels.create, self._identity(), name, "gray")
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        chosen = {x["id"] for x in self.info.get("labels", [])} | {label.id}
        if await self._act(actions.set_labels, sorted(chosen)):
            await self.load_labels()

    @rx.event
    def set_note_mode(self, on: bool):
        self.note_mode = on is True

    @rx.event
    async def add_note(self, _form: dict | None = None):
        text = self.draft.strip()
        if text and await self._act(actions.add_note, text):
            self.draft = ""
            return rx.call_script(SCROLL_TO_END)
        return None

    @rx.event
    def mention(self, name: str):
        if isinstance(name, str) and name in {m["name"] for m in self.members}:
            self.draft = f"{self.draft.rstrip()} @{name} ".lstrip()[:4096]

    @rx.event
    async def toggle_panel(self):
        self.panel_open = not self.panel_open
        if self.panel_open:
            await self._load_contact()

    async def _load_contact(self) -> None:
        self.contact = await in_transaction(
            contacts.profile, self._identity(), self.conversation_id
        )
        found = await in_transaction(bot.summary, self._identity(), self.conversation_id)
        self.bot = found or {}

    @rx.event
    async def rename_contact(self, form: dict):
        await self._act(contacts.rename, form.get("name") if isinstance(form, dict) else None)

    @rx.event
    async def set_attribute(self, form: dict):
        form = form if isinstance(form, dict) else {}
        await self._act(contacts.set_attribute, form.get("key"), form.get("value"))

    @rx.event
    async def remove_attribute(self, key: str):
        await self._act(contacts.set_attribute, key, "")

    @rx.event
    async def assign_to(self, user_id: int):
        await self._act(actions.assign, user_id)

    @rx.event
    async def take(self):
        await self._act(actions.assign, self._identity().user_id)

    @rx.event
    async def unassign(self):
        await self._act(actions.assign, None)

    @rx.event
    async def set_status(self, status: str):
        if status not in ("open", "pending", "resolved"):
            return
        if await self._act(actions.set_status, status) and status == "resolved":
            asked = await in_transaction(csat.after_resolve, self._identity(), self.conversation_id)
            if asked:
                await runner.announce(self._sent([asked]))

    @rx.event
    async def snooze(self, hours: int):
        if hours in SNOOZE_HOURS:
            until = utcnow() + dt.timedelta(hours=hours)
            await self._act(actions.set_status, "snoozed", snooze_until=until)

    @rx.event
    async def mark_unread(self):
        if await self._act(actions.mark_unread):
            return rx.redirect("/inbox")
        return None

    @rx.event
    def start_reply(self, message_id: int):
        found = next((m for m in self.messages if m["id"] == message_id), None)
        if found is not None and found["can_reply"]:
            self.reply_to, self.reply_preview = found["id"], found["text"] or found["type"]

    @rx.event
    def cancel_reply(self):
        self.reply_to, self.reply_preview = 0, ""

    async def _submit(self, kind: str, content: dict, file=None, key: str = "") -> bool:
        try:
            accepted = await in_transaction(
                outbound.send,
                self._identity(),
                self.conversation_id,
                kind,
                content,
                client_key=key or self._key(),
                reply_to=self.reply_to or None,
                file=file,
            )
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return False
        self.problem = ""
        if not key:
            self._draft_key = ""
        self.reply_to, self.reply_preview = 0, ""
        # Colleagues with this conversation open see the message now, not when Meta answers.
        await runner.announce(self._sent([accepted.outbox_id] if accepted.outbox_id else []))
        await self._reload()
        return True

    def _sent(self, outbox_ids: list[int]) -> Effects:
        """What a message written here changed: its conversation, and a send to wake."""
        conversation = (self._identity().organization_id, self.conversation_id)
        return Effects(conversations={conversation}, outbox=outbox_ids, assignable=False)

    @rx.event
    async def send(self, _form: dict | None = None):
        if self.note_mode:
            return await self.add_note()
        text = self.draft.strip()
        if not text or self.sending:
            return None
        shortcut = exact_shortcut(text, self.quick_matches) or await self._shortcut_of(text)
        if shortcut:  # Enter before the picker showed: insert the reply, never send "/word"
            return await self.use_quick_reply(shortcut)
        self.sending = True
        try:
            if await self._submit("text", {"body": text}):
                self.draft = ""
                return rx.call_script(SCROLL_TO_END)
        finally:
            self.sending = False

    @rx.event
    async def react(self, message_id: int, emoji: str):
        if emoji not in REACTIONS and emoji != "":
            return
        # A reaction is its own message, not the draft.
        key = secrets.token_urlsafe(16)
        await self._submit("reaction", {"emoji": emoji, "target": message_id}, key=key)

    @rx.event
    def open_dialog(self, name: str):
        if name in DIALOGS:
            self.dialog, self.problem = name, ""
            self._dialog_key = secrets.token_urlsafe(16)  # one message per opened dialog

    @rx.event
    def close_dialog(self, _open: bool = False):
        self.dialog, self._dialog_key = "", ""

    @rx.event
    async def send_structured(self, form: dict):
        """The dialog's form, as the message type it composes (checked by the service)."""
        build = DIALOGS.get(self.dialog)
        if build is None or not self._dialog_key or not isinstance(form, dict):
            return
        kind, content = build({k: str(v).strip() for k, v in form.items() if v is not None})
        if await self._submit(kind, content, key=self._dialog_key):
            self.dialog, self._dialog_key = "", ""
            return rx.call_script(SCROLL_TO_END)

    @rx.event
    async def retry(self, message_id: int):
        try:
            accepted = await in_transaction(outbound.resend, self._identity(), message_id)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return
        await runner.announce(self._sent([accepted.outbox_id]))
        await self._reload()

    @rx.event
    async def attach(self, files: list[rx.UploadFile]):
        """A file from the composer; the draft's text goes with it as the caption."""
        return await self._attach(files, voice=False)

    @rx.event
    async def attach_voice(self, files: list[rx.UploadFile]):
        """A recording from the microphone, sent as a voice note."""
        self.recording = False
        return await self._attach(files, voice=True)

    @rx.event
    def start_recording(self):
        return rx.call_script(
            "window.pytakeVoice.start()", callback=ConversationState.recording_started
        )

    @rx.event
    async def recording_started(self, started: bool):
        self.recording = started is True
        if not self.recording:
            self.problem = await translated(self, "thread.microphone_refused")

    @rx.event
    def stop_recording(self, send: bool):
        self.recording = False
        return rx.call_script(f"window.pytakeVoice.stop({'true' if send is True else 'false'})")

    async def _attach(self, files: list[rx.UploadFile], *, voice: bool):
        if not files or not self.conversation_id:
            return
        upload = files[0]
        mime = (upload.content_type or "application/octet-stream").split(";")[0].lower()
        staged = await uploads.stage(upload, outbound.UPLOADS[MessageType.DOCUMENT][1])
        if staged is None:
            self.problem = await translated(self, "send.file_too_large", limit_mb=100)
            return
        kind = "audio" if voice else kind_of(mime)
        content: dict = {"voice": True} if voice else {}
        caption = self.draft.strip()
        if caption and kind in ("image", "video", "document"):
            content["caption"] = caption
        if kind == "document":
            content["filename"] = Path(upload.name or "file").name
        file = outbound.StagedFile(staged, upload.content_type or mime, upload.name or "file")
        key = secrets.token_urlsafe(16)  # each file is its own message
        try:
            if not await self._submit(kind, content, file, key=key):
                return None
            if "caption" in content:
                self.draft, self._draft_key = "", ""
            return rx.call_script(SCROLL_TO_END)
        finally:
            await asyncio.to_thread(staged.unlink, True)  # moved away if it was accepted
