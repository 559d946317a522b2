"""The wallboard on a TV: 60 agents (19 on calls, 33 over their alert time) on one 1920x1080 screen with
no scrolling, the clock and the connection in view, a STALE banner across the screen when the live stream
drops. Every page state visited is checked with axe-core."""

from __future__ import annotations

import re

import pytest

from tests.helpers.browser import SCREENSHOTS, assert_accessible
from tests.helpers.floor import WAITING, alert_config, seed_floor
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import CuttableProxy, live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)
LABELS = {"break": "Break", "lunch": "Lunch", "meeting": "Meeting", "training": "Training"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("wall")) as srv:
        srv.user("sue", "supervisor")
        alert_config(srv.parts)
        seed_floor(srv.parts)
        yield srv


def wallboard(contexts, server, path="/dashboard/wallboard", width=1920, height=1080, base=None):
    context, watcher = contexts(width=width, height=height)
    if base:
        watcher.expect_network_loss()
    page = context.new_page()
    sign_in(page, base or server.url, "sue")
    page.goto((base or server.url) + path)
    page.wait_for_selector("#connection.ok")
    return page


def photograph(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    assert_accessible(page, name)


def test_sixty_agents_fit_one_1920x1080_screen_with_counts_alerts_first_and_the_rest_counted(contexts, server):
    page = wallboard(contexts, server)
    expect(page.locator("#count-call")).to_have_text("19")
    expect(page.locator("#count-away")).to_have_text("33")
    expect(page.locator("#over-count")).to_have_text("33 over threshold")
    size = page.evaluate("""() => ({height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
                                    body: document.body.scrollHeight, view: innerHeight})""")
    assert size == {"height": 1080, "width": 1920, "body": 1080, "view": 1080}, size  # no scrolling
    for key, total in (("call", 19), ("away", 33)):
        cards = page.locator(f"#names-{key} li:not(.more)")
        shown = cards.count()
        assert shown >= 5, (key, shown)
        expect(page.locator(f"#names-{key} li.more")).to_have_text(f"+{total - shown} more")
        bottom = page.evaluate(f"document.querySelector('#names-{key} li.more').getBoundingClientRect().bottom")
        assert bottom <= 1080, bottom  # "+N more" is on screen, not cut off
    away = page.locator("#names-away li.alert")
    assert away.count() == page.locator("#names-away li:not(.more)").count()  # the alerting agents come first
    # read at once: the board redraws its lists every second
    icons, width, colour = page.evaluate("""() => { const li = document.querySelector('#names-away li.alert');
        return [li.querySelectorAll('svg.alert-icon').length, getComputedStyle(li).borderTopWidth,
                getComputedStyle(li).borderTopColor]; }""")
    assert icons == 1 and float(width.rstrip("px")) >= 3 and colour == "rgb(255, 209, 102)", (icons, width, colour)
    reasons = page.locator("#names-away .reason").all_inner_texts()
    assert reasons and set(reasons) <= {LABELS[s] for s in WAITING}, reasons  # which of Away/Busy, beside the name
    lines = page.eval_on_selector_all(
        ".names .agent",
        """els => els.map(e => [e.textContent, e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight),
                                getComputedStyle(e).textOverflow])""",
    )
    assert all(round(n) == 1 and overflow == "ellipsis" for _, n, overflow in lines), lines  # never "Bartholom/ew"
    head = page.evaluate("""() => ['clock', 'connection'].map(id => {
        var r = document.getElementById(id).getBoundingClientRect(); return [r.top, r.bottom, r.right]; })""")
    assert all(top >= 0 and bottom <= 120 and right <= 1920 for top, bottom, right in head), head  # in the header
    expect(page.locator("#clock")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    expect(page.locator("#connection")).to_have_text("Live")
    photograph(page, "wallboard-1920x1080")


def test_at_1280x800_the_wallboard_still_fits(contexts, server):
    page = wallboard(contexts, server, width=1280, height=800)
    expect(page.locator("#count-away")).to_have_text("33")
    assert page.evaluate("[document.documentElement.scrollHeight, document.documentElement.scrollWidth]") == [800, 1280]
    expect(page.locator("#names-away li.more")).to_have_text(re.compile(r"^\+\d+ more$"))
    photograph(page, "wallboard-1280x800")


def test_a_team_tv_has_no_team_picker(contexts, server):
    page = wallboard(contexts, server, path="/dashboard/wallboard?team=Sales")
    expect(page.locator("#wall-title")).to_have_text("Wallboard · Sales")
    expect(page.locator("#wall-team")).to_have_count(0)
    counts = [int(page.inner_text(f"#count-{k}")) for k in ("ready", "call", "wrapup", "dnd", "away", "offline")]
    assert sum(counts) == 30, counts  # the Sales half of the floor
    page.goto(server.url + "/dashboard/wallboard")  # the all-teams board offers the picker
    expect(page.locator("#wall-team")).to_be_visible()


def test_a_dropped_stream_puts_stale_across_the_whole_screen_and_stops_the_timers(contexts, server):
    proxy = CuttableProxy(server.server.server_port)
    try:
        page = wallboard(contexts, server, base=proxy.url)
        expect(page.locator("#stale")).to_be_hidden()
        proxy.cut()
        banner = page.locator("#stale")
        expect(banner).to_be_visible(timeout=3000)
        expect(banner).to_contain_text("STALE")
        expect(page.locator("#stale-text")).to_contain_text(re.compile(r"Not live since \d\d:\d\d:\d\d"))
        box = banner.bounding_box()
        assert box == {"x": 0, "y": 0, "width": 1920, "height": 1080}, box
        longest = page.inner_text("#longest-call")
        page.wait_for_timeout(2200)
        assert page.inner_text("#longest-call") == longest  # frozen at the moment the data stopped
        photograph(page, "wallboard-stale")
        proxy.restore()
        expect(banner).to_be_hidden(timeout=10000)
        expect(page.locator("#connection")).to_have_text("Live")
    finally:
        proxy.close()
