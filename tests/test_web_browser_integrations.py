"""The admin page's Salesforce and Adapters tabs in headless Chromium (Salesforce and Microsoft faked)."""

from __future__ import annotations

import os
import re

import pytest
import responses

from connector.parts import get_parts
from tests.helpers.browser import ConsoleErrors, screenshot
from tests.helpers.fakes.salesforce import SF_ENV, FakeOrg, add_totals
from tests.helpers.signin import browser_sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser

TEAMS_SECRET = "teams-client-secret-in-browser-test"
TEAMS_ENV = {
    "TEAMS_TENANT_ID": "tenant-1",
    "TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "TEAMS_CLIENT_SECRET": TEAMS_SECRET,
}
WEBHOOK_SECRET = "webhook-token-typed-in-the-browser"
TEAMS_TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"


@pytest.fixture(scope="module")
def remotes():
    """Salesforce and Microsoft login, faked for the server's threads (the browser itself is not affected)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps)
        rsps.post(TEAMS_TOKEN_URL, status=401, json={"error": "invalid_client"})
        yield org


@pytest.fixture(scope="module")
def server(tmp_path_factory, remotes):
    saved = {name: os.environ.get(name) for name in TEAMS_ENV}
    os.environ.update(TEAMS_ENV)  # adapters read their prefixed settings from the process environment
    try:
        with live_server(tmp_path_factory.mktemp("web-integrations"), CONNECTOR_ADAPTERS="teams", **SF_ENV) as srv:
            srv.user("ada", "admin")
            yield srv
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_admin_syncs_salesforce_and_tests_an_adapter_from_the_two_tabs(browser, server, remotes):
    keys = add_totals(server.parts, agents=2, states=("ready", "dnd"))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    watcher = ConsoleErrors(context)
    try:
        page = context.new_page()
        browser_sign_in(page, server.url, "ada")
        page.wait_for_url("**/admin")

        page.click("#tab-salesforce")
        expect(page.locator("#sf-badge")).to_have_text("Configured")
        expect(page.locator("#sf-connection")).to_contain_text("login.example.test")
        page.click("#sf-sync-now")
        expect(page.locator("#sf-sync-result.notice")).to_contain_text("totals pending")
        assert sorted(remotes.records) == sorted(keys)  # by this click or by the scheduled flush before it
        expect(page.locator("#sf-health")).not_to_contain_text("never")
        expect(page.locator("#sf-health")).to_contain_text("Rows pending0")
        expect(page.locator("#sf-connection")).to_contain_text("Login hostlogin.example.test")

        watcher.expect_refusals(422)
        page.fill("#callcenter-url", "http://plain.example/softphone")
        page.click("#callcenter-form button[type=submit]")
        expect(page.locator("#callcenter-error")).to_contain_text(
            "Softphone URL: the softphone URL must be a full https://"
        )
        page.fill("#callcenter-url", "https://presence.acme.example/softphone")
        with page.expect_download() as download:
            page.click("#callcenter-form button[type=submit]")
        xml = open(download.value.path(), encoding="utf-8").read()
        assert (
            '<item sortOrder="2" name="reqAdapterUrl" label="CTI Adapter URL">'
            "https://presence.acme.example/softphone</item>" in xml
        )
        screenshot(page, "admin-salesforce")

        page.click("#tab-adapters")
        expect(page.locator("#adapter-card-teams > summary")).to_contain_text("Enabled")
        expect(page.locator("#adapter-card-teams .health-badge")).to_be_visible()
        expect(page.locator("#adapter-teams")).to_be_hidden()  # collapsed until opened
        page.click("#adapter-card-teams > summary")
        card = page.locator("#adapter-teams")
        expect(card).to_contain_text("Enabled")
        # a plain label for the input, the variable as a hint (not "TEAMS_CLIENT_SECRET *")
        secret_row = card.locator("tr", has_text="TEAMS_CLIENT_SECRET")
        expect(secret_row.locator(".setting-label")).to_have_text("Client secret")
        expect(secret_row.locator(".required")).to_have_text("(required)")
        expect(secret_row.locator(".env-hint")).to_have_text("TEAMS_CLIENT_SECRET")
        expect(card.get_by_label("Client secret", exact=True)).to_have_attribute("name", "TEAMS_CLIENT_SECRET")
        expect(
            card.locator(".setting-label", has_text="API version")
            .or_(card.locator(".setting-label", has_text="Graph URL"))
            .first
        ).to_be_visible()
        page.click("#adapter-teams button:has-text('Test connection')")
        expect(card.locator(".test-result.problems")).to_contain_text(
            "Failed — Microsoft login refused the client credentials (HTTP 401, invalid_client)"
        )
        expect(page.locator("#adapter-skype")).to_contain_text("Not enabled")
        html = page.content()
        assert TEAMS_SECRET not in html and SF_ENV["SF_CLIENT_SECRET"] not in html

        # enable the webhook adapter here: a bad value is refused inline, then it is saved and applied
        page.click("#adapter-card-webhook > summary")
        hook = page.locator("#adapter-webhook")
        expect(hook).to_contain_text("Not enabled")
        hook.locator("input[name=enabled]").check()
        hook.locator("input[name=WEBHOOK_URL]").fill("https://hooks.acme.example/presence")
        hook.locator("input[name=WEBHOOK_TOKEN]").fill(WEBHOOK_SECRET)
        hook.locator("input[name=WEBHOOK_TIMEOUT]").fill("600")
        hook.locator("button[type=submit]").click()
        expect(hook.locator("[data-error-for=WEBHOOK_TIMEOUT]")).to_have_text(
            "WEBHOOK_TIMEOUT must be between 0.5 and 60"
        )
        expect(hook.locator("input[name=WEBHOOK_TIMEOUT]")).to_have_class(
            re.compile(r"(^|\s)invalid(\s|$)")
        )  # beside slds-input
        assert "webhook" not in get_parts(server.app).dispatcher.adapters
        hook.locator("input[name=WEBHOOK_TIMEOUT]").fill("8")
        hook.locator("button[type=submit]").click()
        hook = page.locator("#adapter-webhook")
        expect(hook.locator(".test-result.notice")).to_contain_text("Saved and applied")
        expect(hook).to_contain_text("Enabled")
        expect(hook.locator("tr", has_text="WEBHOOK_TOKEN").locator(".setting-now")).to_have_text("set (saved here)")
        expect(hook.locator("input[name=WEBHOOK_TOKEN]")).to_have_value("")
        expect(hook.locator(".last-change")).to_contain_text("Last change by ada")
        assert get_parts(server.app).dispatcher.adapters["webhook"].config["timeout"] == 8.0
        html = page.content()
        assert WEBHOOK_SECRET not in html and TEAMS_SECRET not in html
        with page.expect_response("**/admin/api/adapters"):  # reloaded: still enabled, the secret still only "set"
            page.click("#tab-adapters")
        expect(page.locator("#adapter-webhook .badge")).to_have_text("Enabled")
        expect(page.locator("#adapter-webhook tr", has_text="WEBHOOK_URL").locator("input")).to_have_value(
            "https://hooks.acme.example/presence"
        )
        assert WEBHOOK_SECRET not in page.content()
        screenshot(page, "admin-adapters")
    finally:
        context.close()
    assert watcher.errors == [], "console errors on the admin page"
