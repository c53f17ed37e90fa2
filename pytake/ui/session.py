"""The signed-in user as the browser sees it, the interface language, and signing out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import reflex as rx
from starlette.concurrency import run_in_threadpool

from pytake import db
from pytake.auth.errors import AccessError
from pytake.i18n import LANGUAGES, catalog, normalize_language, translate
from pytake.models import Role
from pytake.realtime import push
from pytake.services import accounts, names
from pytake.ui.guard import GuardedState, access, caller

T = TypeVar("T")

SIGN_OUT_SCRIPT = "window.pytakeSignOut()"  # assets/pytake.js


async def in_transaction(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a service function in a database transaction, off the event loop.

    Any event may read and then write (a sign-in stamps the user), so on SQLite it takes the
    write lock up front: otherwise a background job's commit in between fails it at once.
    """

    def call() -> T:
        with db.session(write=True) as s:
            return fn(s, *args, **kwargs)

    return await run_in_threadpool(call)


@access(public=("detect_language", "set_language"))
class SessionState(GuardedState):
    language: str = "en"
    # An anonymous visitor's choice, kept in the browser until they sign in.
    language_choice: str = rx.LocalStorage("", name="pytake_language", sync=True)
    user_name: str = ""
    user_email: str = ""
    user_role: str = ""

    @rx.var
    def tr(self) -> dict[str, str]:
        return catalog(self.language)

    @rx.var
    def moment_locale(self) -> str:
        """The language as moment.js names its locales (dates drawn in the browser)."""
        return self.language.lower()

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_email)

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role in (Role.ADMIN, Role.OWNER)

    @rx.var
    def is_supervisor(self) -> bool:
        return self.user_role in (Role.SUPERVISOR, Role.ADMIN, Role.OWNER)

    @rx.var
    def role_label(self) -> str:
        return translate(f"role.{self.user_role}", self.language) if self.user_role else ""

    @rx.var
    def initials(self) -> str:
        return names.initials(self.user_name)

    def _text(self, key: str, **params: object) -> str:
        return translate(key, self.language, **params)

    @rx.event
    def detect_language(self):
        """Public: the stored choice, else the browser's Accept-Language."""
        if self.language_choice in LANGUAGES:
            self.language = self.language_choice
        else:
            self.language = self._browser_language()

    @rx.event
    async def set_language(self, language: str):
        """Public: anyone may switch language; a signed-in user's choice is saved."""
        if language not in LANGUAGES:
            return rx.toast.error(self._text("profile.bad_language"))
        self.language = normalize_language(language)
        self.language_choice = self.language
        identity = await caller(self.router.headers.cookie)
        if identity is not None:
            await in_transaction(
                accounts.update_profile, identity, name=identity.name, language=self.language
            )
        return None

    @rx.event
    async def load_identity(self):
        """Guarded: runs first on every protected page; the guard redirects strangers."""
        identity = self._identity()
        push.unwatch(self.router.session.client_token)  # the conversation page watches again
        self.user_name = identity.name
        self.user_email = identity.email
        self.user_role = identity.role.value
        if identity.language:
            self.language = identity.language
        elif self.language_choice in LANGUAGES:
            self.language = self.language_choice
        else:
            self.language = self._browser_language()

    @rx.event
    def open_search(self, form: dict):
        """The top bar's search box: the search page, for what was typed."""
        typed = str(form.get("q", "")).strip()[:200] if isinstance(form, dict) else ""
        return rx.redirect("/search?" + urlencode({"q": typed})) if typed else None

    @rx.event
    async def sign_out(self):
        identity = self._identity()
        # This tab is leaving: the revocation it is about to cause must not send it, already
        # on the sign-in page, there once more (that would cut short the next navigation).
        push.forget(self.router.session.client_token)
        await in_transaction(accounts.sign_out, identity, ip=self._client_ip())
        # Whoever replays this tab's token (Reflex's own hydrate needs no session) must find
        # nothing of what the member saw: every state of the tab goes back to its defaults,
        # and the browser drops the token (assets/pytake.js).
        for cls in _every_state(rx.State):
            (await self.get_state(cls)).reset()
        return rx.call_script(SIGN_OUT_SCRIPT)


def _every_state(root: type[rx.State]) -> list[type[rx.State]]:
    """The state classes under ``root``, leaves included (Reflex loads a tab's states on
    demand, so resetting the root alone would miss those this event did not load)."""
    found = []
    for child in root.get_substates():
        found.append(child)
        found.extend(_every_state(child))
    return found


async def translated(state: rx.State, message: str | AccessError, **params: object) -> str:
    """A text key, or a service's refusal, in the language of the caller's tab."""
    session = await state.get_state(SessionState)
    if isinstance(message, AccessError):
        return message.message(session.language)
    return session._text(message, **params)


def t(key: str) -> rx.Var:
    """A translated text that follows the user's language live."""
    return SessionState.tr[key].to(str)
