"""Notices in every signed-in tab: a toast for what needs the member's attention, and, with
assets/pytake.js, a count in the tab's title and icon, a sound and desktop notifications
while the tab is in the background. Sound and desktop notifications are chosen per device
(kept in the browser), from the user menu."""

from __future__ import annotations

import datetime as dt
import json

import reflex as rx
from reflex_components_sonner.toast import ToastAction

from pytake.models import utcnow
from pytake.realtime import push
from pytake.services import notices, preferences, scope
from pytake.ui.guard import GuardedState
from pytake.ui.session import SessionState, in_transaction

VOLUMES = ("0.2", "0.4", "0.6", "0.8", "1")
REMEMBERED = 300  # ids of messages already told about, per tab
TOAST_MS = 8000


class NoticeState(GuardedState):
    sound: str = rx.LocalStorage("on", name="pytake-sound", sync=True)
    desktop: str = rx.LocalStorage("", name="pytake-desktop", sync=True)
    volume: str = rx.LocalStorage("0.6", name="pytake-volume", sync=True)
    _since: str = ""
    _seen: list[int] = []

    @rx.event
    async def arm(self):
        """Each protected page: this tab hears of the changes that may concern its member
        from now on (their scope, read fresh, decides which)."""
        identity = self._identity()
        if not self._since:
            self._since = utcnow().isoformat()
        push.listen(
            self.router.session.client_token,
            identity.organization_id,
            identity.user_id,
            identity.session_id,
            await in_transaction(scope.scope_of, identity),
            dt.datetime.fromisoformat(self._since),
        )

    @rx.event
    def recheck(self):
        """Pushed when this member's identity was revoked or changed (``push.recheck``): the
        guard read it again before this runs, and sent an ended session to sign in."""

    @rx.event
    async def on_activity(self):
        """Pushed with notices waiting (``push.take_notices``): those its worker decided,
        and conversations this tab looks into itself."""
        waiting = push.take_notices(self.router.session.client_token)
        if not self._since:
            return None
        identity, found = self._identity(), list(waiting.notices)
        if waiting.look:
            since = dt.datetime.fromisoformat(self._since)
            found += await in_transaction(notices.about, identity, waiting.look, since)
        seen = set(self._seen)
        found = list({n.key: n for n in found if n.key not in seen}.values())
        if not found:
            return None
        wanted = await in_transaction(preferences.current, identity)
        found = notices.chosen(found, wanted, utcnow())
        self._seen = [*self._seen, *(n.key for n in found)][-REMEMBERED:]
        session = await self.get_state(SessionState)
        return [event for notice in found for event in self._shown(notice, session)]

    def _shown(self, notice: notices.Notice, session: SessionState) -> list:
        """The notice as the browser shows it: a sound and desktop notification in the
        background (assets/pytake.js), a toast unless its conversation is on screen."""
        title = session._text(f"notice.{notice.kind}", name=notice.name)
        body = notice.body(session.language)
        told = {
            "title": title,
            "body": body,
            "url": notice.url,
            "sound": self.sound == "on" and not notice.quiet,
            "volume": self.volume,
            "desktop": self.desktop == "on" and not notice.quiet,
        }
        events = [rx.call_script(f"window.pytakeNotify({json.dumps(told)})")]
        if self.router.url.path.rstrip("/") != notice.url:  # on screen, it shows already
            events.append(
                rx.toast.info(
                    title,
                    description=body,
                    duration=TOAST_MS,
                    action=ToastAction(
                        label=session._text("notice.open"), on_click=rx.redirect(notice.url)
                    ),
                )
            )
        return events

    @rx.event
    def toggle_sound(self):
        self.sound = "" if self.sound == "on" else "on"

    @rx.event
    def set_volume(self, value: str):
        """Played once at the new volume, so the member hears what they chose."""
        if value not in VOLUMES:
            return None
        self.volume = value
        return rx.call_script(f"window.pytakeNotices.sound({json.dumps(value)})")

    @rx.event
    def toggle_desktop(self):
        """Asked for here, on the member's click, never on a page load."""
        if self.desktop == "on":
            self.desktop = ""
            return None
        return rx.call_script("window.pytakeNotices.ask()", callback=NoticeState.allowed)

    @rx.event
    async def allowed(self, answer: str):
        if answer == "granted":
            self.desktop = "on"
            return None
        self.desktop = ""
        session = await self.get_state(SessionState)
        return rx.toast.warning(session._text("notice.desktop_refused"))
