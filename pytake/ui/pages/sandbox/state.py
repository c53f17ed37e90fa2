"""The phone page's state: the numbers and customers to play, the chat on screen, what
the customer sends, and the scenarios that make the Graph API stand-in misbehave."""

from __future__ import annotations

import base64

import reflex as rx

from pytake import phones
from pytake.auth.errors import AccessError
from pytake.channels.whatsapp import numbers as phone_numbers
from pytake.models import Role
from pytake.realtime import push
from pytake.sandbox import live, screen
from pytake.sandbox import payloads as p
from pytake.sandbox.graph_rules import canonical_wa_id
from pytake.services import sandbox as sandbox_numbers
from pytake.ui.forms import form_text
from pytake.ui.guard import GuardedState, access
from pytake.ui.pages.conversation.state import kind_of
from pytake.ui.session import in_transaction, translated

MAX_FILE = 16 * 1024 * 1024  # what the simulator keeps in memory for one file
INLINE_PICTURE_BYTES = 512 * 1024
REACTIONS = ("👍", "❤️", "😂", "🙏")
SCENARIO_ERRORS = tuple(str(code) for code in live.SCENARIO_ERRORS)


@access(min_role=Role.ADMIN)
class PhoneState(GuardedState):
    numbers: list[dict] = []
    number_id: str = ""
    business: str = ""
    customers: list[dict] = []
    wa_id: str = ""
    customer_name: str = ""
    lines: list[dict] = []
    draft: str = ""
    replying_to: str = ""
    replying_text: str = ""
    problem: str = ""
    fail_code: str = "131047"
    webhook_delay: str = "0"
    duplicate: bool = False
    out_of_order: bool = False
    pending_failures: int = 0

    @rx.event
    async def load(self):
        identity = self._identity()
        sandbox = await sandbox_numbers.ready()
        found = [
            n for n in sandbox.numbers.values() if n.organization_id == identity.organization_id
        ]
        self.numbers = [{"id": n.phone_number_id, "label": n.display_number} for n in found]
        if self.number_id not in {n["id"] for n in self.numbers}:
            self.number_id = self.numbers[0]["id"] if self.numbers else ""
            self.wa_id = ""
        await push.watch(
            self.router.session.client_token,
            (push.SANDBOX, identity.organization_id),
            identity.organization_id,
            identity.user_id,
        )
        await self._show(sandbox)

    @rx.event
    async def on_changed(self):
        push.begun(self.router.session.client_token, push.SANDBOX)
        await self._show(await sandbox_numbers.ready())

    async def _number(self, sandbox: live.Sandbox) -> live.Number | None:
        if not self.number_id:
            return None
        try:
            return sandbox_numbers.number_of(self._identity(), sandbox, self.number_id)
        except AccessError as refusal:
            self.problem = await translated(self, refusal)
            return None

    async def _show(self, sandbox: live.Sandbox) -> None:
        """The chat on screen, read by the customer as it shows."""
        number = await self._number(sandbox)
        if number is None:
            self.customers, self.lines, self.business = [], [], ""
            return
        self.business = number.display_number
        known = await in_transaction(
            sandbox_numbers.known_customers, self._identity(), number.phone_number_id
        )
        known.update({k: v for k, v in sandbox.customers(number).items() if v or k not in known})
        self.customers = [
            {"wa_id": wa_id, "label": " · ".join(filter(None, (name, phones.for_people(wa_id))))}
            for wa_id, name in sorted(known.items(), key=lambda item: item[1] or item[0])
        ]
        if self.wa_id and self.wa_id not in known:
            known[self.wa_id] = self.customer_name
        if not self.wa_id and self.customers:
            self.wa_id = self.customers[0]["wa_id"]
        self.customer_name = known.get(self.wa_id, self.customer_name)
        scenario = sandbox.scenario(number)
        self.pending_failures = len(scenario.failures)
        self.webhook_delay = f"{scenario.webhook_delay:g}"
        self.duplicate, self.out_of_order = (
            scenario.duplicate_webhooks,
            scenario.statuses_out_of_order,
        )
        if not self.wa_id:
            self.lines = []
            return
        sandbox.read(number, self.wa_id)

        def template(name: str, language: str) -> dict | None:
            return sandbox.sim.find_template(number.waba_id, name, language)

        self.lines = [
            _picture(sandbox, line)
            for line in screen.lines(sandbox.conversation(number, self.wa_id), template)
        ]

    @rx.event
    async def choose_number(self, number_id: str):
        self.number_id, self.wa_id, self.replying_to = str(number_id), "", ""
        await self._show(await sandbox_numbers.ready())

    @rx.event
    async def choose_customer(self, wa_id: str):
        self.wa_id, self.replying_to = str(wa_id), ""
        await self._show(await sandbox_numbers.ready())

    @rx.event
    async def new_customer(self, form: dict):
        """Another customer: a phone number (WhatsApp id) and a profile name."""
        number = phone_numbers.normalize(form_text(form, "phone", 40))
        name = " ".join(form_text(form, "name", 80).split())
        if not number or not 8 <= len(number) <= 15:
            self.problem = await translated(self, "sandbox.bad_phone")
            return
        self.problem = ""
        # As WhatsApp knows them: a Brazilian mobile's wa_id has no ninth digit.
        self.wa_id, self.customer_name, self.replying_to = canonical_wa_id(number), name, ""
        await self._show(await sandbox_numbers.ready())

    @rx.event
    def set_draft(self, value: str):
        self.draft = str(value)[:4096]

    @rx.event
    def reply_to(self, wamid: str, text: str):
        self.replying_to, self.replying_text = str(wamid), str(text)[:120]

    @rx.event
    def cancel_reply(self):
        self.replying_to = ""

    async def _send(self, build, *args, **kwargs) -> None:
        """The customer sends what ``build`` makes (a payloads builder), quoting the message
        being replied to."""
        sandbox = await sandbox_numbers.ready()
        number = await self._number(sandbox)
        if number is None or not self.wa_id:
            self.problem = await translated(self, "sandbox.pick_customer")
            return
        context = {"context": p.reply_context(self.replying_to, number.display_number)}
        message = build(*args, sender=self.wa_id, **(context if self.replying_to else {}), **kwargs)
        sandbox.customer_sends(number, self.wa_id, self.customer_name or self.wa_id, message)
        self.problem, self.replying_to = "", ""
        await self._show(sandbox)

    @rx.event
    async def send_text(self, form: dict):
        text = form_text(form, "text", 4096).strip() or self.draft.strip()
        if not text:
            return
        self.draft = ""
        await self._send(p.text, text)

    @rx.event
    async def react(self, wamid: str, emoji: str):
        if emoji not in REACTIONS:
            return
        self.replying_to = ""
        await self._send(p.reaction, str(wamid), emoji)

    @rx.event
    async def tap(self, wamid: str, tap: str, reply_id: str, title: str):
        """A reply button, a list row or a template's quick reply, as WhatsApp sends it."""
        self.replying_to = str(wamid)  # taps quote the message they answer
        reply_id, title = str(reply_id)[:256], str(title)[:256]
        if tap == "reply":
            await self._send(p.button_reply, reply_id, title)
        elif tap == "row":
            await self._send(p.list_reply, reply_id, title)
        elif tap == "template":
            await self._send(p.template_button, reply_id, title)
        else:
            self.replying_to = ""

    @rx.event
    async def send_location(self, form: dict):
        try:
            latitude = float(form_text(form, "latitude", 20).replace(",", "."))
            longitude = float(form_text(form, "longitude", 20).replace(",", "."))
        except ValueError:
            latitude = longitude = 999.0
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            self.problem = await translated(self, "sandbox.bad_location")
            return
        name = form_text(form, "place", 200).strip() or None
        await self._send(p.location, latitude, longitude, name=name)

    @rx.event
    async def send_contact(self, form: dict):
        name = " ".join(form_text(form, "contact_name", 120).split())
        phone = phone_numbers.normalize(form_text(form, "contact_phone", 40))
        if not name or not phone:
            self.problem = await translated(self, "sandbox.bad_contact")
            return
        card_ = {
            "name": {"formatted_name": name, "first_name": name.split()[0]},
            "phones": [{"phone": "+" + phone, "wa_id": phone, "type": "CELL"}],
        }
        await self._send(p.contacts, [card_])

    @rx.event
    async def send_file(self, files: list[rx.UploadFile]):
        await self._file(files, voice=False)

    @rx.event
    async def send_voice(self, files: list[rx.UploadFile]):
        await self._file(files, voice=True)

    async def _file(self, files: list[rx.UploadFile], *, voice: bool) -> None:
        if not files:
            return
        upload = files[0]
        content = await upload.read(MAX_FILE + 1)
        if len(content) > MAX_FILE:
            self.problem = await translated(self, "send.file_too_large", limit_mb=16)
            return
        mime = (upload.content_type or "application/octet-stream").split(";")[0].lower()
        kind = "audio" if voice else kind_of(mime)
        if voice and not mime.startswith("audio/"):
            self.problem = await translated(self, "sandbox.not_audio")
            return
        sandbox = await sandbox_numbers.ready()
        media_id = sandbox.add_media(content, mime)
        caption = self.draft.strip() or None
        if kind == "image":
            await self._send(p.image, media_id, mime_type=mime, caption=caption)
        elif kind == "video":
            await self._send(p.video, media_id, mime_type=mime, caption=caption)
        elif kind == "audio":
            await self._send(p.audio, media_id, voice=voice, mime_type=mime)
        elif kind == "sticker":
            await self._send(p.sticker, media_id)
        else:
            filename = (upload.name or "file").rsplit("/", 1)[-1][:200]
            await self._send(p.document, media_id, filename, mime_type=mime, caption=caption)
        if caption and kind in ("image", "video", "document"):
            self.draft = ""

    # Scenario controls --------------------------------------------------------------------------

    @rx.event
    def set_fail_code(self, value: str):
        self.fail_code = value if value in SCENARIO_ERRORS else SCENARIO_ERRORS[0]

    @rx.event
    async def fail_next(self):
        sandbox = await sandbox_numbers.ready()
        number = await self._number(sandbox)
        if self.fail_code in SCENARIO_ERRORS and number is not None:
            sandbox.fail_next(number, int(self.fail_code))
            self.pending_failures = len(sandbox.scenario(number).failures)
            return rx.toast.info(
                await translated(self, "sandbox.failure_armed", code=self.fail_code)
            )
        return None

    @rx.event
    async def time_out_next(self):
        sandbox = await sandbox_numbers.ready()
        number = await self._number(sandbox)
        if number is not None:
            sandbox.time_out_next(number)
            return rx.toast.info(await translated(self, "sandbox.timeout_armed"))
        return None

    @rx.event
    async def set_webhook_delay(self, value: str):
        try:
            seconds = min(max(float(str(value).replace(",", ".")), 0.0), 30.0)
        except ValueError:
            seconds = 0.0
        sandbox = await sandbox_numbers.ready()
        number = await self._number(sandbox)
        if number is not None:
            sandbox.scenario(number).webhook_delay = seconds
            self.webhook_delay = f"{seconds:g}"

    @rx.event
    async def set_duplicate(self, value: bool):
        sandbox = await sandbox_numbers.ready()
        number = await self._number(sandbox)
        if number is not None:
            self.duplicate = sandbox.scenario(number).duplicate_webhooks = value is True

    @rx.event
    async def set_out_of_order(self, value: bool):
        sandbox = await sandbox_numbers.ready()
        number = await self._number(sandbox)
        if number is not None:
            self.out_of_order = sandbox.scenario(number).statuses_out_of_order = value is True


def _picture(sandbox: live.Sandbox, line: dict) -> dict:
    """Pictures the simulator holds are drawn inline (small ones: they travel in the state)."""
    if line["kind"] in screen.PICTURES and line["media_id"] and not line["src"]:
        found = sandbox.sim.media(line["media_id"])
        if found is not None and len(found.content) <= INLINE_PICTURE_BYTES:
            encoded = base64.b64encode(found.content).decode()
            line["src"] = f"data:{found.mime_type};base64,{encoded}"
    return line
