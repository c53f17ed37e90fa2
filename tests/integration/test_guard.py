"""The access guard, fed forged events the way Reflex's event processor feeds it, and the
same rule for work the server starts in a tab's state (``ui.tabs``)."""

import contextlib

import pytest
import reflex as rx
import sqlalchemy as sa
import sqlmodel
from reflex.utils.format import format_event_handler
from reflex_base.event import Event

from pytake import db
from pytake.auth import sessions
from pytake.auth.errors import AccessError
from pytake.models import Membership, Role
from pytake.services import accounts
from pytake.ui import guard, tabs
from pytake.ui.notices import NoticeState
from pytake.ui.pages.login import LoginState
from pytake.ui.pages.settings.members import MembersState, _set_role
from pytake.ui.pages.workspace import InboxState
from pytake.ui.session import SessionState

PASSWORD = "correct horse 1"


def cookie_for(email: str) -> str:
    with db.session() as s:
        _, ticket = accounts.sign_in(s, email=email, password=PASSWORD, ip=None, user_agent=None)
    with db.session() as s:
        return sessions.redeem_ticket(s, ticket)


@pytest.fixture
def people():
    with db.session() as s:
        org, _ = accounts.setup(
            s, organization="Acme", name="Owner", email="owner@acme.test", password=PASSWORD
        )
        agent = accounts.add_user(
            s,
            organization_id=org.id,
            email="agent@acme.test",
            name="Agent",
            password=PASSWORD,
            role=Role.AGENT,
        )
    return {
        "org": org,
        "agent": agent,
        "owner": cookie_for("owner@acme.test"),
        "agent_cookie": cookie_for("agent@acme.test"),
    }


def root_state(cookie: str | None, path: str = "/settings") -> rx.State:
    state = rx.State(_reflex_internal_init=True)
    headers = {"accept-language": "pt-BR,pt;q=0.9"}
    if cookie is not None:
        headers["cookie"] = f"theme=dark; {sessions.COOKIE_NAME}={cookie}"
    data = {
        "pathname": path,
        "asPath": path,
        "query": {},
        "token": "tab-1",
        "sid": "sid-1",
        "headers": headers,
        "ip": "127.0.0.1",
    }
    state.router_data = state._update_router_vars(data, {})
    return state


async def run_guard(handler, cookie, payload=None, path="/settings"):
    event = Event(name=format_event_handler(handler), payload=payload or {})
    return await guard.AccessGuard().preprocess(
        app=None, state=root_state(cookie, path), event=event
    )


def event_names(update) -> list[str]:
    return [e.name for e in update.events]


def redirect_target(update) -> str:
    return next(e.payload["path"] for e in update.events if e.name == "_redirect")


async def test_anonymous_is_sent_to_login_with_the_page_to_return_to(people):
    update = await run_guard(
        MembersState.set_member_role, None, {"user_id": people["agent"].id, "role": "owner"}
    )
    assert event_names(update) == ["_redirect"]
    assert str(redirect_target(update)).startswith("/login?next=/settings")


@pytest.mark.parametrize("path", ["/login", "/login?next=/inbox", "/setup"])
async def test_a_tab_already_on_a_public_page_is_refused_without_being_moved(people, path):
    """A revocation pushed to a tab that just signed out must not navigate it again (that
    would cut short whatever page it is opening next)."""
    update = await run_guard(NoticeState.recheck, "ended", path=path)
    assert update is not None and event_names(update) == []


@pytest.mark.parametrize("cookie", ["forged", "a.b.c"])
async def test_forged_cookie_is_refused_with_an_explanation(people, cookie):
    update = await run_guard(InboxState.load, cookie)
    assert "_redirect" in event_names(update)
    assert any(name == "_call_function" or name.startswith("_") for name in event_names(update))


async def test_agent_may_not_run_admin_events(people):
    update = await run_guard(
        MembersState.set_member_role,
        people["agent_cookie"],
        {"user_id": people["agent"].id, "role": "owner"},
    )
    assert update is not None and "_redirect" not in event_names(update)
    assert guard._identity.get() is None


async def test_agent_may_run_agent_events_and_the_identity_is_set(people):
    assert await run_guard(InboxState.load, people["agent_cookie"], path="/inbox") is None
    identity = guard._identity.get()
    assert identity.user_id == people["agent"].id and identity.role == Role.AGENT


async def test_a_tab_s_next_event_within_seconds_reads_nothing_from_the_database(people):
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    sa.event.listen(db.get_engine(), "before_cursor_execute", record)
    try:
        assert await run_guard(InboxState.load, people["agent_cookie"], path="/inbox") is None
        first = len(sent)
        assert await run_guard(InboxState.load, people["agent_cookie"], path="/inbox") is None
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", record)
    assert first > 0 and len(sent) == first
    assert guard._identity.get().user_id == people["agent"].id


async def test_owner_may_run_admin_events(people):
    assert await run_guard(MembersState.set_member_active, people["owner"]) is None
    assert guard._identity.get().role == Role.OWNER


