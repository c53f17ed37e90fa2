"""The sandbox's WhatsApp, served by PyTake itself: the Graph simulator mounted under
``/sandbox/graph``, and the customers' phones the sandbox page plays.

Nothing in the pipeline knows a sandbox number is one: its channel's API address is this
simulator, and what the simulator tells PyTake (customers' messages, statuses, template
reviews) arrives as signed webhooks posted to ``/webhooks/whatsapp`` over HTTP. The
simulator lives in this process's memory, so the sandbox needs a single web worker.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from collections.abc import Coroutine

import httpx
import reflex as rx

from pytake.sandbox import payloads as p
from pytake.sandbox.graph import GraphSimulator
from pytake.sandbox.graph_rules import canonical_wa_id
from pytake.settings import get_settings

log = logging.getLogger("pytake.sandbox")

GRAPH_PATH = "/sandbox/graph"
WEBHOOK_PATH = "/webhooks/whatsapp"
STATUS_GAP_SECONDS = 0.3  # between "sent" and "delivered", as a phone a few hops away
REVIEW_SECONDS = 2.0  # Meta's template review, much shortened
TIMEOUT_SECONDS = 40.0  # longer than PyTake's Graph timeout: the send is left in doubt
WEBHOOK_ATTEMPTS = 4
NUMBERS_REFRESH_SECONDS = 2.0
MAX_ENTRIES = 500  # per conversation on a phone; older ones scroll away
# Errors Meta answers on the call itself; the others come later in a "failed" status.
CALL_ERRORS = frozenset({130429, 190, 131000})
STATUS_ERRORS = frozenset({131047, 131026})
SCENARIO_ERRORS = (131047, 130429, 131026, 190, 131000)


@dataclasses.dataclass(frozen=True)
class Number:
    phone_number_id: str
    waba_id: str
    display_number: str
    access_token: str
    app_secret: str
    organization_id: int


@dataclasses.dataclass
class Entry:
    """One message on a customer's phone: the webhook message the customer sent, or the
    Graph API body the business sent."""

    wamid: str
    from_customer: bool
    message: dict
    at: float
    status: str = "sent"
    error: int | None = None
    reaction: str | None = None  # the other side's reaction to it


@dataclasses.dataclass
class Scenario:
    """What the simulated Meta does wrong next for one number, to show the reliability
    features (one organization's scenario never touches another's numbers)."""

    webhook_delay: float = 0.0
    duplicate_webhooks: bool = False
    statuses_out_of_order: bool = False
    failures: collections.deque[int] = dataclasses.field(default_factory=collections.deque)
    # The number's webhooks leave one at a time, as they were made (a delay holds only them).
    in_order: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)


class Sandbox:
    def __init__(self, address: str, http: httpx.AsyncClient | None = None) -> None:
        """``address``: where PyTake answers, as this process reaches it."""
        self.address = address.rstrip("/")
        self.sim = GraphSimulator(self.address + GRAPH_PATH)
        self.sim.listener = self._heard
        self.http = http
        self.numbers: dict[str, Number] = {}
        self.phones: dict[tuple[str, str], list[Entry]] = collections.defaultdict(list)
        self.names: dict[tuple[str, str], str] = {}
        self.scenarios: dict[str, Scenario] = collections.defaultdict(Scenario)
        self.version = 0
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    # Numbers -----------------------------------------------------------------------------------

    def register(self, number: Number) -> None:
        self.numbers[number.phone_number_id] = number
        self.sim.add_number(
            number.phone_number_id,
            number.waba_id,
            number.display_number,
            number.access_token,
            number.app_secret,
        )

    @property
    def api_url(self) -> str:
        return self.address + GRAPH_PATH

    # What the customers do ---------------------------------------------------------------------

    def customer_sends(self, number: Number, wa_id: str, name: str, message: dict) -> None:
        """``message``: a payloads builder's result, sent by ``wa_id``; its webhook goes out
        in the background (a scenario may delay it)."""
        key = _key(number, wa_id)
        self.names[key] = name
        reacted = message.get("reaction")
        entry = None
        if reacted:
            self._react(key, reacted.get("message_id"), reacted.get("emoji") or None)
        else:
            entry = Entry(message["id"], True, message, time.time())
            self._append(key, entry)
        value = p.messages_value(
            number.phone_number_id, number.display_number, [message], [p.profile(wa_id, name)]
        )
        self._spawn(self._deliver(number, value, taken=entry))

    def add_media(self, content: bytes, mime_type: str) -> str:
        return self.sim.add_media(content, mime_type)

    def read(self, number: Number, wa_id: str) -> int:
        """The phone shows the chat: what the business sent is read (and PyTake told)."""
        unread = [
            entry
            for entry in self.phones.get(_key(number, wa_id), [])
            if not entry.from_customer and entry.status in ("sent", "delivered")
        ]
        for entry in unread:
            entry.status = "read"
        if unread:
            self._touch()
            statuses = [p.status(entry.wamid, "read", wa_id) for entry in unread]
            value = p.statuses_value(number.phone_number_id, number.display_number, statuses)
            self._spawn(self._deliver(number, value))
        return len(unread)

    def conversation(self, number: Number, wa_id: str) -> list[Entry]:
        return list(self.phones.get(_key(number, wa_id), []))

    def customers(self, number: Number) -> dict[str, str]:
        """The customers who have a chat with the number on this phone page, and their names."""
        return {
            wa_id: self.names.get((pnid, wa_id), "")
            for pnid, wa_id in self.phones
            if pnid == number.phone_number_id
        }

    # Scenario controls ------------------------------------------------------------------------

    def scenario(self, number: Number) -> Scenario:
        return self.scenarios[number.phone_number_id]

    def fail_next(self, number: Number, code: int, count: int = 1) -> None:
        """The number's next ``count`` sends fail with Meta's ``code``: on the call itself,
        or (for 131047 and 131026, as Meta does) in a failed status after the call was
        accepted."""
        if code in STATUS_ERRORS:
            self.scenario(number).failures.extend([code] * count)
        elif code in CALL_ERRORS:
            retry_after = 5 if code == 130429 else None
            self.sim.fail_next(
                code, count=count, retry_after=retry_after, node=number.phone_number_id
            )
        else:
            raise ValueError(f"no sandbox scenario for error {code}")

    def time_out_next(self, number: Number, count: int = 1) -> None:
        """The number's next sends go out but their answer comes too late: PyTake cannot
        tell."""
        self.sim.timeout_next(count, delay=TIMEOUT_SECONDS, node=number.phone_number_id)

    # Changes, for the page ------------------------------------------------------------------------

    async def changed(self, seen: int) -> int:
        """The version after ``seen``, once there is one."""
        event = self._changed
        if self.version == seen:
            await event.wait()
        return self.version

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _append(self, key: tuple[str, str], entry: Entry) -> None:
        phone = self.phones[key]
        phone.append(entry)
        del phone[:-MAX_ENTRIES]
        self._touch()

    def _react(self, key: tuple[str, str], wamid: str | None, emoji: str | None) -> None:
        for entry in self.phones.get(key, []):
            if entry.wamid == wamid:
                entry.reaction = emoji
                self._touch()

    # What PyTake did, heard from the simulator ----------------------------------------------------

    def _heard(self, kind: str, record: dict) -> None:
        if kind == "message":
            self._sent(record)
        elif kind == "read":
            self._read_by_business(record)
        elif kind == "template" and record.get("status") == "PENDING":
            self._spawn(self._review(record))

    def _read_by_business(self, record: dict) -> None:
        """The business marked a customer's message read: it, and every earlier one of the
        chat, shows the blue ticks (a read mark covers what came before, as on WhatsApp)."""
        for (phone_number_id, _), entries in self.phones.items():
            if phone_number_id != record["phone_number_id"]:
                continue
            at = next((i for i, e in enumerate(entries) if e.wamid == record["message_id"]), None)
            if at is None:
                continue
            for entry in entries[: at + 1]:
                if entry.from_customer:
                    entry.status = "read"
            self._touch()
            return

    def _sent(self, record: dict) -> None:
        number = self.numbers.get(record["phone_number_id"])
        if number is None:
            return
        key = _key(number, str(record.get("to") or ""))
        wamid = record["wamid"]
        if record.get("type") == "reaction":
            reaction = record.get("reaction") or {}
            self._react(key, reaction.get("message_id"), reaction.get("emoji") or None)
        else:
            body = {k: v for k, v in record.items() if k not in ("wamid", "phone_number_id")}
            self._append(key, Entry(wamid, False, body, record["at"]))
        failures = self.scenario(number).failures
        failure = failures.popleft() if failures else None
        self._spawn(self._report(number, key, wamid, failure))

    async def _report(
        self, number: Number, key: tuple[str, str], wamid: str, failure: int | None
    ) -> None:
        """sent, then delivered (or failed with ``failure``), as Meta's statuses say it."""
        wa_id = key[1]
        if failure is not None:
            steps = [p.status(wamid, "failed", wa_id, errors=[p.error(failure)])]
        else:
            steps = [p.status(wamid, "sent", wa_id), p.status(wamid, "delivered", wa_id)]
        if self.scenario(number).statuses_out_of_order:
            steps.reverse()
        for step in steps:
            await asyncio.sleep(STATUS_GAP_SECONDS)
            self._mark(key, wamid, step["status"], failure)
            value = p.statuses_value(number.phone_number_id, number.display_number, [step])
            await self._deliver(number, value)

    def _mark(self, key: tuple[str, str], wamid: str, status: str, error: int | None) -> None:
        order = ("sent", "delivered", "read")
        for entry in self.phones.get(key, []):
            if entry.wamid != wamid:
                continue
            if status == "failed":
                entry.status, entry.error = "failed", error
            elif entry.status in order and order.index(status) > order.index(entry.status):
                entry.status = status
            self._touch()

    async def _review(self, template: dict) -> None:
        """Meta approves what was submitted, a little later."""
        await asyncio.sleep(REVIEW_SECONDS)
        waba_id = template["waba_id"]
        number = next((n for n in self.numbers.values() if n.waba_id == waba_id), None)
        if number is None:
            return
        name, language = template["name"], template["language"]
        template_id = self.sim.set_template_status(waba_id, name, language, "APPROVED")
        value = p.template_status_value(
            "APPROVED", int(template_id), name, language, category=template.get("category", "")
        )
        await self._deliver(number, value, field="message_template_status_update")

    # Webhooks ----------------------------------------------------------------------------------

    async def _deliver(
        self, number: Number, value: dict, field: str = "messages", taken: Entry | None = None
    ) -> None:
        """``taken``: the customer's message this webhook carries, delivered (two grey ticks
        on their phone) once PyTake took the webhook."""
        payload = p.envelope(p.entry(number.waba_id, p.change(value, field)))
        scenario = self.scenario(number)
        async with scenario.in_order:
            if scenario.webhook_delay:
                await asyncio.sleep(scenario.webhook_delay)
            for _copy in range(2 if scenario.duplicate_webhooks else 1):
                if await self._post(number, payload) and taken and taken.status == "sent":
                    taken.status = "delivered"
                    self._touch()

    async def _post(self, number: Number, payload: dict) -> bool:
        """Meta retries a webhook PyTake did not take; so do we, a few times. Whether it
        was taken."""
        url = self.address + WEBHOOK_PATH
        for attempt in range(WEBHOOK_ATTEMPTS):
            try:
                answer = await self.sim.post_webhook(
                    url, payload, number.app_secret, client=self._client()
                )
                if answer.status_code < 500:
                    return answer.status_code < 400
                problem = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                problem = str(exc) or type(exc).__name__
            log.warning("sandbox webhook not taken (%s), attempt %s", problem, attempt + 1)
            await asyncio.sleep(2**attempt)
        return False

    def _client(self) -> httpx.AsyncClient:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
        return self.http

    def _spawn(self, work: Coroutine) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _key(number: Number, wa_id: str) -> tuple[str, str]:
    """A customer's chat, by the wa_id Meta knows them by (Brazil's mobiles lose their 9)."""
    return number.phone_number_id, canonical_wa_id(wa_id)


# This process's sandbox -----------------------------------------------------------------------

_current: Sandbox | None = None


def address() -> str:
    """How this process reaches its own backend: loopback unless bound to one address."""
    settings = get_settings()
    port = rx.config.get_config().backend_port or settings.port
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
    return f"http://{host}:{port}"


def current() -> Sandbox:
    global _current
    if _current is None:
        _current = Sandbox(address())
    return _current
