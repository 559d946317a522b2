"""The admin page's Audit trail tab in headless Chromium: an action made on the page shows up, the filters
narrow it, the pages turn, the export link carries the filters, and the tab passes axe-core."""

from __future__ import annotations

import pytest

from connector.audit import trail
from connector.clock import utc_now
from tests.helpers.browser import ConsoleErrors, screenshot
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)


@pytest.fixture
def server(tmp_path):
    with live_server(tmp_path) as srv:
        srv.user("ada", "admin")
        srv.agent("edred")
        for n in range(60):  # older actions: more than one page
            trail.record(
                srv.parts.store, utc_now(), trail.Actor("sue", "supervisor", "10.1.2.3"), "call.end", f"agent{n}"
            )
        yield srv


def test_the_audit_tab_filters_pages_and_exports(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    watcher = ConsoleErrors(context)
    page = context.new_page()
    sign_in(page, server.url, "ada")
    page.wait_for_url("**/admin")
    # an action on the page: reset edred's PIN
    request = page.request.post(
        server.url + "/admin/api/agents/edred/pin",
        data={"pin": "86420"},
        headers={"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content")},
    )
    assert request.status == 200
    page.click("#tab-audit")
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("agent.pin_reset")
    expect(rows.first).to_contain_text("secret changed")
    expect(page.locator("#audit-count")).to_have_text("Showing 1–50 of 61 actions")
    page.click("#audit-next")
    expect(rows).to_have_count(11)
    expect(page.locator("#audit-prev")).to_be_enabled()
    expect(page.locator("#audit-next")).to_be_disabled()
    form = page.locator("#audit-filters")
    form.get_by_label("Action").select_option("agent.pin_reset")
    form.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada")
    expect(page.locator("#audit-csv")).to_have_attribute("href", "/admin/audit.csv?action=agent.pin_reset")
    with page.expect_download() as download:
        page.click("#audit-csv")
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.count("agent.pin_reset") == 1 and "86420" not in text and "call.end" not in text
    form.get_by_label("Actor").fill("nobody")
    form.get_by_role("button", name="Show").click()
    expect(page.locator("#audit-count")).to_have_text("No actions match.")
    screenshot(page, "admin-audit-1280x800")
    context.close()
    assert watcher.errors == [], "console errors on the admin page"
