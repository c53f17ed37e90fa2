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
from pytake.services import notices
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
    def arm(self):
        """Each protected page: this tab hears of changes from now on."""
        identity = self._identity()
        if not self._since:
            self._since = utcnow().isoformat()
        push.listen(self.router.session.client_token, identity.organization_id)

    @rx.event
    async def on_activity(self, conversation_id: int):
        # Pushed for one conversation; it also covers those that changed while it waited.
        covered = push.begun(self.router.session.client_token, push.NOTICE)
        if isinstance(conversation_id, int):  # a hostile client may send anything
            covered.add(conversation_id)
        if not self._since:
            return None
        session = await self.get_state(SessionState)
        found = await in_transaction(
            notices.about,
            self._identity(),
            covered,
            dt.datetime.fromisoformat(self._since),
            set(self._seen),
            session.language,
        )
        if not found:
            return None
        self._seen = [*self._seen, *(n["key"] for n in found)][-REMEMBERED:]
        here = self.router.url.path.rstrip("/")
        events = []
        for notice in found:
            title = session._text(f"notice.{notice['kind']}", name=notice["name"])
            told = {
                "title": title,
                "body": notice["body"],
                "url": notice["url"],
                "sound": self.sound == "on" and not notice["quiet"],
                "volume": self.volume,
                "desktop": self.desktop == "on" and not notice["quiet"],
            }
            events.append(rx.call_script(f"window.pytakeNotify({json.dumps(told)})"))
            if here != notice["url"]:  # the conversation on screen shows it already
                events.append(
                    rx.toast.info(
                        title,
                        description=notice["body"],
                        duration=TOAST_MS,
                        action=ToastAction(
                            label=session._text("notice.open"), on_click=rx.redirect(notice["url"])
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
