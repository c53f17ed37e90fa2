"""The customer phone page: play customers of a sandbox number and see what agents send.

Admins only. What the phone shows comes from this process's simulator (pytake.sandbox.live);
what the customer does goes to PyTake as Meta's signed webhooks. Opening a chat reads it,
which PyTake learns from a "read" status like any other.
"""

from __future__ import annotations

import base64

import reflex as rx

from pytake.auth.errors import AccessError
from pytake.channels.whatsapp import numbers as phone_numbers
from pytake.models import Role
from pytake.realtime import push
from pytake.sandbox import live, screen
from pytake.sandbox import payloads as p
from pytake.sandbox.graph import canonical_wa_id
from pytake.services import sandbox as sandbox_numbers
from pytake.ui import uploads
from pytake.ui.forms import error_callout, form_text
from pytake.ui.guard import GuardedState, access
from pytake.ui.layout import card, empty_state, shell
from pytake.ui.pages.conversation.state import kind_of
from pytake.ui.pages.settings.frame import labelled
from pytake.ui.session import SessionState, in_transaction, t, translated

PHONE_UPLOAD_ID = "sandbox-phone-upload"
VOICE_UPLOAD_ID = "sandbox-voice-upload"
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
            {"wa_id": wa_id, "label": f"{name} · +{wa_id}" if name else f"+{wa_id}"}
            for wa_id, name in sorted(known.items(), key=lambda item: item[1] or item[0])
        ]
        if self.wa_id and self.wa_id not in known:
            known[self.wa_id] = self.customer_name
        if not self.wa_id and self.customers:
            self.wa_id = self.customers[0]["wa_id"]
        self.customer_name = known.get(self.wa_id, self.customer_name)
        self.pending_failures = len(sandbox.scenario.failures)
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
        if self.fail_code in SCENARIO_ERRORS and await self._number(sandbox) is not None:
            sandbox.fail_next(int(self.fail_code))
            self.pending_failures = len(sandbox.scenario.failures)
            return rx.toast.info(
                await translated(self, "sandbox.failure_armed", code=self.fail_code)
            )
        return None

    @rx.event
    async def time_out_next(self):
        sandbox = await sandbox_numbers.ready()
        if await self._number(sandbox) is not None:
            sandbox.time_out_next()
            return rx.toast.info(await translated(self, "sandbox.timeout_armed"))
        return None

    @rx.event
    async def set_webhook_delay(self, value: str):
        try:
            seconds = min(max(float(str(value).replace(",", ".")), 0.0), 30.0)
        except ValueError:
            seconds = 0.0
        sandbox = await sandbox_numbers.ready()
        if await self._number(sandbox) is not None:
            sandbox.scenario.webhook_delay = seconds
            self.webhook_delay = f"{seconds:g}"

    @rx.event
    async def set_duplicate(self, value: bool):
        sandbox = await sandbox_numbers.ready()
        if await self._number(sandbox) is not None:
            self.duplicate = sandbox.scenario.duplicate_webhooks = value is True

    @rx.event
    async def set_out_of_order(self, value: bool):
        sandbox = await sandbox_numbers.ready()
        if await self._number(sandbox) is not None:
            self.out_of_order = sandbox.scenario.statuses_out_of_order = value is True


def _picture(sandbox: live.Sandbox, line: dict) -> dict:
    """Pictures the simulator holds are drawn inline (small ones: they travel in the state)."""
    if line["kind"] in screen.PICTURES and line["media_id"] and not line["src"]:
        found = sandbox.sim.media(line["media_id"])
        if found is not None and len(found.content) <= INLINE_PICTURE_BYTES:
            encoded = base64.b64encode(found.content).decode()
            line["src"] = f"data:{found.mime_type};base64,{encoded}"
    return line


# The phone --------------------------------------------------------------------------------------

KIND_ICONS = {
    "image": "image",
    "video": "video",
    "audio": "headphones",
    "voice": "mic",
    "document": "file-text",
    "sticker": "sticker",
    "location": "map-pin",
    "contacts": "contact",
}


