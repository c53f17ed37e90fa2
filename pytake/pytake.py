"""The Reflex app: pages, the access guard, HTTP routes and start-up migration."""

from __future__ import annotations

import contextlib
import logging
import os

import reflex as rx
from reflex_base.utils.format import format_event_handler
from starlette.concurrency import run_in_threadpool

from pytake import migrations, redisio
from pytake.aio import stop_if_cancelled
from pytake.auth import identities
from pytake.jobs import runner
from pytake.realtime import dashboards, push
from pytake.sandbox import live
from pytake.settings import get_settings
from pytake.ui import tabs
from pytake.ui.guard import AccessGuard, read_identities
from pytake.ui.notices import NoticeState
from pytake.ui.pages.account import ProfileState, profile_page
from pytake.ui.pages.conversation import ConversationState, conversation_page
from pytake.ui.pages.dashboard import DashboardState, dashboard_page
from pytake.ui.pages.flows import BuilderState, FlowsState, builder_page, flows_page
from pytake.ui.pages.invite import InviteState, invite_page
from pytake.ui.pages.login import LoginState, login_page
from pytake.ui.pages.not_found import not_found_page
from pytake.ui.pages.notifications import PreferencesState, notifications_page
from pytake.ui.pages.reports import ReportsState, reports_page
from pytake.ui.pages.sandbox import PhoneState, phone_page
from pytake.ui.pages.search import SearchState, search_page
from pytake.ui.pages.settings.audit import AuditState, audit_page
from pytake.ui.pages.settings.channels import ChannelsState, channels_page
from pytake.ui.pages.settings.hours import HoursState, hours_page
from pytake.ui.pages.settings.labels import LabelsState, labels_page
from pytake.ui.pages.settings.members import MembersState, members_page
from pytake.ui.pages.settings.organization import OrganizationState, organization_page
from pytake.ui.pages.settings.teams import TeamsState, teams_page
from pytake.ui.pages.setup import SetupState, setup_page
from pytake.ui.pages.templates import TemplatesState, templates_page
from pytake.ui.pages.workspace import ContactsState, InboxState, contacts_page, inbox_page
from pytake.ui.session import SessionState, t
from pytake.web import origins, routes

log = logging.getLogger("pytake")
if not log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_handler)
log.setLevel(get_settings().log_level.upper())

if get_settings().redis_url:
    # Before the app makes Reflex's clients: they read their bound when made.
    _redis = redisio.serve_pages(len(runner.JOBS) if get_settings().run_workers else 0)
    os.environ.setdefault("REFLEX_REDIS_MAX_CONNECTIONS", str(_redis.reflex_each))

app = rx.App(
    api_transformer=routes.build(),
    head_components=[
        rx.el.meta(name="theme-color", content="#128C7E"),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.el.link(rel="manifest", href="/manifest.json"),
        rx.el.link(rel="apple-touch-icon", href="/icons/icon-192.png"),
        rx.el.script(src="/pytake.js"),
    ],
    stylesheets=["/pytake.css"],
    theme=None,
)
app.add_middleware(AccessGuard())


@app.register_lifespan_task
@contextlib.asynccontextmanager
async def migrate_on_start():
    """Every worker waits here until the schema is current (PostgreSQL serializes them)."""
    await run_in_threadpool(migrations.upgrade)
    log.info("database schema is current")
    yield


@app.register_lifespan_task
async def pipeline():
    """Process stored webhooks and download media here, unless a separate worker does it."""
    if get_settings().run_workers:
        await runner.serve()


@app.register_lifespan_task
async def live_updates():
    """Changes to a conversation reach the tabs of this worker that show it."""
    await push.relay(
        app,
        {
            push.CONVERSATION: tabs.runner(app, ConversationState, ConversationState._take_updates),
            push.INBOX: tabs.runner(app, InboxState, InboxState._take_updates),
            push.NOTICE: format_event_handler(NoticeState.on_activity),
        },
        _connected,
    )


