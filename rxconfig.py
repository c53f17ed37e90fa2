"""Reflex configuration, derived from PyTake's own settings (``PYTAKE_*``)."""

import reflex as rx

from pytake.settings import get_settings
from pytake.web import origins

settings = get_settings()

config = rx.Config(
    app_name="pytake",
    redis_url=settings.redis_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    trusted_proxy_hops=settings.trusted_proxy_hops,
    # The HTTP API's CORS grant; the websocket's own check: pytake.web.origins.
    cors_allowed_origins=origins.cors(settings.public_url, origins.dev_server()),
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="teal", gray_color="slate", radius="medium")
        ),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