def _media(line: rx.Var) -> rx.Component:
    """A chip naming the kind of file (or place, or card) and its name."""
    kind = line["kind"].to(str)

    def chip(icon: str) -> rx.Component:
        return rx.hstack(
            rx.icon(icon, size=16),
            rx.text(SessionState.tr["sandbox.kind." + kind], size="2", weight="medium"),
            rx.text(line["media"].to(str), size="1", color=rx.color("gray", 11)),
            spacing="2",
            align="center",
            padding="6px 8px",
            background="rgba(0,0,0,0.05)",
            border_radius="6px",
            wrap="wrap",
        )

    chips = rx.match(
        kind, *[(name, chip(icon)) for name, icon in KIND_ICONS.items()], rx.fragment()
    )
    return rx.cond(
        line["src"].to(str) != "",
        rx.image(
            src=line["src"].to(str),
            max_width="240px",
            max_height="240px",
            border_radius="6px",
            data_testid="phone-picture",
        ),
        chips,
    )


def _tap_button(line: rx.Var, button: rx.Var) -> rx.Component:
    return rx.button(
        rx.cond(button["tap"].to(str) == "url", rx.icon("external-link", size=14), rx.fragment()),
        button["title"].to(str),
        on_click=PhoneState.tap(
            line["wamid"].to(str),
            button["tap"].to(str),
            button["id"].to(str),
            button["title"].to(str),
        ),
        variant="soft",
        size="2",
        width="100%",
        data_testid="phone-tap",
    )


def _status(line: rx.Var) -> rx.Component:
    status = line["status"].to(str)
    return rx.cond(
        status == "failed",
        rx.text(
            t("sandbox.not_delivered") + " · " + line["error"].to(str),
            size="1",
            color=rx.color("red", 11),
        ),
        rx.cond(
            status == "read",
            rx.text("✓✓", size="1", color="#53bdeb"),
            rx.cond(status == "delivered", rx.text("✓✓", size="1"), rx.text("✓", size="1")),
        ),
    )


def _bubble(line: rx.Var) -> rx.Component:
    mine = line["mine"].to(bool)
    text = line["text"].to(str)
    return rx.box(
        rx.vstack(
            rx.cond(
                line["quote"].to(str) != "",
                rx.text(
                    line["quote"].to(str),
                    size="1",
                    padding="4px 8px",
                    border_left=f"3px solid {rx.color('accent', 9)}",
                    background="rgba(0,0,0,0.05)",
                    border_radius="4px",
                    width="100%",
                ),
            ),
            rx.cond(
                line["header"].to(str) != "",
                rx.text(line["header"].to(str), weight="bold", size="2"),
            ),
            _media(line),
            rx.cond(
                text != "",
                rx.text(text, size="2", white_space="pre-wrap", data_testid="phone-text"),
            ),
            rx.cond(
                line["footer"].to(str) != "",
                rx.text(line["footer"].to(str), size="1", color=rx.color("gray", 10)),
            ),
            rx.hstack(
                rx.text(line["time"].to(str), size="1", color=rx.color("gray", 10)),
                rx.cond(mine, rx.fragment(), _status(line)),
                spacing="1",
                justify="end",
                width="100%",
                align="center",
            ),
            rx.foreach(line["buttons"].to(list[dict]), lambda button: _tap_button(line, button)),
            spacing="1",
            align="start",
        ),
        rx.cond(
            line["reaction"].to(str) != "",
            rx.box(
                line["reaction"].to(str),
                position="absolute",
                bottom="-12px",
                right="8px",
                background="white",
                border_radius="10px",
                padding="0 4px",
                box_shadow="0 1px 2px rgba(0,0,0,0.2)",
                font_size="13px",
            ),
        ),
        rx.hstack(
            *[
                rx.button(
                    emoji,
                    on_click=PhoneState.react(line["wamid"].to(str), emoji),
                    size="1",
                    variant="ghost",
                )
                for emoji in REACTIONS
            ],
            rx.icon_button(
                rx.icon("reply", size=14),
                on_click=PhoneState.reply_to(line["wamid"].to(str), text),
                size="1",
                variant="ghost",
                aria_label="reply",
            ),
            class_name="phone-actions",
            spacing="0",
            position="absolute",
            top="-14px",
            right="4px",
            background="white",
            border_radius="12px",
            box_shadow="0 1px 3px rgba(0,0,0,0.25)",
        ),
        position="relative",
        max_width="82%",
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        background=rx.cond(mine, "#d9fdd3", "white"),
        color="#111b21",
        padding="6px 9px",
        border_radius="8px",
        box_shadow="0 1px 0.5px rgba(11,20,26,0.13)",
        margin_bottom=rx.cond(line["reaction"].to(str) != "", "14px", "2px"),
        data_testid=rx.cond(mine, "phone-sent", "phone-received"),
        style={
            "& .phone-actions": {"display": "none"},
            "&:hover .phone-actions": {"display": "flex"},
        },
    )


