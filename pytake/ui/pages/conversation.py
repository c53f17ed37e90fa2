"""One conversation: its messages as bubbles with live ticks, and the composer.

The state keeps only the messages on screen. Every change reaches it as a server-pushed
``on_changed`` event (``pytake.realtime.push``), which reloads through the same checks as
any event the tab sends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from pathlib import Path

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.channels.base import MessageType
from pytake.jobs import assignment, outbox, runner
from pytake.models import utcnow
from pytake.realtime import presence, push, signals
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
    templates,
    thread,
)
from pytake.ui import uploads
from pytake.ui.forms import error_callout
from pytake.ui.guard import GuardedState
from pytake.ui.layout import shell
from pytake.ui.pages.workspace import window_badge
from pytake.ui.session import SessionState, in_transaction, t, translated

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


def _kind_of(mime: str) -> str:
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
    template_open: bool = False
    template_choices: list[dict] = []
    template_id: int = 0
    template_values: dict[str, str] = {}
    template_preview: str = ""
    template_file: str = ""  # the name of a file chosen for the template's media header
    _template_file: dict = {}  # that file, staged: path, mime, name
    contact: dict = {}
    bot: dict = {}  # the latest chatbot run: what the customer told it
    dialog: str = ""  # the structured message being composed: location, contact, buttons, list
    _draft_key: str = ""
    _dialog_key: str = ""
    _template_key: str = ""  # one idempotency key per template being sent
    _typing_at: float = 0.0
    _applied: int = 0  # the number of the last update this tab applied (``push.take``)

    async def _language(self) -> str:
        return (await self.get_state(SessionState)).language

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
        first = _first_message(latest)
        # Keep the older pages loaded above the latest one: everything before its first message
        # (notes carry negative ids, so position, not id, says where a page starts).
        cut = next((i for i, m in enumerate(self.messages) if m["id"] >= (first or 0) > 0), 0)
        older = self.messages[:cut] if first else []
        self.messages = _with_days(older + latest)
        self.has_older = more if not older else self.has_older
        self.info = info
        if self.panel_open:
            await self._load_contact()

    @rx.event
    async def on_delta(self):
        """Pushed by the server (``realtime.push``): the changes waiting for this tab. A
        client calling it only applies what was waiting for it anyway."""
        token = self.router.session.client_token
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
                latest, more = await update.thread.get(await self._language())
                mine = update.change.after.assignee_id == seen_by.user_id
                await self._show(latest, more, {**info, "mine": mine})
        except AccessError:  # reassigned away from this agent meanwhile
            self.messages, self.info = [], {}
            self.problem = await translated(self, "conversation.not_found")

    @rx.event
    async def load_older(self):
        first = _first_message(self.messages)
        if first is None:
            return
        older, more = await in_transaction(
            thread.page,
            self._identity(),
            self.conversation_id,
            await self._language(),
            before=first,
        )
        self.messages = _with_days(older + self.messages)
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
        return _exact_shortcut(text, found)

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
        await signals.publish([changed])
        # Resolving or letting go frees an agent's room; a transfer fills a team's queue.
        await assignment.assign_waiting([changed[0]])
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
            await runner.enqueue("outbox", [asked] if asked else [])

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
        if accepted.outbox_id is not None:
            await runner.enqueue("outbox", [accepted.outbox_id])
        # Colleagues with this conversation open see the message now, not when Meta answers.
        await signals.publish([(self._identity().organization_id, self.conversation_id)])
        await self._reload()
        return True

    @rx.event
    async def send(self, _form: dict | None = None):
        if self.note_mode:
            return await self.add_note()
        text = self.draft.strip()
        if not text or self.sending:
            return None
        shortcut = _exact_shortcut(text, self.quick_matches) or await self._shortcut_of(text)
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
        await runner.enqueue("outbox", [accepted.outbox_id])
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
        kind = "audio" if voice else _kind_of(mime)
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


def _location(form: dict) -> tuple[str, dict]:
    content = {"latitude": form.get("latitude", ""), "longitude": form.get("longitude", "")}
    content.update({k: form[k] for k in ("name", "address") if form.get(k)})
    return "location", content


def _contact(form: dict) -> tuple[str, dict]:
    card: dict = {"name": {"formatted_name": form.get("name", "")}}
    if form.get("phone"):
        card["phones"] = [{"phone": form["phone"], "type": "CELL"}]
    if form.get("email"):
        card["emails"] = [{"email": form["email"], "type": "WORK"}]
    return "contacts", {"cards": [card]}


def _buttons(form: dict) -> tuple[str, dict]:
    titles = [form.get(f"button{n}", "") for n in (1, 2, 3)]
    return "interactive", {
        "kind": "button",
        "body": form.get("body", ""),
        "footer": form.get("footer", ""),
        "buttons": [{"id": title, "title": title} for title in titles if title],
    }


def _list(form: dict) -> tuple[str, dict]:
    rows = []
    for n, line in enumerate(form.get("rows", "").splitlines(), start=1):
        title, _, description = (part.strip() for part in line.partition(" - "))
        if title:
            rows.append({"id": f"option-{n}", "title": title, "description": description})
    return "interactive", {
        "kind": "list",
        "body": form.get("body", ""),
        "button": form.get("button", ""),
        "sections": [{"rows": rows}],
    }


DIALOGS = {"location": _location, "contact": _contact, "buttons": _buttons, "list": _list}


def _exact_shortcut(text: str, replies: list[dict]) -> int | None:
    """The quick reply whose shortcut the draft names exactly ("/hello")."""
    wanted = text[1:].lower() if text.startswith("/") else None
    return next((r["id"] for r in replies if r["shortcut"] == wanted), None)


def _first_message(items: list[dict]) -> int | None:
    """The id of the first message (not note) shown: where the next older page ends."""
    return next((m["id"] for m in items if m["id"] > 0), None)


def _with_days(messages: list[dict]) -> list[dict]:
    """Mark the first message of each day, where the page draws a date separator."""
    previous = None
    marked = []
    for message in messages:
        marked.append({**message, "new_day": message["day"] != previous})
        previous = message["day"]
    return marked


# Components ----------------------------------------------------------------------------------


def _ticks(m: rx.Var) -> rx.Component:
    status = m["status"].to(str)
    return rx.match(
        status,
        ("queued", rx.icon("clock", size=14, color=rx.color("gray", 9), data_testid="tick-queued")),
        ("sent", rx.icon("check", size=14, color=rx.color("gray", 10), data_testid="tick-sent")),
        (
            "delivered",
            rx.icon(
                "check-check", size=14, color=rx.color("gray", 10), data_testid="tick-delivered"
            ),
        ),
        ("read", rx.icon("check-check", size=14, color="#34B7F1", data_testid="tick-read")),
        ("played", rx.icon("check-check", size=14, color="#34B7F1", data_testid="tick-read")),
        (
            "failed",
            rx.icon("circle-alert", size=14, color=rx.color("red", 10), data_testid="tick-failed"),
        ),
        (
            "unknown",
            rx.icon(
                "circle-help", size=14, color=rx.color("amber", 10), data_testid="tick-unknown"
            ),
        ),
        rx.fragment(),
    )


def _media(m: rx.Var) -> rx.Component:
    kind = m["media_kind"].to(str)
    url = m["media_url"].to(str)
    pending = rx.hstack(
        rx.spinner(size="1"),
        rx.text(t("thread.media_pending"), size="1", color=rx.color("gray", 10)),
        align="center",
    )
    failed = rx.text(t("thread.media_failed"), size="1", color=rx.color("red", 10))
    ready = rx.match(
        kind,
        (
            "image",
            rx.link(
                rx.image(src=url, max_width="280px", max_height="320px", border_radius="8px"),
                href=url,
                is_external=True,
            ),
        ),
        ("sticker", rx.image(src=url, width="128px", height="128px")),
        ("audio", rx.el.audio(src=url, controls=True, preload="none", style={"maxWidth": "260px"})),
        (
            "video",
            rx.el.video(
                src=url,
                controls=True,
                preload="metadata",
                style={"maxWidth": "280px", "borderRadius": "8px"},
            ),
        ),
        rx.link(
            rx.hstack(
                rx.icon("file-text", size=28, color=rx.color("accent", 10)),
                rx.vstack(
                    rx.text(m["media_name"], weight="medium", size="2"),
                    rx.text(m["media_size"], size="1", color=rx.color("gray", 10)),
                    spacing="0",
                ),
                align="center",
                spacing="2",
            ),
            href=url,
            is_external=True,
            underline="none",
        ),
    )
    return rx.cond(
        m["media_state"].to(str) == "done",
        ready,
        rx.cond(m["media_state"].to(str) == "failed", failed, pending),
    )


def _content(m: rx.Var) -> rx.Component:
    kind = m["type"].to(str)
    text = rx.cond(
        m["text"].to(str) != "",
        rx.text(m["text"], size="2", white_space="pre-wrap", word_break="break-word"),
        rx.fragment(),
    )
    return rx.vstack(
        rx.cond(
            m["has_quote"].to(bool),
            rx.box(
                rx.text(m["quote"], size="1", color=rx.color("gray", 11), trim="both"),
                border_left=f"3px solid {rx.color('accent', 9)}",
                background=rx.color("gray", 3),
                padding="4px 8px",
                border_radius="4px",
                max_width="100%",
                data_testid="quote",
            ),
        ),
        rx.match(
            kind,
            ("image", _media(m)),
            ("sticker", _media(m)),
            ("audio", _media(m)),
            ("video", _media(m)),
            ("document", _media(m)),
            ("template", rx.cond(m["media_kind"].to(str) != "", _media(m))),
            (
                "location",
                rx.link(
                    rx.hstack(rx.icon("map-pin", size=16), rx.text(t("thread.open_map"), size="2")),
                    href=m["map_url"].to(str),
                    is_external=True,
                ),
            ),
            (
                "unsupported",
                rx.text(
                    t("thread.unsupported"),
                    size="2",
                    font_style="italic",
                    color=rx.color("gray", 10),
                ),
            ),
            rx.fragment(),
        ),
        rx.cond(kind != "unsupported", text),
        rx.cond(
            m["choices"].to(list).length() > 0,
            rx.flex(
                rx.foreach(
                    m["choices"].to(list[str]),
                    lambda title: rx.badge(title, variant="outline", radius="full", size="2"),
                ),
                wrap="wrap",
                gap="4px",
                data_testid="choices",
            ),
        ),
        spacing="1",
        align="start",
    )


def _error(m: rx.Var) -> rx.Component:
    return rx.cond(
        m["error_reason"].to(str) != "",
        rx.vstack(
            rx.text(m["error_reason"], size="1", color=rx.color("red", 11), weight="medium"),
            rx.text(m["error_next"], size="1", color=rx.color("gray", 11)),
            rx.cond(
                m["can_retry"].to(bool),
                rx.button(
                    rx.icon("rotate-ccw", size=12),
                    t("thread.retry"),
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=ConversationState.retry(m["id"].to(int)),
                    data_testid="retry",
                ),
            ),
            spacing="1",
            align="start",
            data_testid="send-error",
        ),
    )


def _actions(m: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.cond(
            m["can_reply"].to(bool),
            rx.icon_button(
                rx.icon("reply", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=ConversationState.start_reply(m["id"].to(int)),
                aria_label="reply",
            ),
        ),
        rx.cond(
            m["can_react"].to(bool),
            rx.popover.root(
                rx.popover.trigger(
                    rx.icon_button(
                        rx.icon("smile-plus", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="react",
                    )
                ),
                rx.popover.content(
                    rx.hstack(
                        *[
                            rx.popover.close(
                                rx.button(
                                    emoji,
                                    variant="ghost",
                                    size="2",
                                    on_click=ConversationState.react(m["id"].to(int), emoji),
                                )
                            )
                            for emoji in REACTIONS
                        ],
                        spacing="1",
                    ),
                    padding="6px",
                ),
            ),
        ),
        spacing="1",
        class_name="bubble-actions",
        opacity="0",
    )


def _bubble(m: rx.Var) -> rx.Component:
    out = m["out"].to(bool)
    bubble = rx.box(
        rx.cond(
            out & (m["sender"].to(str) != ""),
            rx.text(m["sender"], size="1", weight="bold", color=rx.color("accent", 11)),
        ),
        _content(m),
        rx.hstack(
            rx.moment(
                m["at"].to(str), format="HH:mm", font_size="11px", color=rx.color("gray", 10)
            ),
            rx.cond(out, _ticks(m)),
            spacing="1",
            align="center",
            justify="end",
            width="100%",
        ),
        _error(m),
        rx.cond(
            m["reactions"].to(list).length() > 0,
            rx.badge(
                rx.foreach(m["reactions"].to(list[str]), rx.text),
                variant="surface",
                radius="full",
                position="absolute",
                bottom="-12px",
                left="8px",
            ),
        ),
        position="relative",
        background=rx.cond(out, rx.color("accent", 3), rx.color("gray", 1)),
        border=f"1px solid {rx.color('gray', 4)}",
        padding="6px 10px 4px",
        border_radius="10px",
        max_width=["88%", "75%", "65%"],
        margin_bottom=rx.cond(m["reactions"].to(list).length() > 0, "14px", "0"),
        data_testid=rx.cond(out, "bubble-out", "bubble-in"),
        data_status=m["status"].to(str),
        id="m-" + m["id"].to(str),
        outline=rx.cond(
            m["id"].to(int) == ConversationState.focus_id,
            f"2px solid {rx.color('amber', 8)}",
            "none",
        ),
    )
    return rx.fragment(
        rx.cond(
            m["new_day"].to(bool),
            rx.center(
                rx.badge(
                    rx.moment(m["at"].to(str), format="LL", locale=SessionState.moment_locale),
                    variant="soft",
                    color_scheme="gray",
                ),
                width="100%",
                padding_y="8px",
            ),
        ),
        rx.cond(
            m["note"].to(bool),
            _note(m),
            _message_or_activity(m, out, bubble),
        ),
    )


def _note(m: rx.Var) -> rx.Component:
    """Private notes: amber, full width, signed, with mentions highlighted."""
    return rx.box(
        rx.hstack(
            rx.icon("lock", size=12, color=rx.color("amber", 11)),
            rx.text(t("thread.private_note"), size="1", weight="bold", color=rx.color("amber", 11)),
            rx.text("·", size="1", color=rx.color("amber", 11)),
            rx.text(m["sender"], size="1", color=rx.color("amber", 11)),
            rx.spacer(),
            rx.moment(
                m["at"].to(str), format="HH:mm", font_size="11px", color=rx.color("gray", 10)
            ),
            spacing="1",
            align="center",
            width="100%",
        ),
        rx.text(
            rx.foreach(
                m["segments"].to(list[dict]),
                lambda part: rx.cond(
                    part["mention"].to(bool),
                    rx.el.span(
                        part["text"],
                        font_weight="600",
                        color=rx.color("accent", 11),
                        data_testid="mention",
                    ),
                    rx.el.span(part["text"]),
                ),
            ),
            size="2",
            white_space="pre-wrap",
        ),
        background=rx.color("amber", 3),
        border=f"1px dashed {rx.color('amber', 7)}",
        border_radius="10px",
        padding="6px 10px",
        margin_x=["0", "10%"],
        data_testid="note",
    )


def _message_or_activity(m: rx.Var, out: rx.Var, bubble: rx.Component) -> rx.Component:
    return rx.fragment(
        rx.cond(
            (m["type"].to(str) == "system") | (m["type"].to(str) == "activity"),
            rx.center(
                rx.badge(
                    m["text"],
                    rx.cond(
                        m["until"].to(str) != "",
                        rx.el.span(
                            " ",
                            rx.moment(
                                m["until"].to(str),
                                format="LLL",
                                locale=SessionState.moment_locale,
                            ),
                        ),
                    ),
                    variant="surface",
                    color_scheme="gray",
                    size="1",
                    data_testid="activity",
                ),
                width="100%",
            ),
            rx.hstack(
                rx.cond(out, _actions(m)),
                bubble,
                rx.cond(out, rx.fragment(), _actions(m)),
                justify=rx.cond(out, "end", "start"),
                align="center",
                width="100%",
                spacing="2",
                _hover={"& .bubble-actions": {"opacity": "1"}},
            ),
        ),
    )


def _actions_bar() -> rx.Component:
    info = ConversationState.info
    status = info["status"].to(str)
    mine = info["mine"].to(bool)
    assignee = rx.cond(
        info["assignee"].to(str) != "", info["assignee"].to(str), t("thread.unassigned")
    )
    assign_menu = rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("user-round", size=14),
                assignee,
                rx.icon("chevron-down", size=14),
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="assign-menu",
            )
        ),
        rx.menu.content(
            rx.cond(
                ~mine,
                rx.menu.item(t("thread.take"), on_click=ConversationState.take, data_testid="take"),
            ),
            rx.foreach(
                ConversationState.members,
                lambda member: rx.menu.item(
                    rx.hstack(
                        rx.box(
                            width="8px",
                            height="8px",
                            border_radius="50%",
                            background=rx.cond(
                                member["online"].to(bool),
                                rx.color("grass", 9),
                                rx.color("gray", 6),
                            ),
                            data_testid=rx.cond(member["online"].to(bool), "online", "offline"),
                        ),
                        rx.text(member["name"]),
                        align="center",
                        spacing="2",
                    ),
                    on_click=ConversationState.assign_to(member["id"].to(int)),
                ),
            ),
            rx.cond(
                info["assignee"].to(str) != "",
                rx.fragment(
                    rx.menu.separator(),
                    rx.menu.item(t("thread.unassign"), on_click=ConversationState.unassign),
                ),
            ),
        ),
        on_open_change=ConversationState.load_members,
    )
    snooze_menu = _icon_menu(
        "alarm-clock",
        "snooze",
        "snooze-menu",
        *[
            rx.menu.item(
                t(f"thread.snooze_{hours}h"),
                on_click=ConversationState.snooze(hours),
                data_testid=f"snooze-{hours}h",
            )
            for hours in SNOOZE_HOURS
        ],
        rx.menu.separator(),
        rx.menu.item(
            t("thread.mark_unread"),
            on_click=ConversationState.mark_unread,
            data_testid="mark-unread",
        ),
        variant="soft",
    )
    resolve = rx.cond(
        status == "resolved",
        rx.button(
            rx.icon("rotate-ccw", size=14),
            t("thread.reopen"),
            variant="soft",
            size="2",
            on_click=ConversationState.set_status("open"),
            data_testid="reopen",
        ),
        rx.button(
            rx.icon("check", size=14),
            t("thread.resolve"),
            size="2",
            on_click=ConversationState.set_status("resolved"),
            data_testid="resolve",
        ),
    )
    return rx.hstack(
        assign_menu,
        _team_menu(),
        _labels_menu(),
        snooze_menu,
        resolve,
        rx.icon_button(
            rx.icon("panel-right", size=16),
            variant=rx.cond(ConversationState.panel_open, "solid", "soft"),
            color_scheme="gray",
            on_click=ConversationState.toggle_panel,
            aria_label="contact",
            data_testid="contact-panel-toggle",
        ),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _team_menu() -> rx.Component:
    team = ConversationState.info["team"].to(str)
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("users", size=14),
                rx.cond(team != "", team, t("thread.no_team")),
                rx.icon("chevron-down", size=14),
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="team-menu",
            )
        ),
        rx.menu.content(
            rx.cond(
                ConversationState.teams.length() == 0,
                rx.menu.item(t("thread.no_teams_yet"), disabled=True),
            ),
            rx.foreach(
                ConversationState.teams,
                lambda item: rx.menu.item(
                    item["name"], on_click=ConversationState.assign_team(item["id"].to(int))
                ),
            ),
            rx.cond(
                team != "",
                rx.fragment(
                    rx.menu.separator(),
                    rx.menu.item(
                        t("thread.remove_team"), on_click=ConversationState.assign_team(None)
                    ),
                ),
            ),
        ),
        on_open_change=ConversationState.load_teams,
    )


def _labels_menu() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("tag", size=14),
                rx.cond(
                    ConversationState.info["labels"].to(list).length() > 0,
                    rx.foreach(
                        ConversationState.info["labels"].to(list[dict]),
                        lambda label: rx.badge(
                            label["name"], color_scheme=label["color"].to(str), size="1"
                        ),
                    ),
                    rx.text(t("thread.labels")),
                ),
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="labels-menu",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.cond(
                    ConversationState.labels.length() == 0,
                    rx.text(t("thread.no_labels_yet"), size="2", color=rx.color("gray", 11)),
                ),
                rx.foreach(
                    ConversationState.labels,
                    lambda label: rx.hstack(
                        rx.checkbox(
                            checked=label["on"].to(bool),
                            on_change=lambda _on: ConversationState.toggle_label(
                                label["id"].to(int)
                            ),
                        ),
                        rx.badge(label["name"], color_scheme=label["color"].to(str)),
                        align="center",
                        as_="label",
                        data_testid="label-option",
                    ),
                ),
                rx.cond(
                    SessionState.user_role != "agent",
                    rx.form(
                        rx.hstack(
                            rx.input(
                                name="name",
                                placeholder=t("thread.new_label"),
                                max_length=40,
                                size="1",
                                required=True,
                            ),
                            rx.button(t("thread.add"), size="1", type="submit"),
                            spacing="2",
                        ),
                        on_submit=ConversationState.create_label,
                        reset_on_submit=True,
                    ),
                ),
                spacing="2",
            ),
            max_width="280px",
        ),
        on_open_change=ConversationState.load_labels,
    )


def _header() -> rx.Component:
    """Who and the window on the first line; the actions beside it, or below on a phone."""
    info = ConversationState.info
    return rx.flex(
        rx.hstack(
            rx.link(
                rx.icon_button(rx.icon("arrow-left"), variant="ghost", color_scheme="gray"),
                href="/inbox",
                data_testid="back-to-inbox",
            ),
            rx.avatar(fallback=info["contact"].to(str)[:1], size="3", radius="full"),
            rx.vstack(
                rx.text(info["contact"], weight="bold", size="3", data_testid="contact-name"),
                rx.text(info["number"], size="1", color=rx.color("gray", 10)),
                spacing="0",
                min_width="0",
            ),
            rx.spacer(),
            window_badge(info["window_expires_at"].to(str), info["window_open"].to(bool)),
            align="center",
            spacing="3",
            flex="1 1 320px",
            min_width="0",
        ),
        _actions_bar(),
        align="center",
        gap="8px 12px",
        wrap="wrap",
        width="100%",
        padding_bottom="12px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def _more_menu() -> rx.Component:
    items = [
        ("location", "map-pin", "thread.send_location"),
        ("contact", "contact", "thread.send_contact"),
        ("buttons", "square-mouse-pointer", "thread.send_buttons"),
        ("list", "list", "thread.send_list"),
    ]
    return _icon_menu(
        "plus",
        "more",
        "composer-more",
        *[
            rx.menu.item(
                rx.hstack(rx.icon(icon, size=16), rx.text(t(label)), align="center"),
                on_click=ConversationState.open_dialog(name),
                data_testid=f"compose-{name}",
            )
            for name, icon, label in items
        ],
        rx.menu.separator(),
        rx.menu.item(
            rx.hstack(rx.icon("file-text", size=16), rx.text(t("thread.send_template"))),
            on_click=ConversationState.open_templates,
            data_testid="compose-template",
        ),
        variant="ghost",
    )


def _icon_menu(
    icon: str, label: str, testid: str, *items, variant: str, color_scheme: str = "gray", **props
) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon(icon, size=18),
                variant=variant,
                color_scheme=color_scheme,
                type="button",
                aria_label=label,
                data_testid=testid,
            )
        ),
        rx.menu.content(*items),
        **props,
    )


def _input(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(t(label), as_="label", size="2", weight="medium", html_for=f"compose-{name}"),
        rx.input(name=name, id=f"compose-{name}", width="100%", **props),
        spacing="1",
        width="100%",
    )


def _dialog_fields(name: str) -> list[rx.Component]:
    if name == "location":
        return [
            rx.hstack(
                _input("thread.latitude", "latitude", required=True, placeholder="-23.5614"),
                _input("thread.longitude", "longitude", required=True, placeholder="-46.6559"),
                width="100%",
            ),
            _input("thread.place_name", "name", max_length=200),
            _input("thread.address", "address", max_length=500),
        ]
    if name == "contact":
        return [
            _input("thread.contact_name", "name", required=True, max_length=200),
            _input("thread.contact_phone", "phone", max_length=40, placeholder="+55 11 91234-5678"),
            _input("thread.contact_email", "email", type="email", max_length=200),
        ]
    if name == "buttons":
        return [
            _input("thread.body", "body", required=True, max_length=1024),
            *[
                _input("thread.button_title", f"button{n}", max_length=20, required=n == 1)
                for n in (1, 2, 3)
            ],
            _input("thread.footer", "footer", max_length=60),
        ]
    return [
        _input("thread.body", "body", required=True, max_length=4096),
        _input("thread.list_button", "button", required=True, max_length=20),
        rx.vstack(
            rx.text(
                t("thread.list_rows"),
                as_="label",
                size="2",
                weight="medium",
                html_for="compose-rows",
            ),
            rx.text_area(name="rows", id="compose-rows", required=True, rows="6", width="100%"),
            rx.text(t("thread.list_rows_hint"), size="1", color=rx.color("gray", 10)),
            spacing="1",
            width="100%",
        ),
    ]


def _dialog_problem() -> rx.Component:
    return error_callout(ConversationState.problem, size="1", margin_bottom="12px")


def _dialog_buttons(send: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.dialog.close(
            rx.button(t("thread.cancel"), variant="soft", color_scheme="gray", type="button")
        ),
        send,
        justify="end",
        width="100%",
    )


def _dialogs() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.match(
                    ConversationState.dialog,
                    ("location", t("thread.send_location")),
                    ("contact", t("thread.send_contact")),
                    ("buttons", t("thread.send_buttons")),
                    t("thread.send_list"),
                )
            ),
            _dialog_problem(),
            rx.form(
                rx.vstack(
                    rx.match(
                        ConversationState.dialog,
                        *[
                            (name, rx.vstack(*_dialog_fields(name), width="100%"))
                            for name in ("location", "contact", "buttons")
                        ],
                        rx.vstack(*_dialog_fields("list"), width="100%"),
                    ),
                    _dialog_buttons(
                        rx.button(t("thread.send"), type="submit", data_testid="dialog-send")
                    ),
                    spacing="3",
                ),
                on_submit=ConversationState.send_structured,
                reset_on_submit=False,
            ),
            max_width="480px",
        ),
        open=ConversationState.dialog != "",
        on_open_change=ConversationState.close_dialog,
    )


def _template_option(choice: rx.Var) -> rx.Component:
    return rx.select.item(
        rx.cond(
            choice["sendable"].to(bool),
            choice["name"].to(str) + " · " + choice["language"].to(str),
            choice["name"].to(str)
            + " · "
            + choice["language"].to(str)
            + " ("
            + SessionState.tr["templates.status_" + choice["status"].to(str)].to(str)
            + ")",
        ),
        value=choice["value"].to(str),
        disabled=~choice["sendable"].to(bool),
    )


def _header_file(link: rx.Component) -> rx.Component:
    """A media header's link, or a file from the agent's computer sent along instead."""
    chosen = ConversationState.template_file != ""
    return rx.hstack(
        rx.cond(
            chosen,
            rx.badge(
                rx.icon("paperclip", size=12),
                ConversationState.template_file,
                rx.icon(
                    "x", size=12, cursor="pointer", on_click=ConversationState.clear_template_file
                ),
                size="2",
                data_testid="template-file",
            ),
            link,
        ),
        uploads.one_file(
            uploads.choose_button(t("thread.template_upload"), "template-upload"),
            TEMPLATE_UPLOAD_ID,
            ConversationState.attach_template_file,
        ),
        width="100%",
        align="center",
    )


def _template_field(field: rx.Var) -> rx.Component:
    """One value to fill: a text, a link, a code, a place, when an offer ends, products."""
    kind, key = field["kind"].to(str), field["key"].to(str)
    common = {
        "value": ConversationState.template_values[key].to(str),
        "on_change": lambda value: ConversationState.set_template_value(key, value),
        "max_length": 1024,
        "width": "100%",
        "data_testid": "template-value",
    }
    return rx.vstack(
        rx.text(
            rx.cond(  # a carousel card's value
                field["card"].to(int) > 0,
                rx.badge(
                    t("templates.card"), " ", field["card"].to(str), size="1", margin_right="6px"
                ),
            ),
            rx.cond(  # a variable by its own name; a part WhatsApp names (a place, a code…)
                kind == "text",
                rx.fragment(t("thread.template_field_text"), " ", rx.code(field["label"])),
                SessionState.tr["thread.template_label_" + field["label"].to(str)].to(str),
            ),
            rx.cond(
                field["optional"].to(bool),
                rx.text.span(" · ", t("templates.optional"), color=rx.color("gray", 10)),
            ),
            size="2",
            weight="medium",
        ),
        rx.match(
            kind,
            ("products", rx.text_area(rows="3", placeholder=t("thread.products_hint"), **common)),
            ("expiry", rx.input(type="datetime-local", **common)),
            (
                "link",
                rx.cond(
                    field["card"].to(int) == 0, _header_file(rx.input(**common)), rx.input(**common)
                ),
            ),
            rx.input(**common),
        ),
        spacing="1",
        width="100%",
    )


def _template_dialog() -> rx.Component:
    """Pick an approved template, fill its variables, see what the customer will read."""
    fields = ConversationState.template_fields
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("thread.send_template")),
            _dialog_problem(),
            rx.cond(
                ConversationState.template_choices.length() == 0,
                rx.text(t("thread.no_templates"), size="2", color=rx.color("gray", 11)),
                rx.vstack(
                    rx.select.root(
                        rx.select.trigger(
                            placeholder=t("thread.choose_template"),
                            width="100%",
                            data_testid="template-select",
                        ),
                        rx.select.content(
                            rx.foreach(ConversationState.template_choices, _template_option)
                        ),
                        value=ConversationState.template_value,
                        on_change=ConversationState.pick_template,
                    ),
                    rx.foreach(fields, _template_field),
                    rx.cond(
                        ConversationState.template_preview != "",
                        rx.box(
                            rx.text(
                                ConversationState.template_preview,
                                size="2",
                                white_space="pre-wrap",
                            ),
                            background=rx.color("accent", 3),
                            border=f"1px solid {rx.color('gray', 4)}",
                            border_radius="10px",
                            padding="8px 12px",
                            align_self="end",
                            max_width="90%",
                            data_testid="template-preview",
                        ),
                    ),
                    _dialog_buttons(
                        rx.button(
                            t("thread.send"),
                            on_click=ConversationState.send_template,
                            disabled=ConversationState.template_id == 0,
                            loading=ConversationState.sending,
                            data_testid="template-send",
                        )
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            max_width="520px",
        ),
        open=ConversationState.template_open,
        on_open_change=ConversationState.close_templates,
    )


def _attach_button() -> rx.Component:
    button = rx.icon_button(
        rx.icon("paperclip", size=18),
        variant="ghost",
        color_scheme="gray",
        type="button",
        aria_label="attach",
    )
    return uploads.one_file(button, UPLOAD_ID, ConversationState.attach)


def _fact(label: str, value: rx.Var) -> rx.Component:
    return rx.cond(
        value != "",
        rx.vstack(
            rx.text(t(label), size="1", color=rx.color("gray", 10)),
            rx.text(value, size="2", word_break="break-all"),
            spacing="0",
        ),
    )


def _panel_section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(t(title), size="1", weight="bold", color=rx.color("gray", 11)),
        *children,
        spacing="2",
        width="100%",
        padding_top="12px",
        border_top=f"1px solid {rx.color('gray', 4)}",
    )


def _bot_section() -> rx.Component:
    found = ConversationState.bot
    return _panel_section(
        "flows.panel.title",
        rx.hstack(
            rx.icon("bot", size=14),
            rx.text(found["flow"].to(str) + " · v" + found["version"].to(str), size="2"),
            rx.spacer(),
            rx.cond(
                found["active"].to(bool),
                rx.badge(t("flows.panel.running"), color_scheme="green"),
                rx.badge(SessionState.tr["flows.reason." + found["reason"].to(str)].to(str)),
            ),
            width="100%",
            align="center",
        ),
        rx.foreach(
            found["answers"].to(list[dict]),
            lambda item: rx.hstack(
                rx.text(item["name"], size="2", weight="medium", min_width="80px"),
                rx.text(item["value"], size="2", flex="1", word_break="break-word"),
                width="100%",
                data_testid="bot-answer",
            ),
        ),
        rx.vstack(
            rx.foreach(
                found["trail"].to(list[dict]),
                lambda entry: rx.text(
                    SessionState.tr["flows.trail." + entry["kind"].to(str)].to(str)
                    + " "
                    + entry["note"].to(str)
                    + rx.cond(entry["text"].to(str) != "", " — " + entry["text"].to(str), ""),
                    size="1",
                    color=rx.color("gray", 11),
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def _contact_panel() -> rx.Component:
    contact = ConversationState.contact
    return rx.vstack(
        rx.hstack(
            rx.heading(t("contact.panel_title"), size="3"),
            rx.spacer(),
            rx.icon_button(
                rx.icon("x", size=16),
                variant="ghost",
                color_scheme="gray",
                on_click=ConversationState.toggle_panel,
                aria_label="close",
            ),
            width="100%",
            align="center",
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="name",
                    default_value=contact["name"].to(str),
                    key=contact["name"].to(str),
                    max_length=120,
                    size="2",
                    flex="1",
                    aria_label="name",
                    data_testid="contact-name-input",
                ),
                rx.button(t("contact.save"), size="2", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=ConversationState.rename_contact,
            reset_on_submit=False,
            width="100%",
        ),
        _fact("contact.number", contact["number"].to(str)),
        _fact("contact.profile_name", contact["profile_name"].to(str)),
        _fact("contact.username", contact["username"].to(str)),
        _fact("contact.bsuid", contact["bsuid"].to(str)),
        _panel_section(
            "contact.attributes",
            rx.foreach(
                contact["attributes"].to(list[dict]),
                lambda item: rx.hstack(
                    rx.text(item["key"], size="2", weight="medium", min_width="80px"),
                    rx.text(item["value"], size="2", flex="1", word_break="break-word"),
                    rx.icon_button(
                        rx.icon("trash-2", size=12),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=ConversationState.remove_attribute(item["key"].to(str)),
                        aria_label="remove",
                    ),
                    width="100%",
                    align="center",
                    data_testid="attribute",
                ),
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="key",
                        placeholder=t("contact.attribute_key"),
                        max_length=40,
                        size="1",
                        width="40%",
                        required=True,
                    ),
                    rx.input(
                        name="value",
                        placeholder=t("contact.attribute_value"),
                        max_length=500,
                        size="1",
                        flex="1",
                        required=True,
                    ),
                    rx.icon_button(
                        rx.icon("plus", size=14), size="1", type="submit", aria_label="add"
                    ),
                    width="100%",
                ),
                on_submit=ConversationState.set_attribute,
                reset_on_submit=True,
                width="100%",
                data_testid="attribute-form",
            ),
        ),
        rx.cond(ConversationState.bot.contains("flow"), _bot_section()),
        _panel_section(
            "contact.history",
            rx.foreach(
                contact["history"].to(list[dict]),
                lambda item: rx.link(
                    rx.hstack(
                        rx.badge(
                            SessionState.tr["status." + item["status"].to(str)].to(str),
                            variant=rx.cond(item["current"].to(bool), "solid", "soft"),
                            size="1",
                        ),
                        rx.moment(
                            item["at"].to(str),
                            format="lll",
                            locale=SessionState.moment_locale,
                            font_size="12px",
                        ),
                        spacing="2",
                        align="center",
                    ),
                    href="/inbox/" + item["id"].to(str),
                    underline="none",
                    color="inherit",
                ),
            ),
        ),
        _panel_section(
            "contact.media",
            rx.cond(
                contact["media"].to(list).length() == 0,
                rx.text(t("contact.no_media"), size="1", color=rx.color("gray", 10)),
            ),
            rx.grid(
                rx.foreach(
                    contact["media"].to(list[dict]),
                    lambda item: rx.link(
                        rx.cond(
                            (item["kind"].to(str) == "image") | (item["kind"].to(str) == "sticker"),
                            rx.image(
                                src=item["url"].to(str),
                                width="100%",
                                height="72px",
                                object_fit="cover",
                                border_radius="6px",
                            ),
                            rx.center(
                                rx.icon("file", size=18),
                                rx.text(item["name"], size="1", trim="both", max_width="100%"),
                                direction="column",
                                height="72px",
                                background=rx.color("gray", 3),
                                border_radius="6px",
                                padding="4px",
                                overflow="hidden",
                            ),
                        ),
                        href=item["url"].to(str),
                        is_external=True,
                    ),
                ),
                columns="3",
                spacing="2",
                width="100%",
            ),
        ),
        spacing="3",
        width=["100%", "360px", "300px"],
        flex_shrink="0",
        padding="16px",
        background=rx.color("gray", 1),
        border_left=f"1px solid {rx.color('gray', 4)}",
        position=["fixed", "fixed", "static"],
        right="0",
        top="0",
        height=["100vh", "100vh", "auto"],
        max_height=["100vh", "100vh", "calc(100vh - 120px)"],
        overflow_y="auto",
        z_index="20",
        data_testid="contact-panel",
    )


def _quick_reply_picker() -> rx.Component:
    """Matches for "/word": click one, or ↑/↓ and Enter (assets/pytake.js); Esc closes."""
    return rx.vstack(
        rx.foreach(
            ConversationState.quick_matches,
            lambda reply: rx.box(
                rx.hstack(
                    rx.code("/" + reply["shortcut"].to(str)),
                    rx.cond(
                        reply["team"].to(str) != "",
                        rx.badge(reply["team"], variant="outline", size="1"),
                    ),
                    align="center",
                    spacing="2",
                ),
                rx.text(reply["body"], size="1", color=rx.color("gray", 11), trim="both"),
                on_click=ConversationState.use_quick_reply(reply["id"].to(int)),
                padding="6px 10px",
                border_radius="6px",
                cursor="pointer",
                width="100%",
                _hover={"background": rx.color("accent", 3)},
                custom_attrs={"role": "option"},
                class_name="quick-reply",
                data_testid="quick-reply",
            ),
        ),
        spacing="0",
        width="100%",
        max_height="240px",
        overflow_y="auto",
        padding="4px",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        background=rx.color("gray", 1),
        custom_attrs={"role": "listbox"},
        data_testid="quick-replies",
    )


def _mention_menu() -> rx.Component:
    return _icon_menu(
        "at-sign",
        "mention",
        "mention-menu",
        rx.foreach(
            ConversationState.members,
            lambda member: rx.menu.item(
                member["name"], on_click=ConversationState.mention(member["name"].to(str))
            ),
        ),
        variant="ghost",
        color_scheme="amber",
        on_open_change=ConversationState.load_members,
    )


def _composer() -> rx.Component:
    open_window = ConversationState.info["window_open"].to(bool)
    note = ConversationState.note_mode
    return rx.vstack(
        rx.segmented_control.root(
            rx.segmented_control.item(t("thread.mode_reply"), value="reply"),
            rx.segmented_control.item(t("thread.mode_note"), value="note"),
            value=rx.cond(note, "note", "reply"),
            on_change=lambda mode: ConversationState.set_note_mode(mode == "note"),
            size="1",
            data_testid="composer-mode",
        ),
        rx.cond(
            ConversationState.reply_to > 0,
            rx.hstack(
                rx.box(
                    rx.text(ConversationState.reply_preview, size="1", trim="both"),
                    border_left=f"3px solid {rx.color('accent', 9)}",
                    padding_left="8px",
                    flex="1",
                ),
                rx.icon_button(
                    rx.icon("x", size=14),
                    size="1",
                    variant="ghost",
                    on_click=ConversationState.cancel_reply,
                    aria_label="cancel reply",
                ),
                width="100%",
                align="center",
            ),
        ),
        error_callout(ConversationState.problem, size="1", data_testid="composer-problem"),
        rx.cond(ConversationState.quick_matches.length() > 0, _quick_reply_picker()),
        rx.cond(
            open_window | note,
            rx.form(
                rx.hstack(
                    rx.cond(
                        note,
                        rx.hstack(_mention_menu(), align="center", height="44px"),
                        rx.hstack(
                            _more_menu(),
                            _attach_button(),
                            spacing="1",
                            align="center",
                            height="44px",
                        ),
                    ),
                    rx.upload.root(
                        rx.box(),
                        id=VOICE_UPLOAD_ID,
                        max_files=1,
                        multiple=False,
                        no_click=True,
                        no_drag=True,
                        on_drop=ConversationState.attach_voice(
                            rx.upload_files(upload_id=VOICE_UPLOAD_ID)
                        ),
                        display="none",
                    ),
                    rx.cond(
                        ConversationState.recording,
                        rx.hstack(
                            rx.box(
                                width="10px",
                                height="10px",
                                border_radius="50%",
                                background=rx.color("red", 9),
                            ),
                            rx.text(t("thread.recording"), size="2"),
                            rx.spacer(),
                            rx.button(
                                t("thread.cancel"),
                                variant="soft",
                                color_scheme="gray",
                                type="button",
                                on_click=ConversationState.stop_recording(False),
                            ),
                            rx.button(
                                rx.icon("send-horizontal", size=16),
                                t("thread.send_voice"),
                                type="button",
                                on_click=ConversationState.stop_recording(True),
                                data_testid="voice-send",
                            ),
                            align="center",
                            flex="1",
                            min_height="44px",
                            data_testid="recording",
                        ),
                    ),
                    rx.text_area(
                        value=ConversationState.draft,
                        on_change=ConversationState.set_draft,
                        placeholder=rx.cond(note, t("thread.type_note"), t("thread.type_message")),
                        background=rx.cond(note, rx.color("amber", 2), "transparent"),
                        enter_key_submit=True,
                        auto_height=True,
                        rows="1",
                        min_height="44px",
                        max_height="180px",
                        resize="none",
                        max_length=4096,
                        flex="1",
                        size="3",
                        id="composer-input",
                        name="draft",
                        display=rx.cond(ConversationState.recording, "none", "flex"),
                        data_testid="composer",
                    ),
                    rx.cond(
                        (ConversationState.draft == "") & ~ConversationState.recording & ~note,
                        rx.icon_button(
                            rx.icon("mic", size=18),
                            type="button",
                            size="3",
                            variant="soft",
                            on_click=ConversationState.start_recording,
                            aria_label="record a voice note",
                            data_testid="record",
                        ),
                    ),
                    rx.cond(
                        ConversationState.draft != "",
                        rx.icon_button(
                            rx.icon("send-horizontal", size=18),
                            type="submit",
                            size="3",
                            loading=ConversationState.sending,
                            data_testid="send",
                            aria_label="send",
                        ),
                    ),
                    align="end",
                    width="100%",
                    spacing="2",
                ),
                on_submit=ConversationState.send,
                reset_on_submit=False,
                width="100%",
            ),
            rx.callout.root(
                rx.callout.icon(rx.icon("lock", size=16)),
                rx.callout.text(t("thread.window_closed")),
                rx.hstack(
                    rx.button(
                        rx.icon("file-text", size=14),
                        t("thread.send_template"),
                        size="1",
                        type="button",
                        on_click=ConversationState.open_templates,
                        data_testid="template-instead",
                    ),
                    rx.button(
                        rx.icon("sticky-note", size=14),
                        t("thread.write_note_instead"),
                        variant="soft",
                        color_scheme="amber",
                        size="1",
                        type="button",
                        on_click=ConversationState.set_note_mode(True),
                        data_testid="note-instead",
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="composer-closed",
            ),
        ),
        _dialogs(),
        _template_dialog(),
        width="100%",
        spacing="2",
        padding_top="12px",
        border_top=f"1px solid {rx.color('gray', 4)}",
    )


def conversation_page() -> rx.Component:
    return shell(
        "nav.conversation",
        rx.cond(
            ConversationState.info.contains("id"),
            rx.hstack(
                _thread_column(),
                rx.cond(ConversationState.panel_open, _contact_panel()),
                spacing="4",
                width="100%",
                align="start",
            ),
            rx.cond(
                ConversationState.problem != "",
                rx.callout(
                    ConversationState.problem,
                    icon="circle-alert",
                    color_scheme="gray",
                    data_testid="conversation-problem",
                ),
                rx.center(rx.spinner(size="3"), padding="48px"),
            ),
        ),
    )


def _thread_column() -> rx.Component:
    return rx.vstack(
        _header(),
        rx.cond(
            ConversationState.info["token_invalid"].to(bool),
            rx.callout(
                t("thread.token_invalid"),
                data_testid="token-invalid",
                icon="key-round",
                color_scheme="red",
                size="1",
                width="100%",
            ),
        ),
        rx.auto_scroll(
            rx.vstack(
                rx.cond(
                    ConversationState.has_older,
                    rx.center(
                        rx.button(
                            t("thread.load_older"),
                            variant="ghost",
                            size="1",
                            on_click=ConversationState.load_older,
                            data_testid="load-older",
                        ),
                        width="100%",
                    ),
                ),
                rx.foreach(ConversationState.messages, _bubble),
                spacing="2",
                width="100%",
                padding="8px 4px 16px",
            ),
            height="calc(100vh - 290px)",
            min_height="240px",
            width="100%",
            data_testid="thread",
        ),
        _composer(),
        width="100%",
        min_width="0",
        spacing="0",
    )
