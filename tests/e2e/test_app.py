"""User flows in Chromium against a running PyTake (first test starts from an empty database)."""

from __future__ import annotations

import json

import httpx
import pytest
import simple_websocket
from playwright.sync_api import expect

from pytake.auth.sessions import COOKIE_NAME
from pytake.ui.pages.settings.channels import ChannelsState
from pytake.ui.pages.settings.members import MembersState
from pytake.ui.pages.settings.organization import OrganizationState
from tests.e2e.conftest import OWNER, screenshot, sign_in, sign_out, wait_path
from tests.e2e.wsclient import ReflexSocket

pytestmark = pytest.mark.e2e
AGENT = {"email": "arthur@acme.test", "password": "agent secret 1"}


def test_first_run_setup_sign_out_wrong_password_sign_in_and_guarded_pages(server, new_page):
    portuguese = new_page("pt-BR")
    portuguese.goto("/setup")
    expect(portuguese.get_by_role("heading", name="Boas-vindas ao PyTake")).to_be_visible()
    expect(portuguese).to_have_title("Configuração inicial · PyTake")
    screenshot(portuguese, "setup-pt-BR")
    page = new_page()
    page.goto("/")
    wait_path(page, "/setup")
    expect(page.get_by_role("heading", name="Welcome to PyTake")).to_be_visible()
    screenshot(page, "setup-en")
    page.fill("input[name=organization]", OWNER["org"])
    page.fill("input[name=name]", OWNER["name"])
    page.fill("input[name=email]", OWNER["email"])
    page.fill("input[name=password]", "short")
    page.fill("input[name=password_confirm]", "short")
    page.get_by_test_id("setup-submit").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 10 characters")
    page.fill("input[name=password]", OWNER["password"])
    page.fill("input[name=password_confirm]", OWNER["password"])
    page.get_by_test_id("setup-submit").click()
    wait_path(page, "/inbox")
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    expect(page.get_by_test_id("nav-settings")).to_be_visible()
    expect(page).to_have_title("Inbox · PyTake")
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find(COOKIE_NAME) == -1
    screenshot(page, "inbox-en")

    sign_out(page)
    page.goto("/setup")
    wait_path(page, "/login")  # setup is closed once an owner exists
    page.fill("input[name=email]", OWNER["email"])
    page.fill("input[name=password]", "wrong password!")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    screenshot(page, "login-error-en")

    sign_in(page, OWNER["email"], OWNER["password"])
    page.get_by_test_id("nav-settings").click()
    wait_path(page, "/settings")
    page.get_by_test_id("settings-tab-members").click()
    wait_path(page, "/settings/members")
    expect(page.get_by_text(OWNER["email"])).to_be_visible()
    screenshot(page, "settings-en")
    sign_out(page)
    page.goto("/settings")
    wait_path(page, "/login")
    assert "next=/settings" in page.url
    expect(page.get_by_text(OWNER["email"])).to_have_count(0)


def test_portuguese_browser_gets_portuguese_screens(server, organization, new_page):
    email, password = "paula@acme.test", "senha da paula 1"
    server.add_user(email, password, role="supervisor")
    page = new_page("pt-BR")
    page.goto("/login")
    expect(page.get_by_role("heading", name="Entrar")).to_be_visible()
    screenshot(page, "login-pt-BR")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "senha errada!!")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("alert")).to_have_text("E-mail ou senha incorretos.")
    sign_in(page, email, password)
    # Paula never chose a language: her browser's applies.
    expect(page.get_by_test_id("page-title")).to_have_text("Caixa de entrada")
    expect(page).to_have_title("Caixa de entrada · PyTake")
    expect(page.get_by_test_id("nav-dashboard")).to_contain_text("Painel")
    screenshot(page, "inbox-pt-BR")
    page.goto("/dashboard")
    expect(page.get_by_test_id("stat-open")).to_have_text("0")
    screenshot(page, "dashboard-pt-BR")
    page.goto("/profile")
    expect(page.get_by_role("heading", name="Seus dados")).to_be_visible()
    screenshot(page, "profile-pt-BR")


