"""Single sign-on end to end in Chromium against oidc-provider-mock on 127.0.0.1: the embedded softphone signs
in through a popup and comes back signed in; the dashboard signs in with a full-page redirect."""

from __future__ import annotations

import re

import pytest

from connector.auth import accounts
from connector.clock import utc_now
from tests.helpers.oidc import mock_provider
from tests.helpers.signin import PASSWORD
from tests.helpers.web_server import live_server

#: nothing leaves 127.0.0.1 (the provider's form links a stylesheet on a CDN: refused here)
OFF_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
#: the Salesforce console passes its origin to the softphone it embeds (the softphone then uses the popup)
CONSOLE = "sfdcIframeOrigin=https%3A%2F%2Facme.lightning.force.com&mode=Lightning"


@pytest.fixture(scope="module")
def provider():
    with mock_provider() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory, provider):
    with live_server(
        tmp_path_factory.mktemp("sso-browser"),
        CONNECTOR_OIDC_ISSUER=provider.url,
        CONNECTOR_OIDC_CLIENT_ID="presence-connector",
        CONNECTOR_OIDC_CLIENT_SECRET="browser-secret",
        CONNECTOR_OIDC_NAME="Acme Login",
    ) as srv:
        accounts.add_agent(srv.parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, utc_now())
        accounts.add_user(srv.parts.store, "sue@example.com", PASSWORD, "supervisor", utc_now())
        yield srv


def _context(contexts):
    context, watcher = contexts()
    context.route(OFF_LOOPBACK, lambda route: route.abort())
    watcher.expect_network_loss()
    return context


def test_the_embedded_softphone_signs_in_through_a_popup_and_comes_back_signed_in(contexts, server, provider):
    provider.user("edred-browser", email="edred@example.com")
    page = _context(contexts).new_page()
    page.goto(f"{server.url}/softphone?{CONSOLE}")
    page.wait_for_url("**/auth/agent**")
    with page.expect_popup() as opened:
        page.click("text=Sign in with Acme Login")
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url.startswith(provider.url)  # the provider's own page, first-party in the popup
    popup.fill("input[name=sub]", "edred-browser")
    popup.click("button[type=submit]:has-text('Authorize')")
    popup.wait_for_event("close", timeout=15_000)  # handed over, closed by itself
    page.wait_for_url("**/softphone?**", timeout=15_000)
    assert page.locator("#phone").get_attribute("data-agent") == "edred"
    page.locator("#connection").filter(has_not_text="Connecting").wait_for(timeout=15_000)


def test_the_dashboard_signs_in_with_the_provider(contexts, server, provider):
    provider.user("sue-browser", email="sue@example.com")
    page = _context(contexts).new_page()
    page.goto(f"{server.url}/dashboard")
    page.wait_for_url("**/auth/login**")
    page.click("text=Sign in with Acme Login")
    page.wait_for_url(f"{provider.url}/**")
    page.fill("input[name=sub]", "sue-browser")
    page.click("button[type=submit]:has-text('Authorize')")
    page.wait_for_url(f"{server.url}/dashboard", timeout=15_000)
    assert "sue@example.com · supervisor" in page.locator(".who").inner_text()
