"""A supervisor reads the reports: today's numbers include a conversation just opened and
answered, tables download as CSV, and the page reads well in Portuguese."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OWNER, connect_number, screenshot, sign_in

pytestmark = pytest.mark.e2e
PNID, WABA = "173456700000003", "773456700000003"


def test_a_supervisor_reads_and_downloads_the_reports(server, graph, organization, new_page):
    number = connect_number(server, graph, PNID, WABA)
    number.customer_writes("5511933332222", "Rita Campos", "Bom dia, preciso de ajuda")
    page = new_page(width=1280, height=1000)
    sign_in(page, OWNER["email"], OWNER["password"])
    page.get_by_test_id("conversation-row").filter(has_text="Rita Campos").click()
    page.get_by_test_id("composer").fill("Bom dia, Rita! Como posso ajudar?")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("bubble-out").last).to_contain_text("Como posso ajudar")

    page.get_by_test_id("nav-reports").click()
    opened = page.get_by_test_id("report-opened")
    expect(opened).not_to_have_text("—")
    assert int(opened.inner_text()) >= 1
    expect(page.get_by_test_id("report-frt_median")).not_to_have_text("—")
    expect(page.get_by_test_id("heatmap")).to_be_visible()
    screenshot(page, "reports-en")

    with page.expect_download() as download:
        page.get_by_test_id("csv-agents").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0] == ["Agent", "Resolved", "Sent", "Open now"]
    owner = next(row for row in rows[1:] if row[0] == OWNER["name"])
    assert int(owner[2]) >= 1  # the reply just sent

    server.add_user("lia@acme.test", "lia secret 1234", role="supervisor")
    portuguese = new_page("pt-BR", width=1280, height=1000)
    sign_in(portuguese, "lia@acme.test", "lia secret 1234")
    portuguese.goto("/reports")
    expect(portuguese.get_by_text("Primeira resposta (mediana)")).to_be_visible()
    expect(portuguese.get_by_test_id("report-opened")).not_to_have_text("—")
    screenshot(portuguese, "reports-pt-BR")
