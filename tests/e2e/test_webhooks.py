"""Meta's side of a real deployment: a number connected with the CLI, the verification
handshake, and signed webhooks processed by the running server's own pipeline."""

from __future__ import annotations

import time

import httpx
import pytest
import sqlalchemy as sa

from pytake.sandbox import payloads as p
from pytake.settings import normalize_database_url
from tests.e2e.conftest import OWNER

pytestmark = pytest.mark.e2e
PNID, WABA, DISPLAY = "120033445566778", "990011223344556", "15550002222"
SECRET, VERIFY = "e2e-app-secret", "e2e-verify-token"


def _wait_for(query: str, url: str, expected: int, params: dict | None = None) -> int:
    engine = sa.create_engine(normalize_database_url(url))
    deadline = time.monotonic() + 30
    try:
        while True:
            with engine.connect() as connection:
                found = connection.execute(sa.text(query), params or {}).scalar_one()
            if found == expected or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
    finally:
        engine.dispose()


def _add_number(server, *secrets: str, stdin: str | None = None):
    return server.cli(
        *("channel", "add-whatsapp", "--org", OWNER["org"], "--phone-number-id", PNID),
        *("--waba-id", WABA, "--display-number", "+1 555 000 2222"),
        *secrets,
        stdin=stdin,
    )


def test_connected_number_receives_and_processes_signed_webhooks(server, organization):
    dash = ("--access-token", "-", "--app-secret", "-", "--verify-token", "-")
    added = _add_number(server, *dash, stdin=f"EAAe2e\n{SECRET}\n{VERIFY}\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().isdigit()
    others = ("--access-token", "x", "--app-secret", "y", "--verify-token", "z" * 8)
    again = _add_number(server, *others)
    assert again.returncode == 1 and "already connected" in again.stderr

    url = server.base_url + "/webhooks/whatsapp"
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "8642"}
    # Another test's webhooks may have loaded the server's channel directory a moment ago:
    # a number just connected is found within a second.
    deadline = time.monotonic() + 5
    while (answer := httpx.get(url, params=params)).status_code != 200:
        assert time.monotonic() < deadline, answer.status_code
        time.sleep(0.25)
    assert answer.text == "8642"
    assert httpx.get(url, params={**params, "hub.verify_token": "nope"}).status_code == 403

    messages = [p.text(f"olá {n} / ção 😀", sender="5511987654321") for n in range(3)]
    value = p.messages_value(PNID, DISPLAY, messages, [p.profile("5511987654321", "Bia")])
    body = p.encode(p.envelope(p.entry(WABA, p.change(value))))
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": p.sign(body, SECRET)}
    for _ in range(3):  # Meta's retries of one POST
        assert httpx.post(url, content=body, headers=headers).status_code == 200
    forged = {**headers, "X-Hub-Signature-256": p.sign(body, "other-secret")}
    assert httpx.post(url, content=body, headers=forged).status_code == 403

    database = server.env["PYTAKE_DATABASE_URL"]
    mine = {"pnid": PNID}  # the server is shared with other tests' numbers
    messages = (
        "SELECT count(*) FROM message t JOIN channel c ON c.id = t.channel_id "
        "WHERE c.external_id = :pnid"
    )
    conversations = (
        "SELECT count(*) FROM conversation t JOIN channel c ON c.id = t.channel_id "
        "WHERE c.external_id = :pnid"
    )
    assert _wait_for(messages, database, 3, mine) == 3
    assert _wait_for(conversations, database, 1, mine) == 1
    assert _wait_for("SELECT count(*) FROM webhook_event WHERE state <> 'done'", database, 0) == 0
    listing = server.cli("channel", "list", "--org", OWNER["org"])
    [line] = [line for line in listing.stdout.splitlines() if PNID in line]
    assert "never" not in line  # the time of its last webhook
    events = server.cli("events", "list")
    assert events.returncode == 0 and " done " in events.stdout
