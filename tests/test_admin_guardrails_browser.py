"""The admin page in headless Chromium: system states kept, a review before apply, 1,000 agents in pages,
and the Salesforce connection saved on the page (Salesforce faked with ``responses``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import responses

from connector.auth import accounts
from connector.clock import utc_now
from connector.presence.config import load_preset
from connector.store.models import DailyTotal
from tests.helpers.browser import ConsoleErrors, assert_accessible, chromium_browser
from tests.helpers.fakes.salesforce import CLIENT_SECRET, LOGIN_URL, FakeOrg, add_totals
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NEW_SECRET = "rotated-client-secret-typed-on-the-page"
TEAMS = ("Sales", "Support", "Billing", "Retention")


@pytest.fixture(scope="module")
def org():
    """Salesforce faked for the server's threads; the browser only talks to the server."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOrg(rsps)


@pytest.fixture(scope="module")
def server(tmp_path_factory, org):
    # no SF_* in the environment: the connection is made on the page
    with live_server(tmp_path_factory.mktemp("admin-guardrails")) as srv:
        srv.user("ada", "admin")
        lines = ["id,name,team,extension"] + [
            f"agent{i:04d},Agent {i:04d},{TEAMS[i % len(TEAMS)]},{2000 + i}" for i in range(1000)
        ]
        accounts.import_agents(srv.parts.store, "\n".join(lines) + "\n", utc_now())
        yield srv


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def admin(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watcher = ConsoleErrors(context)
    page = context.new_page()
    sign_in(page, server.url, "ada")
    page.wait_for_url("**/admin")
    page.wait_for_selector("#states tbody tr")
    yield page, watcher
    context.close()
    assert watcher.errors == [], "console errors on the admin page"
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def _one_more_total(parts) -> None:
    with parts.store.write() as s:
        s.add(
            DailyTotal(
                agent_id="agent00000",
                day=date(2026, 3, 7),
                state_id="ready",
                status=1,
                reason_code="",
                seconds=120.0,
                synced_seconds=None,
                updated_at=utc_now(),
            )
        )


def _row(page, state_id: str):
    return page.locator(f'#states tbody tr[data-state="{state_id}"]')


def test_system_states_offer_no_remove_and_their_id_and_status_are_read_only(admin):
    page, _ = admin
    for state_id in ("ready", "on-a-call", "logged-out"):
        row = _row(page, state_id)
        expect(row.locator(".system-tag")).to_be_visible()
        expect(row.get_by_role("button", name="Remove")).to_be_hidden()
        expect(row.locator('[data-key="id"]')).not_to_be_editable()
        expect(row.locator('[data-key="status"]')).to_be_disabled()
        expect(row.locator('[data-key="label"]')).to_be_editable()  # the label may change
    lunch = _row(page, "lunch")
    expect(lunch.get_by_role("button", name="Remove")).to_be_visible()
    expect(lunch.locator(".system-tag")).to_be_hidden()
    # a second Ready state: either may go, so neither is locked until one is left
    page.click("#add-state")
    new = page.locator("#states tbody tr").last
    new.locator('[data-key="label"]').fill("Ready outbound")
    new.locator('[data-key="status"]').select_option("1")
    expect(_row(page, "ready").locator(".system-tag")).to_be_visible()  # the new one is not the active's
    assert_accessible(page, "admin editor with system states")
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "admin-system-states-1280x800.png"))


