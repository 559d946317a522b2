"""The supervisors' grid in headless Chromium with a floor of 60 agents (19 on calls, 33 over their alert
time): one line a row, the worst first, the pill filters, search narrows, the row menu acts, an outage
freezes the page, and the charts follow the filters. Every page state visited is checked with axe-core."""

from __future__ import annotations

import re

import pytest

from tests.helpers.browser import SCREENSHOTS, assert_accessible
from tests.helpers.floor import alert_config, seed_floor
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import CuttableProxy, live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)
ROWS = "#agents tbody tr.agent-row"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("grid")) as srv:
        srv.user("sue", "supervisor")
        alert_config(srv.parts)
        seed_floor(srv.parts)
        yield srv


def photograph(page, name: str) -> None:
    """The screen as the supervisor sees it (the grid draws the rows on screen only), checked with axe-core."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    assert_accessible(page, name)


def dashboard(contexts, server, width=1280, height=800, base=None, network_loss=False):
    context, watcher = contexts(width=width, height=height)
    if network_loss:
        watcher.expect_network_loss()
    page = context.new_page()
    sign_in(page, base or server.url, "sue")
    page.wait_for_selector("#connection.ok")
    expect(page.locator("#over-count")).to_have_text("33 over threshold")
    return page


def test_rows_are_one_line_the_header_stays_and_the_most_over_come_first(contexts, server):
    page = dashboard(contexts, server, 1920, 1080)
    heights = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.getBoundingClientRect().height)")
    assert heights and all(36 <= h <= 40 for h in heights), heights
    assert page.evaluate("document.querySelector('#dashboard').getBoundingClientRect().width") >= 1900  # full width
    first = page.locator(ROWS).first
    expect(first).to_have_class(re.compile("alert-"))
    expect(first.locator(".over")).to_have_text(re.compile(r"^ \+\d+[sm] over$"))
    levels = page.eval_on_selector_all(
        ROWS,
        "rows => rows.map(r => r.classList.contains('alert-red') ? 2 : r.classList.contains('alert-amber') ? 1 : 0)",
    )
    assert levels == sorted(levels, reverse=True), levels  # severity first: no calm row above an alerting one
    assert levels.count(1) >= 20  # ~25 rows on screen at 1080 px, and 33 agents over
    photograph(page, "dashboard-1920x1080")
    page.mouse.wheel(0, 1200)
    page.wait_for_timeout(300)
    header = page.evaluate("document.querySelector('#agents thead th').getBoundingClientRect().top")
    assert header == 0  # the column names stay on screen while the rows scroll under them
    rows = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.getAttribute('data-agent'))")
    assert len(rows) < 60  # only the rows near the screen are in the page
    expect(page.locator('#agents tr[data-agent="a0059"]')).to_have_count(1)  # the last agent was drawn on scroll


def test_the_over_threshold_pill_toggles_the_filter(contexts, server):
    page = dashboard(contexts, server)
    pill = page.locator("#over-count")
    expect(pill).to_have_attribute("aria-pressed", "false")
    pill.click()
    expect(pill).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#summary")).to_have_text(re.compile(r"^33 shown · "))
    classes = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.className)")
    assert classes and all("alert-" in c for c in classes), classes
    photograph(page, "dashboard-1280x800-over-threshold")
    pill.click()
    expect(pill).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#summary")).to_have_text(re.compile(r"^60 shown · "))


def test_search_narrows_the_rows_to_matching_names(contexts, server):
    page = dashboard(contexts, server)
    page.fill("#filter-search", "bartholomew")
    expect(page.locator("#summary")).to_have_text(re.compile(r"^4 shown · "))
    expect(page.locator(ROWS)).to_have_count(4)
    names = page.locator(f"{ROWS} .agent-name").all_inner_texts()
    assert all(n.startswith("Bartholomew ") for n in names), names
    page.fill("#filter-search", "a0007")  # an agent id works too
    expect(page.locator(ROWS)).to_have_count(1)
    page.fill("#filter-search", "nobody")
    expect(page.locator("#agents tbody")).to_contain_text("No agents match.")
    assert_accessible(page, "dashboard, nothing matches")


def test_the_charts_follow_the_team_filter(contexts, server):
    page = dashboard(contexts, server)
    page.wait_for_selector("#chart-agents svg rect")
    page.select_option("#filter-team", "Sales")
    expect(page.locator("#agents-chart-title")).to_contain_text("Sales")
    expect(page.locator("#mix-title")).to_contain_text("Sales")
    labels = page.eval_on_selector_all(
        "#chart-agents svg rect title", "ts => ts.map(t => t.textContent.split(' · ')[0])"
    )
    teams = {a["name"]: a["team"] for a in server.parts.service.agents()}
    assert labels and {teams[label] for label in labels} == {"Sales"}, labels
    page.fill("#filter-search", "priyanka")
    expect(page.locator("#agents-chart-title")).to_contain_text("Sales · “priyanka”")
    labels = page.eval_on_selector_all(
        "#chart-agents svg rect title", "ts => ts.map(t => t.textContent.split(' · ')[0])"
    )
    assert labels and all(label.startswith("Priyanka ") for label in labels), labels


def test_when_the_stream_drops_rows_grey_out_timers_stop_and_the_page_says_as_of_when(contexts, server):
    proxy = CuttableProxy(server.server.server_port)
    try:
        page = dashboard(contexts, server, base=proxy.url, network_loss=True)
        cell = page.locator(f"{ROWS} .in-state").first
        proxy.cut()
        expect(page.locator("#connection")).to_contain_text(re.compile(r"data as of \d\d:\d\d:\d\d"), timeout=3000)
        expect(page.locator("#dashboard")).to_have_class(re.compile("stale"))
        frozen = cell.inner_text()
        page.wait_for_timeout(2200)
        assert cell.inner_text() == frozen  # nothing ticks as if it were live
        grey = page.eval_on_selector(f"{ROWS} td", "td => getComputedStyle(td).backgroundColor")
        assert grey == "rgb(236, 239, 241)", grey
        photograph(page, "dashboard-connection-lost")
        proxy.restore()
        expect(page.locator("#connection")).to_have_text("Live", timeout=10000)
        expect(page.locator("#dashboard")).not_to_have_class(re.compile("stale"))
        expect(cell).not_to_have_text(frozen, timeout=3000)
    finally:
        proxy.close()


def test_the_row_menu_changes_state_after_the_call_or_now_ends_a_stuck_call_and_logs_out(contexts, server):
    page = dashboard(contexts, server)
    page.fill("#filter-search", "a0001")  # on a call since the floor was seeded
    row = page.locator('#agents tr[data-agent="a0001"]')
    expect(row.locator(".state-cell")).to_contain_text("On a Call")
    button = row.locator('[data-control="menu"]')
    button.focus()
    page.keyboard.press("ArrowDown")  # the menu opens on the keyboard, its first item focused
    expect(page.locator("#row-menu")).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.activeElement.textContent") == "Change state…"
    assert_accessible(page, "dashboard row menu open")
    page.keyboard.press("Escape")
    expect(page.locator("#row-menu")).to_be_hidden()
    assert page.evaluate("document.activeElement.getAttribute('data-control')") == "menu"

    button.click()
    page.get_by_role("menuitem", name="Change state…").click()
    dialog = page.locator("#state-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#state-when")).to_be_visible()  # on a call: after the call, or now
    page.click("#state-apply")  # nothing chosen: said, and nothing sent
    expect(page.locator("#state-dialog-error")).to_have_text("Choose the new state.")
    page.select_option("#state-pick", "lunch")
    assert_accessible(page, "dashboard change-state dialog")
    with page.expect_request("**/api/v1/agents/a0001/presence") as sent:
        page.click("#state-apply")
    assert sent.value.post_data_json == {"state": "lunch"}
    expect(dialog).to_be_hidden()
    expect(page.locator("#grid-note")).to_have_text("Ada Fitzgerald-Smythe: Lunch after the call.")
    expect(row.locator(".next")).to_have_text("Next: Lunch")
    expect(row.locator(".state-cell")).to_contain_text("On a Call")

    button.click()
    page.get_by_role("menuitem", name="Change state…").click()
    page.select_option("#state-pick", "meeting")
    page.check('#state-when input[value="now"]')
    with page.expect_request("**/api/v1/agents/a0001/presence") as sent:
        page.click("#state-apply")
    assert sent.value.post_data_json == {"state": "meeting", "force": True}
    expect(row.locator(".state-cell")).to_contain_text("Meeting (Busy)")

    page.fill("#filter-search", "a0002")
    row = page.locator('#agents tr[data-agent="a0002"]')
    row.locator('[data-control="menu"]').click()
    page.get_by_role("menuitem", name="End stuck call…").click()
    expect(page.locator("#confirm-title")).to_have_text(re.compile("^End .*'s call\\?$"))
    page.click("#confirm-apply")
    expect(row.locator(".state-cell")).not_to_contain_text("On a Call")
    assert server.parts.service.presence("a0002")["on_call"] is False

    row.locator('[data-control="menu"]').click()
    expect(page.get_by_role("menuitem", name="End stuck call…")).to_be_hidden()  # no call, nothing to end
    page.get_by_role("menuitem", name="Log out…").click()
    page.click("#confirm-apply")
    expect(row.locator(".state-cell")).to_have_text("Logged out")
    expect(row.locator('[data-control="menu"]')).to_have_count(0)