@pytest.mark.parametrize(
    ("language", "title", "back"),
    [
        ("en-US", "Page not found", "Back to the inbox"),
        ("pt-BR", "Página não encontrada", "Voltar para a caixa de entrada"),
    ],
)
def test_an_unknown_address_says_so_in_the_visitor_s_language(
    server, organization, new_page, language, title, back
):
    page = new_page(language)
    page.goto("/no/such/page")
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page).to_have_title(f"{title} · PyTake")
    expect(page.get_by_test_id("not-found-back")).to_have_text(back)
    screenshot(page, f"not-found-{language}")


def test_switching_language_is_live_and_remembered(server, organization, new_page):
    page = new_page("en-US")
    sign_in(page, organization["email"], organization["password"])
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Language").click()
    page.get_by_role("menuitem", name="Português (Brasil)").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Caixa de entrada")
    page.reload()
    expect(page.get_by_test_id("page-title")).to_have_text("Caixa de entrada")
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Idioma").click()
    page.get_by_role("menuitem", name="English").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Inbox")


def test_agent_sees_no_settings_and_forged_admin_events_are_refused(server, organization, new_page):
    server.add_user(AGENT["email"], AGENT["password"])
    page = new_page()
    sign_in(page, AGENT["email"], AGENT["password"])
    expect(page.get_by_test_id("nav-inbox")).to_be_visible()
    expect(page.get_by_test_id("nav-settings")).to_have_count(0)
    page.goto("/settings/members")
    expect(page.get_by_text("You don't have permission to do that.")).to_be_visible()
    expect(page.get_by_text(organization["email"])).to_have_count(0)

    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    socket = ReflexSocket(server.base_url, f"{COOKIE_NAME}={cookie['value']}")
    try:
        answers = socket.send(
            f"{MembersState.get_full_name()}.set_member_role",
            {"user_id": 1, "role": "agent"},
            "/settings/members",
        )
        forged = [
            (ChannelsState, "reveal", {"channel_id": 1}, "/settings/channels"),
            (OrganizationState, "save", {"form": {"visibility": "all"}}, "/settings"),
        ]
        others = [
            socket.send(f"{state.get_full_name()}.{handler}", payload, path)
            for state, handler, payload, path in forged
        ]
    finally:
        socket.close()
    assert any("permission" in json.dumps(a) for a in answers), answers
    for refused in others:
        assert any("permission" in json.dumps(a) for a in refused), refused
        assert "verify" not in json.dumps(refused)
    listing = server.cli("user", "list", "--org", organization["org"]).stdout
    owner_line = next(line for line in listing.splitlines() if organization["email"] in line)
    assert " owner " in owner_line  # the forged demotion did not happen


def test_anonymous_forged_event_is_redirected_to_login(server, organization):
    socket = ReflexSocket(server.base_url)
    try:
        answers = socket.send(
            f"{MembersState.get_full_name()}.set_member_active",
            {"user_id": 1, "active": False},
            "/settings/members",
        )
    finally:
        socket.close()
    assert any("/login" in json.dumps(a) for a in answers), answers
    listing = server.cli("user", "list", "--org", organization["org"]).stdout
    assert all(" no " not in line for line in listing.splitlines() if "olivia" in line)


def test_a_user_deactivated_from_the_cli_leaves_their_open_tab_without_a_click(
    server, organization, new_page
):
    """The CLI is another process: the revocation reaches the server all the same."""
    email = "dora@acme.test"
    server.add_user(email, "dora secret 1")
    page = new_page()
    sign_in(page, email, "dora secret 1")
    result = server.cli("user", "deactivate", "--org", organization["org"], "--email", email)
    assert result.returncode == 0, result.stderr
    page.wait_for_url("**/login**", timeout=3000)
    expect(page.get_by_text("Your session has ended. Please sign in again.")).to_be_visible()
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "dora secret 1")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")


def test_phone_width_shell(server, organization, new_page):
    page = new_page(width=390, height=844)
    sign_in(page, organization["email"], organization["password"])
    expect(page.get_by_test_id("sidebar")).to_be_hidden()
    expect(page.get_by_test_id("page-title")).to_be_visible()
    screenshot(page, "inbox-phone-en")


