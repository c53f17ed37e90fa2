"""The one place that decides who may run which event.

Any client can send any event of any state with any payload, so every PyTake state derives
from ``GuardedState`` and is default-deny: a handler runs only for a signed-in user whose
role reaches the state's ``min_role``, unless the state lists it in ``public_events``.
The identity comes from the HttpOnly cookie of the websocket handshake, checked on every
event against the session row as remembered for a few seconds (``auth.identities``): a
sign-out, revocation, deactivation or role change is forgotten by every worker when it
commits, so the tab's next event is refused or sees the new role.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import reflex as rx
from reflex_base.event import Event
from starlette.concurrency import run_in_threadpool

from pytake import db
from pytake.auth import identities, sessions
from pytake.auth.sessions import Identity
from pytake.i18n import from_accept_language, translate
from pytake.models import Role

_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "pytake_identity", default=None
)


PUBLIC_PAGES = ("/login", "/setup")  # where a caller without a session is sent, or signs up

_rules: dict[type, tuple[Role, frozenset[str]]] = {}


def access(*, min_role: Role = Role.AGENT, public: tuple[str, ...] = ()):
    """Class decorator: the least role a state's events need, and handlers open to anyone."""

    def register(cls: type[GuardedState]) -> type[GuardedState]:
        _rules[cls] = (min_role, frozenset(public))
        return cls

    return register


def rule_for(cls: type) -> tuple[Role, frozenset[str]]:
    """Undecorated states get the default: any signed-in member, no public handler."""
    return _rules.get(cls, (Role.AGENT, frozenset()))


class GuardedState(rx.State):
    """Base of every PyTake state; see ``access`` for the rule of each subclass."""

    def _identity(self) -> Identity:
        """The caller, as checked by the guard for this event; fails closed if unset."""
        identity = _identity.get()
        if identity is None:
            raise PermissionError("no verified identity for this event")
        return identity

    def _client_ip(self) -> str | None:
        return self.router.session.client_ip or None

    def _browser_language(self) -> str:
        return from_accept_language(self.router.headers.accept_language)


def identity_from_headers(cookie_header: str | None) -> Identity | None:
    """The caller behind the session cookie; from memory for a few seconds after a read."""
    cookie = sessions.parse_cookie_header(cookie_header)
    session_id = sessions.session_id_from_cookie(cookie)
    if session_id is None:
        return None
    return identities.recall(session_id, functools.partial(_read_identity, cookie))


async def caller(cookie_header: str | None) -> Identity | None:
    """``identity_from_headers`` for the event loop: a remembered identity is answered here,
    and only a database read goes to a thread (most events are answered from memory)."""
    session_id = sessions.session_id_from_cookie(sessions.parse_cookie_header(cookie_header))
    found = identities.remembered(session_id) if session_id is not None else None
    return found or await run_in_threadpool(identity_from_headers, cookie_header)


def _read_identity(cookie: str) -> Identity | None:
    with db.session(write=True) as s:  # may stamp last_seen_at after reading (see in_transaction)
        return sessions.resolve(s, cookie)


def read_identities(session_ids: list[str]) -> dict[str, Identity | None]:
    """For ``identities.keep_fresh``: the sessions this worker's tabs use, read again."""
    with db.session(write=True) as s:
        return sessions.resolve_many(s, session_ids)


def _state_class(event_name: str) -> tuple[type[rx.State] | None, str]:
    state_path, _, handler = event_name.rpartition(".")
    try:
        return rx.State.get_class_substate(state_path), handler
    except ValueError:
        return None, handler


def safe_next(path: object) -> str:
    """Where to go after signing in: a local page only (never another site, never /login).

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so
    ``/<tab>/evil.example`` would become ``//evil.example``: any control character or
    backslash is refused, and what is left must parse as a path with no scheme or host.
    """
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        return "/inbox"
    if "\\" in path or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in path):
        return "/inbox"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return "/inbox"
    return "/inbox" if path.startswith(PUBLIC_PAGES) else path


def login_url(path: str | None) -> str:
    if isinstance(path, str) and path.startswith(PUBLIC_PAGES):
        return "/login"
    return "/login?next=" + quote(safe_next(path), safe="/")


async def admit(
    state: rx.State, cls: type[GuardedState], handler: str
) -> tuple[Identity | None, rx.state.StateUpdate | None]:
    """Whether the tab behind ``state`` (its root) may run ``handler`` of ``cls``: the
    caller's identity (None for a public handler), or what the tab is sent instead."""
    min_role, public = rule_for(cls)
    if handler in public:
        return None, None
    headers = state.router.headers
    identity = await caller(headers.cookie)
    language = (identity and identity.language) or from_accept_language(headers.accept_language)
    if identity is None:
        path = state.router.url.path
        if path.startswith(PUBLIC_PAGES):  # refused, and already where it would be sent
            return None, rx.state.StateUpdate()
        events = [rx.redirect(login_url(path))]
        if sessions.parse_cookie_header(headers.cookie):
            # A cookie that no longer works: the session ended (sign-out elsewhere,
            # password change, deactivation). Same toast id, so it shows once.
            message = translate("access.session_ended", language)
            events.append(rx.toast.warning(message, id="pytake-access"))
        return None, rx.state.StateUpdate(events=Event.from_event_type(events))
    if not identity.at_least(min_role):
        message = translate("access.denied", language)
        toast = rx.toast.error(message, id="pytake-access")
        return None, rx.state.StateUpdate(events=Event.from_event_type([toast]))
    return identity, None


@contextlib.contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """``GuardedState._identity`` answers ``identity`` inside: for work the server starts in
    a tab's state (``ui.tabs``), admitted by ``admit`` like an event."""
    reset = _identity.set(identity)
    try:
        yield
    finally:
        _identity.reset(reset)


class AccessGuard(rx.Middleware):
    async def preprocess(self, app, state, event: Event):
        _identity.set(None)
        cls, handler = _state_class(event.name)
        if cls is None or not issubclass(cls, GuardedState):
            return None  # Reflex's own events (hydrate, on_load dispatch, client storage)
        identity, refused = await admit(state, cls, handler)
        if refused is not None:
            return refused
        _identity.set(identity)
        return None


def navigate_after_sign_in(ticket: str, next_path: str | None) -> rx.event.EventSpec:
    """Have the browser trade the ticket for the cookie, then load the next page."""
    target = safe_next(next_path)
    return rx.call_script(f"window.pytakeSignIn({json.dumps(ticket)}, {json.dumps(target)})")
