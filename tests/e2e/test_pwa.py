"""PyTake installs like an app: Chromium parses the manifest and finds it installable, the
service worker is active, and with the network gone a page opens as the offline page, which
brings the app back by itself when the network returns."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OWNER, screenshot, sign_in, wait_path

pytestmark = pytest.mark.e2e
# Playwright's browser contexts are incognito ones, which Chromium never offers to install.
NOT_OURS = {"in-incognito"}


def test_installable_with_an_active_service_worker_and_an_offline_page(
    server, organization, new_page
):
    page = new_page()
    sign_in(page, OWNER["email"], OWNER["password"])
    state = page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.state)")
    assert state == "activated"
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    parsed = json.loads(manifest["data"])
    assert (parsed["name"], parsed["display"], parsed["start_url"]) == (
        "PyTake",
        "standalone",
        "/inbox",
    )
    assert {(i["sizes"], i["purpose"]) for i in parsed["icons"]} == {
        ("192x192", "any"),
        ("512x512", "any"),
        ("512x512", "maskable"),
    }
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors if e["errorId"] not in NOT_OURS] == []

    page.reload()  # now under the service worker's control
    page.get_by_test_id("page-title").wait_for()
    page.context.set_offline(True)
    page.goto("/contacts")
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    screenshot(page, "offline-en")
    page.context.set_offline(False)
    wait_path(page, "/contacts")
    expect(page.get_by_test_id("page-title")).to_be_visible(timeout=20_000)