@app.register_lifespan_task
async def revocations():
    """Sessions ended or changed in any process are forgotten here too (auth.identities),
    and the tabs they cover check theirs at once: an ended session's tab leaves."""
    recheck = format_event_handler(NoticeState.recheck)
    await identities.follow(then=lambda revoked: push.recheck(app, revoked, recheck, _connected))


@app.register_lifespan_task
async def fresh_identities():
    """The identities this worker's tabs use are read again before they expire, in bulk."""
    await identities.keep_fresh(read_identities)


@app.register_lifespan_task
async def presence():
    """The members behind this worker's open tabs stay online (see realtime.presence)."""
    await push.vouch(_connected)


@app.register_lifespan_task
async def boards():
    """Open dashboards are worked out once per board here and handed to their tabs."""
    await dashboards.serve(app, format_event_handler(DashboardState.on_changed), _connected)


@app.register_lifespan_task
async def sandbox_phones():
    """The sandbox phone pages of this worker follow what their customers' phones show."""
    if not get_settings().sandbox:
        return
    sandbox, seen = live.current(), 0
    handler = format_event_handler(PhoneState.on_changed)
    while True:
        stop_if_cancelled()
        seen = await sandbox.changed(seen)
        await push.nudge(app, push.SANDBOX, handler, _connected)


def _connected(token: str) -> bool:
    """Whether a tab's websocket is connected to this worker."""
    return token in app.event_namespace.token_to_sid


def _page(route: str, title, component, *on_load) -> None:
    """The tab's title follows the user's language, like the page itself."""
    title = (t(title) if isinstance(title, str) else title) + " · PyTake"
    app.add_page(component, route=route, title=title, on_load=list(on_load))


def _protected(route: str, title, component, state) -> None:
    """The guard turns strangers away at the first event: ``load_identity``."""
    _page(route, title, component, SessionState.load_identity, NoticeState.arm, state.load)


def _public(route: str, title_key: str, component, state) -> None:
    _page(route, title_key, component, SessionState.detect_language, state.on_load)


_public("/login", "login.title", login_page, LoginState)
_public("/invite/[token]", "invitation.page_title", invite_page, InviteState)
_public("/setup", "setup.page_title", setup_page, SetupState)
_protected("/inbox/[conversation_id]", "nav.conversation", conversation_page, ConversationState)
_protected("/inbox", InboxState.title_prefix + t("nav.inbox"), inbox_page, InboxState)
_protected("/contacts", "nav.contacts", contacts_page, ContactsState)
_protected("/templates", "nav.templates", templates_page, TemplatesState)
_protected("/dashboard", "nav.dashboard", dashboard_page, DashboardState)
_protected("/reports", "nav.reports", reports_page, ReportsState)
_protected("/flows/[flow_id]", "nav.flows", builder_page, BuilderState)
_protected("/flows", "nav.flows", flows_page, FlowsState)
_protected("/settings", "nav.settings", organization_page, OrganizationState)
_protected("/settings/channels", "settings.section.channels", channels_page, ChannelsState)
_protected("/settings/members", "settings.section.members", members_page, MembersState)
_protected("/settings/teams", "settings.section.teams", teams_page, TeamsState)
_protected("/settings/labels", "settings.section.labels", labels_page, LabelsState)
_protected("/settings/hours", "settings.section.hours", hours_page, HoursState)
_protected("/settings/audit", "settings.section.audit", audit_page, AuditState)
_protected("/profile", "nav.profile", profile_page, ProfileState)
_protected("/notifications", "nav.notifications", notifications_page, PreferencesState)
_protected("/search", "nav.search", search_page, SearchState)
if get_settings().sandbox:
    _protected("/sandbox/phone", "nav.sandbox", phone_page, PhoneState)


_page("404", "not_found.title", not_found_page, SessionState.detect_language)


def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")


app.add_page(index, route="/", on_load=rx.redirect("/inbox"), title="PyTake")
origins.guard_websocket(app, get_settings().public_url, origins.dev_server())
