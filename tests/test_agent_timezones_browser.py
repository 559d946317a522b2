"""The time zones on the admin page in headless Chromium: an agent's own zone edited in its dialog (an unknown
one refused next to the field), a team's zone saved from the team form."""

from __future__ import annotations

import pytest

from connector.auth import teams
from connector.store.models import Agent
from tests.helpers.browser import ConsoleErrors, chromium_browser
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("admin-time-zones")) as srv:
        srv.user("ada", "admin")
        srv.agent("edred", team="East")
        srv.agent("maria", team="East")
        yield srv


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def admin(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watcher = ConsoleErrors(context)
    page = context.new_page()
    sign_in(page, server.url, "ada")
    page.wait_for_url("**/admin")
    page.click("#tab-accounts")
    page.wait_for_selector('#agents tbody tr[data-agent="edred"]')
    yield page, watcher
    context.close()
    assert watcher.errors == [], "console errors on the admin page"


def test_an_agents_zone_is_edited_in_its_dialog_and_an_unknown_one_is_refused_by_the_field(admin, server):
    page, watcher = admin
    watcher.expect_refusals(422)
    page.get_by_role("button", name="Actions for edred").click()
    page.get_by_role("menuitem", name="Edit edred").click()
    zone = page.locator("#edit-timezone")
    zone.fill("Europe/Londres")
    page.click("#agent-edit button[type=submit]")
    expect(page.locator("#edit-timezone-error")).to_contain_text("IANA time zone")
    expect(zone).to_have_attribute("aria-invalid", "true")

    zone.fill("Europe/London")
    page.click("#agent-edit button[type=submit]")
    expect(page.locator("#accounts-message")).to_have_text("Agent edred saved.")
    expect(page.locator('#agents tbody tr[data-agent="edred"]')).to_contain_text("Europe/London")
    expect(page.locator('#agents tbody tr[data-agent="maria"]')).to_contain_text("default")
    with server.parts.store.read() as s:
        assert s.get(Agent, "edred").timezone == "Europe/London"


def test_a_teams_zone_is_saved_from_the_team_form(admin, server):
    page, _ = admin
    form = page.locator("#team-zone-form")
    form.locator("select[name=team]").select_option("East")
    form.locator("input[name=timezone]").fill("America/New_York")
    form.locator("button[type=submit]").click()
    expect(page.locator("#accounts-message")).to_have_text("Time zone of team East saved.")
    assert teams.list_teams(server.parts.store) == [{"name": "East", "agents": 2, "timezone": "America/New_York"}]
    form.locator("select[name=team]").select_option("")
    form.locator("select[name=team]").select_option("East")
    expect(form.locator("input[name=timezone]")).to_have_value("America/New_York")  # shown again when picked
