"""An invitation link opened in Chromium: the invitee chooses a name and password and lands
in the inbox signed in; a spent or expired link says so and shows no form."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from pytake.settings import normalize_database_url
from tests.e2e.conftest import OWNER, screenshot, wait_path

pytestmark = pytest.mark.e2e
PASSWORD = "invited secret 4"


def _invite(server, email: str, role: str = "agent") -> str:
    """The link's path (the test server has no PYTAKE_PUBLIC_URL)."""
    result = server.cli("user", "invite", "--org", OWNER["org"], "--email", email, "--role", role)
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    assert path.startswith("/invite/"), result.stdout
    return path


def _expire(server, email: str) -> None:
    engine = sa.create_engine(normalize_database_url(server.env["PYTAKE_DATABASE_URL"]))
    with engine.begin() as db:
        db.execute(
            sa.text("UPDATE invitation SET expires_at = created_at WHERE email = :email"),
            {"email": email},
        )
    engine.dispose()


def test_an_invited_supervisor_joins_and_lands_in_the_inbox(server, organization, new_page):
    path = _invite(server, "nadia@acme.test", "supervisor")
    page = new_page()
    page.goto(path)
    expect(page.get_by_role("heading", name="Join Acme Ltda")).to_be_visible()
    expect(page.get_by_text("Your role will be Supervisor.")).to_be_visible()
    expect(page.locator("input[name=email]")).to_have_value("nadia@acme.test")
    expect(page).to_have_title("Invitation · PyTake")
    screenshot(page, "invite-en")
    page.fill("input[name=name]", "Nadia Nunes")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD + "x")
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_role("alert")).to_have_text("The passwords don't match.")
    page.fill("input[name=password_confirm]", PASSWORD)
    page.get_by_test_id("invite-submit").click()
    wait_path(page, "/inbox")
    page.get_by_test_id("user-menu").click()
    expect(page.get_by_role("menu")).to_contain_text("nadia@acme.test")
    expect(page.get_by_role("menu")).to_contain_text("Supervisor")

    again = new_page()
    again.goto(path)
    expect(again.get_by_test_id("invite-refusal")).to_contain_text("already been used")
    expect(again.locator("input[name=password]")).to_have_count(0)
    listing = server.cli("user", "list", "--org", OWNER["org"]).stdout
    assert "nadia@acme.test" in listing and "Nadia Nunes" in listing


def test_in_portuguese_and_once_expired(server, organization, new_page):
    path = _invite(server, "ines@acme.test")
    page = new_page("pt-BR")
    page.goto(path)
    expect(page.get_by_role("heading", name="Junte-se a Acme Ltda")).to_be_visible()
    expect(page.get_by_text("Seu papel na equipe será Atendente.", exact=False)).to_be_visible()
    expect(page).to_have_title("Convite · PyTake")
    screenshot(page, "invite-pt-BR")
    _expire(server, "ines@acme.test")
    page.fill("input[name=name]", "Inês Prado")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD)
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_test_id("invite-refusal")).to_have_text(
        "Este convite expirou. Peça um novo link a quem convidou você."
    )
    page.reload()
    expect(page.get_by_role("heading", name="Este convite não pode ser usado")).to_be_visible()
    expect(page.locator("input[name=name]")).to_have_count(0)
    screenshot(page, "invite-expired-pt-BR")
    page.get_by_test_id("invite-sign-in").click()
    wait_path(page, "/login")


def test_a_mangled_link_is_refused(server, organization, new_page):
    page = new_page()
    page.goto("/invite/not-a-real-token")
    expect(page.get_by_test_id("invite-refusal")).to_contain_text("doesn't work")
    screenshot(page, "invite-invalid-en")
