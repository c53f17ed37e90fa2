"""Reflex configuration, derived from PyTake's own settings (``PYTAKE_*``)."""

import reflex as rx

from pytake.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="pytake",
    redis_url=settings.redis_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    trusted_proxy_hops=settings.trusted_proxy_hops,
    cors_allowed_origins=[settings.public_url] if settings.public_url else ["*"],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="teal", gray_color="slate", radius="medium")
        ),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
