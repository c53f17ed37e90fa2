"""Refusals the services raise; the ``code`` is an i18n key the UI and CLI translate."""

from __future__ import annotations

from pytake.i18n import translate


class AccessError(Exception):
    """A refusal with a translatable reason; never carries internal detail."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def message(self, language: str | None = None) -> str:
        return translate(self.code, language, **self.params)


class NotAllowed(AccessError):
    """The caller is signed in but may not do this."""