def test_the_changes_are_shown_before_anything_is_applied(admin, server):
    page, _ = admin
    before = server.parts.configs.history(1)[0]["version"]
    _row(page, "logged-out").locator('[data-key="label"]').fill("Signed out")
    _row(page, "training").get_by_role("button", name="Remove").click()
    wrap_up = page.locator('[data-field="options.wrap_up_seconds"]')
    expect(wrap_up).to_have_value("0:30")  # 30 s, shown as m:ss
    wrap_up.fill("0:45")
    _row(page, "lunch").get_by_label("amber alert after (minutes or m:ss) for Lunch").fill("2")  # minutes
    expect(page.locator("#editor-status")).to_have_text("Unsaved changes")
    page.evaluate("window.scrollTo(0, 0)")  # at the top of the states table, the save bar is still at hand
    expect(page.locator("#save-bar")).to_be_in_viewport()
    assert page.locator("#save-bar").bounding_box()["y"] + page.locator("#save-bar").bounding_box()["height"] <= 800
    page.click("#save")
    dialog = page.locator("#review")
    expect(dialog).to_be_visible()
    changes = dialog.locator("#review-changes tbody tr")
    expect(changes).to_have_count(4)
    expect(dialog).to_contain_text("Logged Out")
    expect(dialog).to_contain_text("Signed out")
    expect(dialog.locator("tr", has_text="Training")).to_contain_text("State removed")
    wrap_line = dialog.locator("tr", has_text="wrap_up_seconds")
    expect(wrap_line.locator("td").nth(3)).to_have_text("0:30 (m:ss)")
    expect(wrap_line.locator("td").nth(4)).to_have_text("0:45 (m:ss)")
    alert_line = dialog.locator("tr", has_text="alert_after_seconds")
    expect(alert_line.locator("td").nth(3)).to_have_text("—")
    expect(alert_line.locator("td").nth(4)).to_have_text("2:00 (m:ss)")
    assert server.parts.configs.history(1)[0]["version"] == before  # nothing applied yet
    assert_accessible(page, "admin review dialog")
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "admin-review-1280x800.png"))
    page.click("#review-cancel")
    expect(dialog).to_be_hidden()
    assert server.parts.configs.history(1)[0]["version"] == before
    page.click("#save")
    page.click("#review-apply")
    expect(page.locator("#editor-status")).to_contain_text("Saved and applied")
    active = server.parts.configs.active()
    assert (active.state("logged-out").label, active.options.wrap_up_seconds) == ("Signed out", 45)
    assert active.state("lunch").alert_after_seconds == (120,)
    assert active.find("training") is None


def test_a_page_that_removes_a_system_state_anyway_is_refused_by_the_server(admin, server):
    """The page hides Remove; a draft changed behind its back (as an API call would) is still refused."""
    page, watcher = admin
    watcher.expect_refusals(422)
    before = server.parts.configs.history(1)[0]["version"]
    page.evaluate(
        """async () => {
            const res = await PC.api("GET", "/admin/api/config");
            res.config.states = res.config.states.filter(s => s.id !== "logged-out");
            window.refusal = await PC.api("POST", "/admin/api/config", {config: res.config}).catch(e => e);
        }"""
    )
    refusal = page.evaluate("({status: window.refusal.status, field: window.refusal.field})")
    assert refusal == {"status": 422, "field": "states"}
    assert server.parts.configs.history(1)[0]["version"] == before


