"""The supervisors' grid at contact-centre scale in headless Chromium: 300 agents (a third on calls, 165
over their alert time), of which the page holds only the rows on screen (bench/dashboard_bench.py drives
1,000 at 20 changes a second; 300 keep this test's seeding short). A state changed through the API
shows on the right row, in the right place of the order and in the over-threshold count, as a supervisor
would find it: by the pill, by scrolling to the end, by searching. Behaviour only; how fast is
bench/dashboard_bench.py's business."""

from __future__ import annotations

import re

import pytest

from tests.helpers.floor import alert_config, seed_floor
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = [pytest.mark.browser, pytest.mark.slow]  # hundreds of agents take a while to seed
ROWS = "#agents tbody tr.agent-row"
AGENTS = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("grid-scale")) as srv:
        srv.user("sue", "supervisor")
        alert_config(srv.parts)  # waiting states alert (amber) after 1 s
        seed_floor(srv.parts, agents=AGENTS, on_calls=AGENTS // 3, waiting=AGENTS * 55 // 100)
        yield srv


def set_state(server, agent_id: str, state: str) -> None:
    status, body = server.call(
        "PUT", f"/api/v1/agents/{agent_id}/presence", server.token("supervisor"), {"state": state}
    )
    assert status == 200, body


def test_a_change_through_the_api_shows_on_the_right_row_among_hundreds(contexts, server):
    context, _ = contexts(width=1920, height=1080)
    page = context.new_page()
    sign_in(page, server.url, "sue")
    page.wait_for_selector("#connection.ok")
    expect(page.locator("#summary")).to_have_text(f"{AGENTS} shown · {AGENTS - 2} of {AGENTS} logged in")
    pill = page.locator("#over-count")
    expect(pill).to_have_text(re.compile(r"^\d+ over threshold$"))
    over = int(pill.get_attribute("data-count"))
    assert over >= AGENTS * 55 // 100  # the waiting agents, each a second past its alert time
    drawn = page.locator(ROWS).count()
    assert 0 < drawn < 80  # the screen's rows, not a thousand

    # a0280 is Ready with no alert time: set to Lunch, it is one more over the threshold a second later
    set_state(server, "a0280", "lunch")
    expect(pill).to_have_text(f"{over + 1} over threshold")
    pill.click()
    expect(page.locator("#summary")).to_have_text(re.compile(rf"^{over + 1} shown · "))
    # the least over comes last: at the end of the list, drawn once scrolled to
    page.evaluate("document.querySelector('#agents').scrollIntoView({block: 'end'})")
    last = page.locator(ROWS).last
    expect(last).to_have_attribute("data-agent", "a0280")
    expect(last).to_have_attribute("aria-rowindex", str(over + 2))  # the header is row 1
    expect(last.locator(".state-cell")).to_have_text(re.compile(r"^Lunch"))
    expect(last).to_have_class(re.compile(r"\balert-amber\b"))
    expect(last.locator(".over")).to_have_text(re.compile(r"^ \+\d+s over$"))

    # a0150 was waiting and over its alert time: back to Ready, it leaves the over-threshold view
    page.evaluate("window.scrollTo(0, 0)")
    page.fill("#filter-search", "a0150")
    expect(page.locator(ROWS)).to_have_count(1)
    set_state(server, "a0150", "ready")
    expect(page.locator("#agents tbody")).to_contain_text("No agents match.")
    page.fill("#filter-search", "")  # the pill counts the agents the other filters let through
    expect(pill).to_have_text(f"{over} over threshold")
    pill.click()  # the filter off: the row is there, Ready, with no alert
    page.fill("#filter-search", "a0150")
    row = page.locator(f'{ROWS}[data-agent="a0150"]')
    expect(row.locator(".state-cell")).to_have_text(re.compile(r"^Ready"))
    expect(row).not_to_have_class(re.compile(r"\balert-"))
    expect(row.locator(".over")).to_have_count(0)
