"""Work the server starts in a tab's state, without an event from the browser.

The live core hands each open inbox and conversation tab the changes it may see
(``realtime.push``) through ``App.modify_state``, Reflex's public way to change a tab's
state out of band: it takes the tab's lock (so the tab's own events and these never
interleave), and sends the resulting delta to the tab's socket. Nothing here is an event
handler, so no browser can call it (they were events once, which any client could send);
measured, it costs the same CPU as those events did (docs/live-core.md).

The guard still decides, with the same rule and the same answers as for an event
(``guard.admit``): a session that ended sends the tab to the sign-in page, a member whose
role no longer reaches the state gets nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import reflex as rx

from pytake.ui import guard

Apply = Callable[[guard.GuardedState, str], Awaitable[None]]


def runner(
    app: rx.App, cls: type[guard.GuardedState], apply: Apply
) -> Callable[[str], Awaitable[None]]:
    """``run(token)``: ``apply(state, token)`` on the tab's ``cls`` state, as its member,
    under the tab's lock; the delta goes to the tab."""

    async def run(token: str) -> None:
        async with app.modify_state(rx.BaseStateToken(ident=token, cls=cls)) as root:
            state = await root.get_state(cls)
            identity, refused = await guard.admit(root, cls, apply.__name__)
            if refused is None:
                with guard.acting_as(identity):
                    await apply(state, token)
        if refused is not None:
            await app.event_namespace.emit_update(refused, token)

    return run