def test_a_thousand_agents_are_searched_filtered_and_paged_with_a_menu_per_row(admin):
    page, _ = admin
    page.click("#tab-accounts")
    rows = page.locator("#agents tbody tr")
    expect(rows).to_have_count(25)
    expect(page.locator("#agent-count")).to_have_text("Showing 1–25 of 1000 agents")
    page.click("#agent-next")
    expect(rows.first).to_have_attribute("data-agent", "agent0025")
    expect(page.locator("#agent-page")).to_have_text("Page 2 of 40")
    page.select_option("#agent-team-filter", "Billing")
    expect(page.locator("#agent-count")).to_have_text("Showing 1–25 of 250 agents (1000 in all)")
    expect(page.locator("#agents tbody td:nth-child(3)", has_text="Sales")).to_have_count(0)
    page.fill("#agent-search", "agent0998")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Agent 0998")
    page.select_option("#agent-team-filter", "")
    page.fill("#agent-search", "agent07")
    expect(page.locator("#agent-count")).to_have_text("Showing 1–25 of 100 agents (1000 in all)")
    # one menu per row: opened from the keyboard, Escape gives the focus back
    menu_button = page.get_by_role("button", name="Actions for agent0700")
    expect(page.locator("#agents tbody button:visible")).to_have_count(25)  # one button per row, not three
    menu_button.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for agent0700")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem")).to_have_text(["Edit", "Reset PIN", "Disable"])
    assert_accessible(page, "agents list with a row menu open")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(menu_button).to_be_focused()
    menu_button.click()
    menu.get_by_role("menuitem", name="Reset PIN agent0700").click()
    pin = page.get_by_label("New PIN for agent0700 (Agent 0700)")
    expect(pin).to_be_focused()
    pin.fill("8642")
    page.click("#pin-form button[type=submit]")
    expect(page.locator("#accounts-message")).to_have_text("PIN of agent0700 changed.")
    # Team is picked from the teams, or a new one is typed
    expect(page.locator("#agent-form select[name=team] option")).to_have_text(
        ["No team", "Billing", "Retention", "Sales", "Support", "New team…"]
    )
    page.fill("#agent-form input[name=id]", "nina")
    page.select_option("#agent-form select[name=team]", "__new__")
    page.get_by_label("New team name").first.fill("Outbound")
    page.click("#agent-form button[type=submit]")
    expect(page.locator("#accounts-message")).to_have_text("Agent added.")
    expect(page.locator("#agent-team-filter option", has_text="Outbound")).to_have_count(1)
    page.fill("#agent-search", "agent07")
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "admin-agents-1280x800.png"))


def test_the_salesforce_connection_saved_on_the_page_is_used_without_a_restart_and_never_sent_back(admin, server, org):
    page, watcher = admin
    watcher.expect_refusals(422)
    keys = add_totals(server.parts, agents=2, states=("ready", "dnd"))
    page.click("#tab-salesforce")
    expect(page.locator("#sf-badge")).to_have_text("Not configured")
    # incomplete: refused naming the setting, nothing saved
    page.fill("#sf-SF_LOGIN_URL", LOGIN_URL)
    page.click("#sf-save")
    expect(page.locator("#sf-form [data-error-for=SF_CLIENT_ID]")).to_contain_text("no complete credentials")
    expect(page.locator("#sf-SF_CLIENT_ID")).to_have_attribute("aria-invalid", "true")
    assert not server.parts.salesforce.settings.configured
    page.fill("#sf-SF_CLIENT_ID", "connected-app-id")
    page.fill("#sf-SF_CLIENT_SECRET", CLIENT_SECRET)
    page.click("#sf-save")
    expect(page.locator("#sf-form-result")).to_contain_text("Saved and applied")
    expect(page.locator("#sf-badge")).to_have_text("Configured")
    expect(page.locator("#sf-SF_CLIENT_SECRET")).to_have_value("")
    expect(page.locator("#sf-SF_CLIENT_SECRET-about")).to_contain_text("Now: set (saved here)")
    page.click("#sf-sync-now")
    expect(page.locator("#sf-sync-result.notice")).to_contain_text("totals pending")
    assert sorted(org.records) == sorted(keys)
    assert org.token_forms[-1]["client_secret"] == CLIENT_SECRET
    # a new secret applies to the next flush, in the same process
    page.fill("#sf-SF_CLIENT_SECRET", NEW_SECRET)
    page.click("#sf-save")
    expect(page.locator("#sf-last-change")).to_contain_text("SF_CLIENT_SECRET replaced")
    _one_more_total(server.parts)
    page.click("#sf-sync-now")
    expect(page.locator("#sf-sync-result.notice")).to_contain_text("totals pending")
    assert org.token_forms[-1]["client_secret"] == NEW_SECRET
    # never sent back: not in the page, not in what the page reads
    status = page.evaluate("() => PC.api('GET', '/admin/api/salesforce').then(r => JSON.stringify(r))")
    for secret in (CLIENT_SECRET, NEW_SECRET):
        assert secret not in page.content() and secret not in status
    assert_accessible(page, "Salesforce connection saved on the page")
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "admin-salesforce-connection-1280x800.png"), full_page=True)