async def test_public_handlers_and_reflex_events_need_no_session(people):
    assert await run_guard(LoginState.submit, None, path="/login") is None
    assert await run_guard(SessionState.set_language, None, path="/login") is None
    hydrate = Event(name=f"{rx.State.get_full_name()}.hydrate", payload={})
    assert await guard.AccessGuard().preprocess(None, root_state(None), hydrate) is None


async def test_non_public_handlers_of_public_pages_stay_closed(people):
    update = await run_guard(SessionState.sign_out, None, path="/login")
    assert update is not None
    setvar = Event(
        name=f"{MembersState.get_full_name()}.setvar",
        payload={"var_name": "org_name", "value": "x"},
    )
    assert await guard.AccessGuard().preprocess(None, root_state(None), setvar) is not None


async def test_deactivated_users_open_tab_is_refused_on_its_next_event(people):
    assert await run_guard(InboxState.load, people["agent_cookie"]) is None
    with db.session() as s:
        accounts.set_active(
            s, organization_id=people["org"].id, user_id=people["agent"].id, active=False
        )
    update = await run_guard(InboxState.load, people["agent_cookie"])
    assert "_redirect" in event_names(update)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/inbox", "/login?next=/inbox"),
        ("//evil.example", "/login?next=/inbox"),
        ("/login", "/login"),
        (None, "/login?next=/inbox"),
    ],
)
def test_login_url_only_returns_to_local_pages(path, expected):
    assert guard.login_url(path) == expected


@pytest.mark.parametrize(
    ("user_id", "role"),
    [("1", "agent"), (True, "agent"), (None, "agent"), (2, 7), (2, "wizard")],
)
def test_admin_handlers_refuse_malformed_arguments(people, user_id, role):
    owner = cookie_for("owner@acme.test")
    with db.session() as s:
        identity = sessions.resolve(s, owner)
    with pytest.raises(AccessError), db.session() as s:
        _set_role(s, identity, user_id=user_id, role=role)
    with db.session() as s:
        roles = {m.user_id: m.role for m in s.exec(sqlmodel.select(Membership)).all()}
    assert roles[people["agent"].id] == "agent"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/settings?tab=members", "/settings?tab=members"),
        ("//evil.example/x", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("https://evil.example", "/inbox"),
        ("/\t/evil.example/login", "/inbox"),  # ?next=/%09/evil.example/login
        ("/\n/evil.example/login", "/inbox"),
        ("/\r\n/evil.example", "/inbox"),
        ("/x\\..\\\\evil.example", "/inbox"),
        ("/\x00/evil.example", "/inbox"),
        ("/\x85/evil.example", "/inbox"),
        ("/conversation/7?tab=notes#latest", "/conversation/7?tab=notes#latest"),
        ("/contatos/joão", "/contatos/joão"),
        ("/login?next=/x", "/inbox"),
        ("/setup", "/inbox"),
        (["/settings"], "/inbox"),
        (None, "/inbox"),
    ],
)
def test_safe_next_only_allows_local_pages(path, expected):
    assert guard.safe_next(path) == expected


# Work the server starts in a tab's state ------------------------------------------------------


class _App:
    """What ``tabs.runner`` needs of Reflex's app: the tab's state under its lock, and the
    socket the refusals go to."""

    def __init__(self, root) -> None:
        self.root, self.sent, self.event_namespace = root, [], self

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        assert token.ident == "tab-1"
        yield self.root

    async def emit_update(self, update, token: str) -> None:
        self.sent.append((token, update))


def _recorder(ran: list):
    async def apply(state, token: str) -> None:
        ran.append((type(state), token, state._identity()))

    return apply


async def test_a_member_s_tab_runs_the_work_as_its_member(people):
    ran: list = []
    app = _App(root_state(people["agent_cookie"], "/inbox"))
    await tabs.runner(app, InboxState, _recorder(ran))("tab-1")
    [(cls, token, identity)] = ran
    assert (cls, token, identity.user_id) == (InboxState, "tab-1", people["agent"].id)
    assert app.sent == []


async def test_an_ended_session_s_tab_is_sent_to_sign_in_and_runs_nothing(people):
    with db.session() as s:
        accounts.set_active(
            s, organization_id=people["org"].id, user_id=people["agent"].id, active=False
        )
    ran: list = []
    app = _App(root_state(people["agent_cookie"], "/inbox"))
    await tabs.runner(app, InboxState, _recorder(ran))("tab-1")
    assert ran == []
    [(token, update)] = app.sent
    assert token == "tab-1" and "_redirect" in event_names(update)


@pytest.mark.parametrize("cookie", [None, "forged"])
async def test_a_tab_without_a_session_runs_nothing(people, cookie):
    ran: list = []
    app = _App(root_state(cookie, "/inbox"))
    await tabs.runner(app, InboxState, _recorder(ran))("tab-1")
    assert ran == [] and "_redirect" in event_names(app.sent[0][1])


async def test_a_role_below_the_state_s_runs_nothing(people):
    ran: list = []
    app = _App(root_state(people["agent_cookie"], "/settings/members"))
    await tabs.runner(app, MembersState, _recorder(ran))("tab-1")
    assert ran == [] and "_redirect" not in event_names(app.sent[0][1])  # told, not moved
