"""A real PyTake server (``python -m pytake run``) and headless Chromium to drive it.

Chromium is Debian's (``PYTAKE_CHROMIUM``, default /usr/bin/chromium). Without it these
tests skip, unless ``PYTAKE_REQUIRE_E2E=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis as redis_lib
import uvicorn
from playwright.sync_api import expect

from pytake.sandbox import payloads as p
from pytake.sandbox.graph import GraphSimulator
from tests.bench.servers import stop
from tests.conftest import POSTGRES_ADMIN_URL, TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PYTAKE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts"
E2E_REDIS_URL = os.environ.get("PYTEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/14")
START_TIMEOUT = 300  # the first start installs the frontend packages and builds the app
# Two cores run the server, its workers, the tests and Chromium: allow for a slow first event.
expect.set_options(timeout=15_000)
OWNER = {
    "org": "Acme Ltda",
    "name": "Olivia Owner",
    "email": "olivia@acme.test",
    "password": "correct horse 1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _server_database(tmp_path: Path) -> Iterator[str]:
    """SQLite in embedded runs; a fresh PostgreSQL database when the suite runs on one."""
    if "postgresql" not in os.environ.get("PYTAKE_DATABASE_URL", ""):
        yield f"sqlite:///{tmp_path / 'e2e.db'}"
        return
    name = "pytake_e2e_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    def __init__(self, base_url: str, env: dict[str, str]):
        self.base_url = base_url
        self.env = env

    def add_user(self, email: str, password: str, role: str = "agent") -> None:
        """Add a member of the test organization, with the password on standard input."""
        result = self.cli(
            "user", "add", "--org", OWNER["org"], "--email", email, "--role", role, stdin=password
        )
        assert result.returncode == 0, result.stderr

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run ``python -m pytake`` against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "pytake", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


class _Uvicorn(threading.Thread):
    """The Meta simulator on a real port, in this process so tests can read what it got."""

    def __init__(self, app, port: int) -> None:
        super().__init__(daemon=True)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )

    def run(self) -> None:
        self.server.run()


@pytest.fixture(scope="session")
def graph() -> Iterator[GraphSimulator]:
    port = _free_port()
    simulator = GraphSimulator(f"http://127.0.0.1:{port}")
    thread = _Uvicorn(simulator.app, port)
    thread.start()
    deadline = time.monotonic() + 10
    while not thread.server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield simulator
    thread.server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory, graph) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("PYTAKE_REQUIRE_E2E") == "1":
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    with _server_database(tmp) as database_url:
        env = {
            **os.environ,
            "PYTAKE_DATABASE_URL": database_url,
            "PYTAKE_DATA_DIR": str(tmp / "data"),
            "PYTAKE_SECRET_KEY": TEST_SECRET_KEY,
            "PYTAKE_PORT": str(port),
            "PYTAKE_GRAPH_API_URL": graph.base_url,
        }
        if env.get("PYTAKE_REDIS_URL"):
            # Production mode: several workers share a Redis database of their own, so the
            # integration tests' streams and rate-limit windows cannot reach this server.
            env["PYTAKE_REDIS_URL"] = E2E_REDIS_URL
            redis_lib.Redis.from_url(E2E_REDIS_URL).flushdb()
            env["PYTAKE_WORKERS"] = "2"
        env.pop("PYTAKE_PASSWORD", None)
        log_path = tmp / "server.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pytake", "run", "--host", "127.0.0.1"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base_url, process, log_path)
            yield Server(base_url, env)
        finally:
            stop(process, wait=20)
            ARTIFACTS.mkdir(exist_ok=True)  # kept for reading after a failed run
            (ARTIFACTS / "server.log").write_bytes(log_path.read_bytes())


def _wait_until_up(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"PyTake exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            ready = all(
                httpx.get(base_url + path, timeout=5, follow_redirects=True).status_code == 200
                for path in ("/healthz", "/login", "/healthz", "/setup")
            )
            if ready:
                return
        time.sleep(0.5)
    pytest.fail(f"PyTake did not start in {START_TIMEOUT}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser, server):
    """Open a page in a fresh browser profile (own cookies), in a given language."""
    contexts = []

    def open_page(language: str = "en-US", width: int = 1280, height: int = 800):
        context = browser.new_context(
            locale=language,
            viewport={"width": width, "height": height},
            base_url=server.base_url,
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def organization(server) -> dict:
    """The organization and owner, created by the first-run test or else by the CLI."""
    result = server.cli(
        "init",
        "--org",
        OWNER["org"],
        "--email",
        OWNER["email"],
        "--name",
        OWNER["name"],
        "--password",
        OWNER["password"],
    )
    assert result.returncode == 0 or "already set up" in result.stderr, result.stderr
    return OWNER


def png(width: int = 32, height: int = 32, rgb: bytes = b"\x12\x8c\x7e") -> bytes:
    """A small real PNG of one colour, so the browser can draw it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + rgb * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def sent_to_meta(graph: GraphSimulator, wanted: Callable[[dict], bool], what: str) -> dict:
    """The newest request the simulator took that is ``wanted``, once the outbox made it: a
    bubble shows before its send leaves, so reading ``graph.sent`` at once races the worker."""
    deadline = time.monotonic() + 20
    while True:
        found = next((body for body in reversed(graph.sent) if wanted(body)), None)
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"{what} never reached the simulator"
        time.sleep(0.1)