def _upload_button(icon: str, upload_id: str, on_drop, label: str, accept=None) -> rx.Component:
    """One file from the phone (``on_drop`` receives it)."""
    button = rx.icon_button(
        rx.icon(icon, size=16), variant="ghost", type="button", aria_label=label
    )
    return uploads.one_file(button, upload_id, on_drop, accept=accept)


def _row_form(on_submit, icon: str, *fields: rx.Component) -> rx.Component:
    """Fields on one line, sent by the icon button at its end."""
    return rx.form(
        rx.hstack(
            *fields,
            rx.icon_button(rx.icon(icon, size=14), type="submit", variant="soft", aria_label=icon),
            width="100%",
        ),
        on_submit=on_submit,
        width="100%",
    )


def _composer() -> rx.Component:
    return rx.vstack(
        rx.cond(
            PhoneState.replying_to != "",
            rx.hstack(
                rx.text(PhoneState.replying_text, size="1", flex="1", color=rx.color("gray", 11)),
                rx.icon_button(
                    rx.icon("x", size=12),
                    on_click=PhoneState.cancel_reply,
                    size="1",
                    variant="ghost",
                ),
                width="100%",
                background="white",
                padding="4px 8px",
                border_radius="8px",
                border_left=f"3px solid {rx.color('accent', 9)}",
            ),
        ),
        rx.form(
            rx.hstack(
                _upload_button("paperclip", PHONE_UPLOAD_ID, PhoneState.send_file, "file"),
                _upload_button(
                    "mic", VOICE_UPLOAD_ID, PhoneState.send_voice, "voice", {"audio/*": []}
                ),
                rx.input(
                    name="text",
                    value=PhoneState.draft,
                    on_change=PhoneState.set_draft,
                    placeholder=t("sandbox.type_message"),
                    radius="full",
                    flex="1",
                    data_testid="phone-input",
                ),
                rx.icon_button(
                    rx.icon("send", size=16), type="submit", radius="full", data_testid="phone-send"
                ),
                align="center",
                spacing="2",
                width="100%",
            ),
            on_submit=PhoneState.send_text,
            reset_on_submit=True,
            width="100%",
        ),
        width="100%",
        spacing="1",
        padding="8px",
        background="#f0f2f5",
    )


def _phone() -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.center(
                    rx.icon("store", size=18, color="white"),
                    width="36px",
                    height="36px",
                    border_radius="50%",
                    background="rgba(255,255,255,0.2)",
                ),
                rx.vstack(
                    rx.text(PhoneState.business, weight="bold", size="2", color="white"),
                    rx.text(PhoneState.customer_name, size="1", color="rgba(255,255,255,0.8)"),
                    spacing="0",
                ),
                padding="10px 12px",
                width="100%",
                background="#008069",
                align="center",
            ),
            rx.vstack(
                rx.foreach(PhoneState.lines, _bubble),
                id="phone-thread",
                spacing="2",
                padding="16px 10px",
                width="100%",
                flex="1",
                overflow_y="auto",
                background="#efeae2",
            ),
            _composer(),
            spacing="0",
            height="100%",
        ),
        width="380px",
        max_width="100%",
        height="720px",
        border="10px solid #1f2c34",
        border_radius="36px",
        overflow="hidden",
        box_shadow="0 10px 30px rgba(0,0,0,0.25)",
        flex_shrink="0",
        data_testid="phone",
    )


