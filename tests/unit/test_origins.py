"""Which pages may open PyTake's websocket and use its HTTP API from a browser."""

import engineio

from pytake.web import origins


def test_the_public_url_alone_else_the_request_s_own_origin():
    assert origins.allowed("https://inbox.example.com/app", dev=False) == [
        "https://inbox.example.com"
    ]
    assert origins.allowed(None, dev=False) is None  # engineio: the request's own origin
    assert origins.cors(None, dev=False) == []  # no other origin gets a CORS grant
    assert origins.cors("http://10.0.0.5:3000", dev=False) == ["http://10.0.0.5:3000"]
    assert origins.allowed(None, dev=True) == ["*"]  # run --dev: pages on another port


def test_engineio_still_reads_the_attribute_the_guard_sets():
    """``guard_websocket`` sets engineio's own attribute (Reflex cannot ask for same-origin):
    if an upgrade moves it, this fails instead of the check silently going away."""
    from pytake.pytake import app

    assert isinstance(app.sio.eio, engineio.AsyncServer)
    assert app.sio.eio.cors_allowed_origins is None
    server = engineio.AsyncServer(async_mode="asgi", cors_allowed_origins=None)
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "inbox.test:3000"}
    assert server._cors_allowed_origins(environ) == ["http://inbox.test:3000"]