def wait_path(page, path: str) -> None:
    """Wait for a route, with or without the trailing slash full loads add."""
    page.wait_for_url(re.compile(r"^[^?#]*" + re.escape(path) + r"/?([?#].*)?$"))


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let transitions settle
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.get_by_test_id("login-submit").click()
    wait_path(page, "/inbox")
    page.get_by_test_id("page-title").wait_for()


def send_buttons(page, body: str, *titles: str) -> None:
    """From the open conversation: a message with reply buttons (the composer's dialog)."""
    page.get_by_test_id("composer-more").click()
    page.get_by_test_id("compose-buttons").click()
    page.fill("#compose-body", body)
    for n, title in enumerate(titles, 1):
        page.fill(f"#compose-button{n}", title)
    page.get_by_test_id("dialog-send").click()


def sign_out(page) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    wait_path(page, "/login")


@dataclasses.dataclass(frozen=True)
class Number:
    """A WhatsApp number connected with the CLI, whose webhooks tests can sign and post."""

    server: Server
    pnid: str
    waba: str
    display: str
    secret: str

    def post(self, value: dict, field: str = "messages", *, time: int | None = None) -> None:
        """``time``: the entry's, as Meta stamps account events (template statuses)."""
        body = p.encode(p.envelope(p.entry(self.waba, p.change(value, field), time=time)))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": p.sign(body, self.secret),
        }
        url = self.server.base_url + "/webhooks/whatsapp"
        assert httpx.post(url, content=body, headers=headers).status_code == 200

    def customer_writes(self, customer: str, name: str, text: str, **origin) -> None:
        message = p.text(text, sender=customer, **origin)
        self.post(p.messages_value(self.pnid, self.display, [message], [p.profile(customer, name)]))


def connect_number(server: Server, graph: GraphSimulator, pnid: str, waba: str) -> Number:
    display, token, secret = f"1555{pnid[-7:]}", f"EAA{pnid}", f"secret-{pnid}"
    graph.add_number(pnid, waba, display, token, secret)
    added = server.cli(
        *("channel", "add-whatsapp", "--org", OWNER["org"], "--phone-number-id", pnid),
        *("--waba-id", waba, "--display-number", f"+{display}"),
        *("--access-token", token, "--app-secret", secret, "--verify-token", f"verify-{pnid}"),
    )
    assert added.returncode == 0, added.stderr
    return Number(server, pnid, waba, display, secret)