def _who() -> rx.Component:
    return card(
        rx.vstack(
            labelled(
                "sandbox.number",
                rx.select.root(
                    rx.select.trigger(width="100%"),
                    rx.select.content(
                        rx.foreach(
                            PhoneState.numbers,
                            lambda n: rx.select.item(n["label"].to(str), value=n["id"].to(str)),
                        )
                    ),
                    value=PhoneState.number_id,
                    on_change=PhoneState.choose_number,
                ),
            ),
            labelled(
                "sandbox.customer",
                rx.select.root(
                    rx.select.trigger(placeholder=t("sandbox.no_customer"), width="100%"),
                    rx.select.content(
                        rx.foreach(
                            PhoneState.customers,
                            lambda c: rx.select.item(c["label"].to(str), value=c["wa_id"].to(str)),
                        )
                    ),
                    value=PhoneState.wa_id,
                    on_change=PhoneState.choose_customer,
                ),
            ),
            rx.form(
                rx.vstack(
                    rx.text(t("sandbox.new_customer"), size="2", weight="medium"),
                    rx.hstack(
                        rx.input(
                            name="name",
                            placeholder=t("sandbox.customer_name"),
                            flex="1",
                            data_testid="new-customer-name",
                        ),
                        rx.input(
                            name="phone",
                            placeholder="+55 11 91234 5678",
                            flex="1",
                            data_testid="new-customer-phone",
                        ),
                        rx.button(
                            rx.icon("user-plus", size=14),
                            type="submit",
                            variant="soft",
                            data_testid="new-customer",
                        ),
                        width="100%",
                    ),
                    spacing="1",
                    width="100%",
                ),
                on_submit=PhoneState.new_customer,
                reset_on_submit=True,
                width="100%",
            ),
            spacing="3",
            width="100%",
        )
    )


def _more() -> rx.Component:
    return card(
        rx.vstack(
            rx.text(t("sandbox.more_types"), size="2", weight="medium"),
            _row_form(
                PhoneState.send_location,
                "map-pin",
                rx.input(name="latitude", placeholder="-23.5505", width="30%"),
                rx.input(name="longitude", placeholder="-46.6333", width="30%"),
                rx.input(name="place", placeholder=t("sandbox.place"), flex="1"),
            ),
            _row_form(
                PhoneState.send_contact,
                "contact",
                rx.input(name="contact_name", placeholder=t("sandbox.contact_name"), flex="1"),
                rx.input(name="contact_phone", placeholder="+55 21 99876 5432", flex="1"),
            ),
            spacing="2",
            width="100%",
        )
    )


def _scenarios() -> rx.Component:
    return card(
        rx.vstack(
            rx.text(t("sandbox.scenarios"), size="2", weight="medium"),
            rx.text(t("sandbox.scenarios_hint"), size="1", color=rx.color("gray", 11)),
            rx.vstack(
                rx.select.root(
                    rx.select.trigger(width="100%"),
                    rx.select.content(
                        *[
                            rx.select.item(SessionState.tr[f"sandbox.error.{code}"], value=code)
                            for code in SCENARIO_ERRORS
                        ]
                    ),
                    value=PhoneState.fail_code,
                    on_change=PhoneState.set_fail_code,
                ),
                rx.button(
                    t("sandbox.fail_next"),
                    on_click=PhoneState.fail_next,
                    variant="soft",
                    color_scheme="red",
                    width="100%",
                    data_testid="fail-next",
                ),
                spacing="2",
                width="100%",
            ),
            rx.button(
                t("sandbox.time_out_next"),
                on_click=PhoneState.time_out_next,
                variant="soft",
                color_scheme="amber",
                width="100%",
            ),
            rx.hstack(
                rx.text(t("sandbox.webhook_delay"), size="2", flex="1"),
                rx.input(
                    default_value=PhoneState.webhook_delay,
                    on_blur=PhoneState.set_webhook_delay,
                    type="number",
                    min="0",
                    max="30",
                    step="0.5",
                    width="80px",
                ),
                align="center",
                width="100%",
            ),
            rx.hstack(
                rx.text(t("sandbox.duplicate_webhooks"), size="2", flex="1"),
                rx.switch(checked=PhoneState.duplicate, on_change=PhoneState.set_duplicate),
                width="100%",
            ),
            rx.hstack(
                rx.text(t("sandbox.out_of_order"), size="2", flex="1"),
                rx.switch(checked=PhoneState.out_of_order, on_change=PhoneState.set_out_of_order),
                width="100%",
            ),
            spacing="2",
            width="100%",
        )
    )


def phone_page() -> rx.Component:
    return shell(
        "nav.sandbox",
        rx.cond(
            PhoneState.numbers.length() > 0,
            rx.flex(
                rx.vstack(
                    rx.text(t("sandbox.intro"), size="2", color=rx.color("gray", 11)),
                    error_callout(PhoneState.problem),
                    _who(),
                    _more(),
                    _scenarios(),
                    spacing="3",
                    flex="1",
                    min_width="300px",
                    max_width="460px",
                ),
                _phone(),
                gap="24px",
                wrap="wrap",
                align="start",
                width="100%",
            ),
            empty_state("smartphone", "sandbox.empty_title", "sandbox.empty_body"),
        ),
    )
