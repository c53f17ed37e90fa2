"""Invitation e-mails through a real (local) SMTP server, and what an admin sees when the
server refuses or cannot be reached: the invitation is kept and the link can be copied."""

import pytest

from pytake import db, mail
from pytake.models import Invitation, Role
from pytake.services import invitations
from pytake.settings import SettingsError, get_settings
from tests.integration.conftest import SMTP_PASSWORD, free_port, who


def _invitation(invitation_id: int | None = None) -> Invitation:
    with db.session() as s:
        return s.get(Invitation, invitation_id)


def _pending(world) -> list[dict]:
    with db.session() as s:
        return invitations.pending(s, who(world, "ana", Role.ADMIN))


async def _send(world, email="new@b.co", language="en", **kw) -> dict:
    return await invitations.send_invitation(
        who(world, "ana", Role.ADMIN), email=email, role="supervisor", language=language, **kw
    )


async def test_the_invitation_email_arrives_with_the_link(world, smtp):
    result = await _send(world, language="pt-BR")
    assert result["emailed"] is True and result["mail_error"] == ""
    assert result["link"].startswith("https://inbox.example.com/invite/")
    [message] = smtp.messages
    assert message["X-Envelope-To"] == "new@b.co"
    assert message["From"] == "PyTake <inbox@acme.test>" and message["To"] == "new@b.co"
    assert message["Subject"] == "ana convidou você para Acme no PyTake"
    body = message.get_content()
    assert result["link"] in body.split()
    assert "papel de Supervisor" in body and "72 horas" in body
    token = result["link"].rsplit("/", 1)[1]
    with db.session() as s:
        assert invitations.lookup(s, token).email == "new@b.co"
    [row] = _pending(world)
    assert row["emailed"] is True


async def test_without_a_public_url_the_browsers_origin_makes_the_link(world, smtp, settings_env):
    settings_env(public_url=None)
    result = await _send(world, origin="http://10.0.0.5:3000")
    assert result["emailed"] is True
    assert result["link"].startswith("http://10.0.0.5:3000/invite/")
    assert result["link"] in smtp.messages[0].get_content()
    result = await _send(world, email="other@b.co")
    assert result["link"].startswith("/invite/") and result["emailed"] is False
    assert "PYTAKE_PUBLIC_URL" in result["mail_error"]


async def test_without_smtp_the_link_is_only_shown(world, settings_env):
    settings_env(smtp_host=None, smtp_from=None, public_url=None)
    assert not mail.configured()
    result = await _send(world)
    assert result["link"].startswith("/invite/")
    assert (result["emailed"], result["mail_error"]) == (False, "")


async def test_a_refused_recipient_keeps_the_invitation(world, smtp, caplog):
    smtp.refused.add("new@b.co")
    result = await _send(world, language="pt-BR")
    assert result["emailed"] is False
    assert result["mail_error"].startswith("Não foi possível enviar o e-mail")
    assert "550" in result["mail_error"] and "No such mailbox here" in result["mail_error"]
    assert smtp.messages == []
    [row] = _pending(world)
    assert (row["email"], row["emailed"]) == ("new@b.co", False)
    assert SMTP_PASSWORD not in caplog.text + result["mail_error"]


async def test_an_unreachable_server_keeps_the_invitation(world, smtp, settings_env):
    settings_env(smtp_port=str(free_port()))  # nothing listens there
    result = await _send(world)
    assert result["emailed"] is False
    assert "cannot reach 127.0.0.1" in result["mail_error"]
    assert result["link"].startswith("https://inbox.example.com/invite/")
    assert [row["email"] for row in _pending(world)] == ["new@b.co"]


def test_a_wrong_smtp_password_is_reported_without_it(smtp, settings_env):
    settings_env(smtp_password="wrong-password-1234")
    with pytest.raises(mail.MailError) as caught:
        mail.send("a@b.co", "Hi", "text")
    assert "refused the SMTP user name or password" in str(caught.value)
    assert "wrong-password-1234" not in str(caught.value)
    assert "wrong-password-1234" not in repr(get_settings())


def test_starttls_refused_by_the_server_is_a_plain_reason(smtp, settings_env):
    settings_env(smtp_security="starttls")
    with pytest.raises(mail.MailError, match="STARTTLS"):
        mail.send("a@b.co", "Hi", "text")


def test_html_goes_as_an_alternative_to_the_text(smtp):
    mail.send("a@b.co", "Olá", "plain words", html="<p>rich words</p>")
    [message] = smtp.messages
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == "plain words"
    assert message.get_body(("html",)).get_content().strip() == "<p>rich words</p>"
    assert message["Subject"] == "Olá"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"smtp_host": "smtp.example.com"}, "PYTAKE_SMTP_FROM is required"),
        ({"smtp_host": "h", "smtp_from": "nobody"}, "PYTAKE_SMTP_FROM: use an address"),
        (
            {"smtp_host": "h", "smtp_from": "a@b.co", "smtp_username": "u"},
            "PYTAKE_SMTP_PASSWORD is required",
        ),
        ({"smtp_security": "tls"}, "PYTAKE_SMTP_SECURITY:"),
        ({"invitation_hours": "0"}, "PYTAKE_INVITATION_HOURS:"),
    ],
)
def test_smtp_settings_are_checked(settings_env, values, expected):
    settings_env(**values)
    with pytest.raises(SettingsError) as caught:
        get_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)
