"""A member's notification preferences in Chromium: saved and applied to what the open app
tells; Web Push on this device asked for on a click, with a clear answer when the browser
cannot subscribe; and a push delivered to the service worker (through DevTools, as a push
service would) shows a notification that opens its conversation."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Number, connect_number, screenshot, sign_in, wait_path

pytestmark = pytest.mark.e2e
PNID, WABA = "174567800000005", "774567800000005"


@pytest.fixture(scope="module")
def number(server, graph, organization) -> Number:
    return connect_number(server, graph, PNID, WABA)


def _checked(page, testid: str) -> str:
    return page.get_by_test_id(testid).get_attribute("data-state")


def test_preferences_are_saved_and_the_open_app_follows_them(
    server, organization, number, new_page
):
    server.add_user("iris@acme.test", "iris secret 12345", role="agent")
    page = new_page(width=1366, height=900)
    sign_in(page, "iris@acme.test", "iris secret 12345")
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("notification-settings").click()
    wait_path(page, "/notifications")
    expect(page.get_by_test_id("pref-new_conversation-app")).to_be_visible()
    assert _checked(page, "pref-assigned-email") == "checked"  # the defaults
    assert _checked(page, "pref-message-email") == "unchecked"

    page.get_by_test_id("pref-new_conversation-app").click()
    page.get_by_test_id("pref-message-email").click()
    page.get_by_test_id("pref-quiet").click()
    page.get_by_test_id("pref-quiet-from").fill("21:30")
    page.get_by_test_id("pref-quiet-to").fill("06:45")
    page.get_by_test_id("pref-timezone").fill("America/Sao_Paulo")
    page.get_by_test_id("preferences-save").click()
    expect(page.locator("[data-sonner-toast]")).to_contain_text("Notification preferences saved")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "preferences-en")

    page.reload()
    expect(page.get_by_test_id("pref-quiet-from")).to_have_value("21:30")
    expect(page.get_by_test_id("pref-quiet-to")).to_have_value("06:45")
    expect(page.get_by_test_id("pref-timezone")).to_have_value("America/Sao_Paulo")
    assert _checked(page, "pref-new_conversation-app") == "unchecked"
    assert _checked(page, "pref-message-email") == "checked"
    assert page.get_by_test_id("pref-quiet").get_attribute("data-state") == "checked"

    # New conversations no longer make a toast in the open app for Lia.
    page.goto("/inbox")
    number.customer_writes("5548991110051", "Heitor Lima", "Vocês entregam em Floripa?")
    expect(page.get_by_test_id("conversation-row").filter(has_text="Heitor Lima")).to_be_visible()
    page.wait_for_timeout(1500)  # the change reached this tab: its notice would be here by now
    expect(page.locator("[data-sonner-toast]").filter(has_text="Heitor Lima")).to_have_count(0)


def test_push_on_this_device_and_a_push_that_opens_its_conversation(
    server, organization, number, new_page
):
    server.add_user("teo@acme.test", "teo secret 12345", role="agent")
    page = new_page(width=1366, height=900)
    page.context.grant_permissions(["notifications"], origin=server.base_url)
    sign_in(page, "teo@acme.test", "teo secret 12345")
    number.customer_writes("5548991110052", "Sara Nunes", "Meu pedido chegou quebrado")
    row = page.get_by_test_id("conversation-row").filter(has_text="Sara Nunes")
    conversation_url = row.get_attribute("href")
    assert re.fullmatch(r"/inbox/\d+", conversation_url)

    page.goto("/notifications")
    expect(page.get_by_test_id("push-enable")).to_be_visible()
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.state)") == (
        "activated"
    )
    # Nothing here reaches Google's push service: the browser's refusal is said plainly.
    page.get_by_test_id("push-enable").click()
    expect(page.locator("[data-sonner-toast]")).to_contain_text(
        "could not subscribe to its push service"
    )
    expect(page.get_by_test_id("push-test")).to_be_disabled()  # no device yet
    screenshot(page, "preferences-push-en")

    # A push as the push service delivers it: the service worker shows it.
    page.reload()  # under the service worker's control, so a click can bring it here
    page.get_by_test_id("page-title").wait_for()
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if registrations:
            break
        page.wait_for_timeout(100)
    (registration,) = [r for r in registrations if not r.get("isDeleted")]
    told = {
        "title": "Sara Nunes wrote",
        "body": "Meu pedido chegou quebrado",
        "url": conversation_url,
        "tag": "conversation-x",
    }
    shown = None
    for attempt in range(60):  # delivered to the worker asynchronously; sent again if lost
        if attempt % 20 == 0:
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {
                    "origin": server.base_url,
                    "registrationId": registration["registrationId"],
                    "data": json.dumps(told),
                },
            )
        shown = page.evaluate(
            """navigator.serviceWorker.ready
                .then((r) => r.getNotifications())
                .then((all) => all.map((n) => [n.title, n.body, n.tag, n.data.url]))"""
        )
        if shown:
            break
        page.wait_for_timeout(250)
    assert shown == [[told["title"], told["body"], told["tag"], conversation_url]]

    # Clicking it opens the conversation in the open window.
    (worker,) = page.context.service_workers
    worker.evaluate(
        """async () => {
            const [shown] = await self.registration.getNotifications();
            self.dispatchEvent(new NotificationEvent("notificationclick", { notification: shown }));
        }"""
    )
    wait_path(page, conversation_url)
    expect(page.get_by_test_id("bubble-in").last).to_contain_text("chegou quebrado")


def test_preferences_in_portuguese(server, organization, new_page):
    server.add_user("bruna@acme.test", "bruna secret 1234", role="agent")
    page = new_page("pt-BR", width=1366, height=900)
    sign_in(page, "bruna@acme.test", "bruna secret 1234")
    page.goto("/notifications")
    expect(page.get_by_text("O que notifica você")).to_be_visible()
    expect(page.get_by_text("Horário de silêncio", exact=True)).to_be_visible()
    expect(page.get_by_test_id("push-enable")).to_contain_text("Ativar neste dispositivo")
    # No e-mail on this server: an agent is told so, without the operator's setting names.
    expect(page.get_by_text("O e-mail ainda não está configurado neste servidor")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("PYTAKE_")
    screenshot(page, "preferences-pt-BR")
