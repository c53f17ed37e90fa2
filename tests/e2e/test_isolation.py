"""Every event handler of every PyTake state, sent by another organization's admin and agent
with the first organization's ids: nothing of the first organization changes, and nothing of
it reaches them.

The handlers are found by walking Reflex's registry of states, so a handler added later is
swept without anyone remembering to add it here. Each is sent as a hostile client could:
over the websocket, with arguments built from its signature (every id the victim's, forms
full of the victim's ids) and the page's query naming the victim's conversation, flow and
message. A client cannot set a var directly: Reflex makes no setters of its own
(``state_auto_setters`` is off), so ``setvar`` reaches only the ``set_*`` handlers swept
here. The second organization is made as an operator makes one (``python -m pytake org
add``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import itertools
import json
import time

import pytest
import reflex as rx
import sqlalchemy as sa
from playwright.sync_api import expect
from reflex.config import get_config
from sqlmodel import Session, SQLModel

from pytake.auth.sessions import COOKIE_NAME
from pytake.models import (
    Contact,
    Conversation,
    ConversationLabel,
    Flow,
    Invitation,
    Label,
    Message,
    MessageTemplate,
    Note,
    PushDevice,
    QuickReply,
    Team,
    User,
)
from pytake.ui.pages.workspace import ContactsState
from pytake.ui.session import SessionState
from tests.e2e.conftest import Number, sign_in
from tests.e2e.wsclient import ReflexSocket

pytestmark = pytest.mark.e2e

CUSTOMER, CUSTOMER_NAME = "5531977001234", "Zuleica Marcondes"
SECRETS = {  # what the first organization holds and the second must never receive
    "customer": CUSTOMER_NAME,
    "message": "pedido secreto 7781",
    "note": "nota interna sigilosa 5512",
    "label": "Cliente Ouro Sigiloso",
    "team": "Equipe Sigilosa",
    "reply": "resposta pronta sigilosa 3391",
    "template": "modelo_sigiloso_2231",
    "flow": "Fluxo Sigiloso",
    "invitation": "convidada.sigilosa@acme.test",
}
# The victim's push endpoint: sent by the intruder too (as one who learned it), so only its
# row is checked, not whether an answer repeats it.
DEVICE = "https://fcm.googleapis.com/fcm/send/sigiloso-device"
ALFA = {"org": "Alfa Isolada", "owner": "dona@alfa.test"}
BETA = {"org": "Beta Isolada", "owner": "dono@beta.test"}
BETA_ADMIN = ("admin@beta.test", "beta admin pass 1", "admin")
BETA_AGENT = ("agente@beta.test", "beta agent pass 1", "agent")
# Ends the caller's own session: sent, the rest of the sweep would run signed out.
OWN_SESSION = {(SessionState, "sign_out")}


@pytest.fixture(scope="module")
def victim(server, graph, organization) -> dict[str, int | str]:
    """An organization of its own (so no other test's work moves its rows) with one of
    everything: a customer's conversation (from a signed webhook), a note, a label on it, a
    team, a quick reply, a template, a flow, an invitation and a push device. Returns their
    ids."""
    _cli(server, "org", "add", "--name", ALFA["org"], "--owner-email", ALFA["owner"])
    pnid, waba = "880011223344", "880099887766"
    display, token, secret = "15550011223", "EAA-alfa-isolada", "secret-alfa-isolada"
    graph.add_number(pnid, waba, display, token, secret)
    _cli(
        server,
        *("channel", "add-whatsapp", "--org", ALFA["org"], "--phone-number-id", pnid),
        *("--waba-id", waba, "--display-number", f"+{display}", "--access-token", token),
        *("--app-secret", secret, "--verify-token", "verify-alfa-isolada"),
    )
    number = Number(server, pnid, waba, display, secret)
    number.customer_writes(CUSTOMER, CUSTOMER_NAME, SECRETS["message"])
    _cli(server, "team", "add", "--org", ALFA["org"], "--name", SECRETS["team"])
    engine = sa.create_engine(server.env["PYTAKE_DATABASE_URL"])
    try:
        with Session(engine) as s:
            conversation = _eventually(s, CUSTOMER)
            org = conversation.organization_id
            owner = s.scalars(sa.select(User.id).where(User.email == ALFA["owner"])).one()
            label = Label(organization_id=org, name=SECRETS["label"])
            later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
            made = [
                label,
                Note(
                    organization_id=org,
                    conversation_id=conversation.id,
                    author_id=owner,
                    body=SECRETS["note"],
                ),
                QuickReply(organization_id=org, shortcut="sigilo", body=SECRETS["reply"]),
                MessageTemplate(
                    organization_id=org,
                    account_id=number.waba,
                    name=SECRETS["template"],
                    language="pt_BR",
                    category="UTILITY",
                    status="APPROVED",
                    components=[{"type": "BODY", "text": "Olá {{1}}"}],
                ),
                Flow(organization_id=org, name=SECRETS["flow"], draft={"steps": []}),
                Invitation(
                    organization_id=org,
                    email=SECRETS["invitation"],
                    role="agent",
                    token_hash="f" * 64,
                    expires_at=later,
                ),
                PushDevice(
                    user_id=owner,
                    organization_id=org,
                    endpoint=DEVICE,
                    p256dh="k",
                    auth="a",
                ),
            ]
            s.add_all(made)
            s.flush()
            s.add(ConversationLabel(conversation_id=conversation.id, label_id=label.id))
            message = s.scalars(
                sa.select(Message).where(Message.conversation_id == conversation.id)
            ).one()
            ids = {
                "organization": org,
                "owner": owner,
                "conversation": conversation.id,
                "contact": conversation.contact_id,
                "channel": conversation.channel_id,
                "message": message.id,
                "wamid": message.external_id,
                "team": s.scalars(sa.select(Team.id).where(Team.organization_id == org)).one(),
                **{type(row).__name__.lower(): row.id for row in made},
            }
            s.commit()
    finally:
        engine.dispose()
    return ids


def _eventually(s: Session, wa_id: str) -> Conversation:
    query = sa.select(Conversation).join(Contact).where(Contact.wa_id == wa_id)
    for _ in range(100):
        found = s.scalars(query).first()
        if found is not None:
            return found
        s.rollback()
        time.sleep(0.1)
    raise AssertionError("the customer's webhook was never applied")


def _cli(server, *args: str) -> None:
    done = server.cli(*args, stdin="a password of ten or more")
    assert done.returncode == 0, done.stderr


def _snapshot(url: str, org: int) -> dict[str, list]:
    """Every row of the organization: rows of tables with an ``organization_id``, rows
    linking to them (teams' members, conversations' labels…), its members' accounts and
    sessions."""
    engine = sa.create_engine(url)
    found: dict[str, list] = {}
    try:
        with engine.connect() as db:
            members = sa.select(sa.text("user_id")).select_from(sa.table("membership"))
            members = members.where(sa.text("organization_id = :org"))
            for table in SQLModel.metadata.sorted_tables:
                where = _belonging(table, org)
                if table.name in ("app_user", "user_session"):
                    key = table.c.id if table.name == "app_user" else table.c.user_id
                    where = key.in_(members)
                if where is None:
                    continue
                ordered = sa.select(table).where(where).order_by(*table.primary_key.columns)
                found[table.name] = [tuple(row) for row in db.execute(ordered, {"org": org})]
    finally:
        engine.dispose()
    return found


def _settled(url: str, org: int) -> dict[str, list]:
    """The organization's rows once the work its webhook started is over (two reads alike)."""
    last = _snapshot(url, org)
    for _ in range(20):
        time.sleep(0.5)
        now = _snapshot(url, org)
        if now == last:
            return now
        last = now
    raise AssertionError("the organization's rows kept changing")


def _belonging(table: sa.Table, org: int) -> sa.ColumnElement[bool] | None:
    if "organization_id" in table.c:
        return table.c.organization_id == sa.bindparam("org")
    links = [
        column.in_(
            sa.select(key.column).where(key.column.table.c.organization_id == sa.bindparam("org"))
        )
        for column in table.c
        for key in column.foreign_keys
        if "organization_id" in key.column.table.c
    ]
    return sa.or_(*links) if links else None


def _handlers() -> list[tuple[type[rx.State], str, inspect.Signature]]:
    """Every public handler of every PyTake state, as Reflex registered them."""
    # Imported here, not at collection: the app tells the process it serves pages, which
    # shrinks its Redis pools for every test after, and browser tests run last.
    import pytake.pytake  # noqa: F401  (registers every page and state)

    def walk(cls: type[rx.State]):
        yield cls
        for sub in cls.get_substates():
            yield from walk(sub)

    return [
        (cls, name, inspect.signature(handler.fn))
        for cls in walk(rx.State)
        if cls.__module__.startswith("pytake.")
        for name, handler in cls.event_handlers.items()
        if name != "setvar" and (cls, name) not in OWN_SESSION
    ]


# A parameter's name → which of the victim's ids it gets.
NAMED = {
    "conversation_id": "conversation",
    "message_id": "message",
    "user_id": "owner",
    "owner_id": "owner",
    "team_id": "team",
    "label_id": "label",
    "channel_id": "channel",
    "template_id": "messagetemplate",
    "reply_id": "quickreply",
    "invitation_id": "invitation",
    "device_id": "pushdevice",
    "flow_id": "flow",
    "contact_id": "contact",
}


def _form(victim: dict) -> dict[str, str]:
    """A form as a hostile client fills it: every id the victim's, text that must not land."""
    ids = {name: str(victim[key]) for name, key in NAMED.items()}
    return {
        **ids,
        "id": str(victim["conversation"]),
        "name": "Intruso",
        "body": "intruso",
        "text": "intruso",
        "email": "intruso@beta.test",
        "role": "owner",
        "key": "intruso",
        "value": "intruso",
        "shortcut": "intruso",
        "status": "resolved",
        "wamid": str(victim["wamid"]),
        "endpoint": DEVICE,
    }


def _argument(name: str, annotation: str, victim: dict):
    wanted = NAMED.get(name)
    value: int | str = victim[wanted] if wanted else victim["conversation"]
    if name in ("wamid", "endpoint"):
        value = victim["wamid"] if name == "wamid" else DEVICE
    if annotation.startswith(("dict", "_form")) or name in ("form", "form_data", "_form"):
        return _form(victim)
    if annotation.startswith("list"):
        return []
    if annotation.startswith("bool"):
        return True
    if annotation.startswith("int"):
        return value if isinstance(value, int) else victim["conversation"]
    return str(value)


def _payload(signature: inspect.Signature, victim: dict) -> dict:
    return {
        name: _argument(name, str(parameter.annotation), victim)
        for name, parameter in signature.parameters.items()
        if name != "self"
    }


class _Sweep:
    """One hostile client: sends events in order and knows when the server has run them
    all (a last, harmless event's answer arrives after theirs: a tab's events run in turn).
    That answer carries the contacts search it asked for, which only a signed-in member
    gets: every event before it ran as the intruder, not as someone signed out."""

    def __init__(self, server, cookie: str) -> None:
        self.socket = ReflexSocket(server.base_url, f"{COOKIE_NAME}={cookie}")
        self.answers: list[dict] = []
        self.sent = 0
        self._probes = itertools.count()

    def send(self, name: str, payload: dict, path: str, query: dict) -> None:
        self.socket.emit(name, payload, path, query)
        self.sent += 1

    def settle(self, after: str) -> None:
        marker = f"sweep-probe-{next(self._probes)}"
        self.socket.emit(f"{ContactsState.get_full_name()}.set_search", {"value": marker}, "/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = self.socket.ws.receive(timeout=1)
            if message == "2":
                self.socket.ws.send("3")
            elif message and message.startswith("42/_event,"):
                kind, body = json.loads(message[len("42/_event,") :])[:2]
                if kind == "new_token":
                    continue
                self.answers.append(body)
                if marker in json.dumps(body):
                    return
        raise AssertionError(f"no answer after {after}'s events: {self.answers[-3:]}")


@pytest.fixture(scope="module")
def intruders(server, browser) -> dict[str, str]:
    """The second organization's admin and agent, signed in: their session cookies."""
    _cli(server, "org", "add", "--name", BETA["org"], "--owner-email", BETA["owner"])
    cookies = {}
    for email, password, role in (BETA_ADMIN, BETA_AGENT):
        added = server.cli(
            *("user", "add", "--org", BETA["org"], "--email", email, "--role", role),
            stdin=password,
        )
        assert added.returncode == 0, added.stderr
        context = browser.new_context(base_url=server.base_url)
        context.set_default_timeout(20_000)
        page = context.new_page()
        sign_in(page, email, password)
        expect(page.get_by_test_id("page-title")).to_be_visible()
        cookies[role] = next(c for c in context.cookies() if c["name"] == COOKIE_NAME)["value"]
        context.close()  # the session stays: only the websocket sweep uses it
    return cookies


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_every_handler_sent_with_another_organizations_ids_changes_and_shows_nothing(
    server, victim, intruders, role
):
    url = server.env["PYTAKE_DATABASE_URL"]
    before = _settled(url, victim["organization"])
    assert before["note"] and before["conversation_label"] and before["push_device"]
    query = {
        "conversation_id": str(victim["conversation"]),
        "flow_id": str(victim["flow"]),
        "message": str(victim["message"]),
    }
    handlers = _handlers()
    assert len(handlers) > 100  # the registry was walked (208 handlers on 2026-12-07)
    assert not get_config().state_auto_setters  # no var is settable without a handler
    sweep = _Sweep(server, intruders[role])
    try:
        for cls, group in itertools.groupby(handlers, key=lambda found: found[0]):
            state = cls.get_full_name()
            for _, name, signature in group:
                sweep.send(f"{state}.{name}", _payload(signature, victim), "/inbox", query)
            sweep.settle(cls.__name__)
    finally:
        sweep.socket.close()
    told = json.dumps(sweep.answers, ensure_ascii=False)
    leaked = {what: text for what, text in SECRETS.items() if text in told}
    assert not leaked, leaked
    assert _snapshot(url, victim["organization"]) == before
