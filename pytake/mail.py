"""Outgoing e-mail through the SMTP server of the ``PYTAKE_SMTP_*`` settings.

Sending is synchronous (call it off the event loop). Every failure becomes a ``MailError``
whose message is a plain reason an admin can act on; the password never appears in it.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from pytake.settings import Settings, get_settings


class MailError(Exception):
    """The message could not be handed to the SMTP server; ``str()`` says why."""


def configured() -> bool:
    return get_settings().smtp_host is not None


def send(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message; raise ``MailError`` when the server cannot be reached or refuses."""
    settings = get_settings()
    if settings.smtp_host is None:
        raise MailError("no SMTP server is configured (PYTAKE_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(settings.smtp_from)[1].rpartition("@")[2])
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with _connect(settings) as smtp:
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"{server} refused the SMTP user name or password: {_reply(exc)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(_reply(error) for error in exc.recipients.values())
        raise MailError(f"{server} refused the recipient {to}: {reasons}") from None
    except smtplib.SMTPSenderRefused as exc:
        raise MailError(f"{server} refused the sender {exc.sender}: {_reply(exc)}") from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"{server} refused the message: {_reply(exc)}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"{server}: {exc}") from None
    except OSError as exc:  # refused, unreachable, timed out, TLS failure
        raise MailError(f"cannot reach {server}: {exc.strerror or exc}") from None


def _connect(settings: Settings) -> smtplib.SMTP:
    timeout = settings.smtp_timeout
    if settings.smtp_security == "ssl":
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    except BaseException:
        smtp.close()
        raise
    return smtp


def _reply(error: smtplib.SMTPResponseException | tuple) -> str:
    """The server's reply as ``550 text``."""
    code, raw = (error.smtp_code, error.smtp_error) if not isinstance(error, tuple) else error
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return f"{code} {' '.join(text.split())}"