def test_profile_name_language_and_password_change(server, organization, new_page):
    email, old, new = "pedro@acme.test", "pedro secret 1", "pedro secret 2"
    server.add_user(email, old)
    other_tab = new_page()
    sign_in(other_tab, email, old)
    page = new_page()
    sign_in(page, email, old)
    page.goto("/profile")
    name = page.locator("input[name=name]")
    expect(name).to_have_value("Pedro")
    name.fill("Pedro Álvares")
    page.get_by_test_id("profile-save").click()
    expect(page.get_by_test_id("user-menu")).to_contain_text("Pedro Álvares")

    page.fill("input[name=current_password]", "not my password")
    page.fill("input[name=new_password]", new)
    page.fill("input[name=new_password_confirm]", new)
    page.get_by_test_id("password-save").click()
    expect(page.get_by_role("alert")).to_have_text("Your current password is not correct.")
    page.fill("input[name=current_password]", old)
    page.fill("input[name=new_password_confirm]", new + "x")
    page.get_by_test_id("password-save").click()
    expect(page.get_by_role("alert")).to_have_text("The passwords don't match.")
    page.fill("input[name=new_password_confirm]", new)
    page.get_by_test_id("password-save").click()
    expect(page.get_by_text("Password changed. 1 other session(s) signed out.")).to_be_visible()
    screenshot(page, "profile-en")

    wait_path(other_tab, "/login")  # the other browser's session ended: its tab left by itself
    page.get_by_test_id("nav-dashboard").click()  # this one goes on
    wait_path(page, "/dashboard")
    sign_out(page)
    sign_in(page, email, new)


def test_owner_changes_a_role_in_settings(server, organization, new_page):
    server.add_user("sara@acme.test", "sara secret 12")
    page = new_page()
    sign_in(page, organization["email"], organization["password"])
    page.goto("/settings/members")
    row = page.get_by_role("row").filter(has_text="sara@acme.test")
    expect(row.get_by_text("Agent")).to_be_visible()
    row.get_by_role("combobox").click()
    page.get_by_role("option", name="Supervisor").click()
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()
    listing = server.cli("user", "list", "--org", organization["org"]).stdout
    assert any("sara@acme.test" in line and "supervisor" in line for line in listing.splitlines())
    row.get_by_role("button", name="Deactivate").click()
    page.get_by_test_id("confirm-action").click()
    expect(row.get_by_text("Deactivated")).to_be_visible()
    screenshot(page, "settings-members-en")


def test_signed_in_login_page_never_redirects_off_site(server, organization, new_page):
    page = new_page()
    sign_in(page, organization["email"], organization["password"])
    page.goto("/login?next=//evil.example/phish")
    wait_path(page, "/inbox")
    assert page.url.startswith(server.base_url)


def test_the_websocket_refuses_other_origins_and_pages_refuse_other_frames(
    server, graph, organization, new_page
):
    """A page of another origin of the same site (here another port) would send the
    signed-in cookie with its websocket: the server refuses the handshake, while the app's
    own pages connect. Pages may be framed only by PyTake's own."""
    page = new_page()
    sign_in(page, organization["email"], organization["password"])
    events = server.base_url.replace("http", "ws", 1) + "/_event/?EIO=4&transport=websocket"
    attempt = """url => new Promise(done => {
        const ws = new WebSocket(url);
        ws.onopen = () => { done("open"); ws.close(); };
        ws.onerror = () => done("refused");
    })"""
    assert page.evaluate(attempt, events) == "open"  # the app's own origin
    page.goto(f"{graph.base_url}/")  # another origin, the cookie still sent (same host)
    assert page.evaluate(attempt, events) == "refused"
    for origin in ("http://evil.example", server.base_url.replace("127.0.0.1", "localhost")):
        with pytest.raises(simple_websocket.ConnectionError):
            ReflexSocket(server.base_url, origin=origin).close()
    ReflexSocket(server.base_url).close()  # no Origin: not a browser's page
    answer = httpx.get(f"{server.base_url}/login")
    assert answer.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
