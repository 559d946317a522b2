"""The wallboard's names on a 1920x1080 TV with 60 and with 200 agents: one screen, no scrolling, and every
name readable: shown whole, or at least its first 12 characters before the ellipsis (the full name in the
card's title and accessible name)."""

from __future__ import annotations

import pytest

from tests.helpers.browser import SCREENSHOTS
from tests.helpers.floor import alert_config, seed_floor
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)

#: floors of 60 (19 on calls, 33 waiting over their alert time) and of 200 agents in the same proportions
FLOORS = {60: (19, 33), 200: (63, 110)}

#: per visible card: the full name, the characters shown before any ellipsis, and whether it is cut
VISIBLE_NAMES = """() => Array.from(document.querySelectorAll('.names li:not(.more) .agent')).map(e => {
    const text = e.textContent, box = e.getBoundingClientRect();
    if (e.scrollWidth <= e.clientWidth) return [text, text.length, false];
    const range = document.createRange(), node = e.firstChild;
    const ellipsis = document.createElement('span');
    ellipsis.textContent = '\u2026'; ellipsis.style.font = getComputedStyle(e).font;
    ellipsis.style.position = 'absolute'; document.body.appendChild(ellipsis);
    const room = box.right - ellipsis.getBoundingClientRect().width; ellipsis.remove();
    let shown = 0;
    for (let i = 1; i <= text.length; i++) {
        range.setStart(node, 0); range.setEnd(node, i);
        if (range.getBoundingClientRect().right > room + 0.5) break;
        shown = i;
    }
    return [text, shown, true];
})"""


@pytest.fixture(scope="module", params=sorted(FLOORS))
def floor(request, tmp_path_factory):
    agents = request.param
    on_calls, waiting = FLOORS[agents]
    with live_server(tmp_path_factory.mktemp(f"wall{agents}")) as srv:
        srv.user("sue", "supervisor")
        alert_config(srv.parts)
        seed_floor(srv.parts, agents=agents, on_calls=on_calls, waiting=waiting)
        yield agents, srv


def test_every_name_on_the_1920x1080_wallboard_is_whole_or_shows_12_characters_and_nothing_scrolls(contexts, floor):
    agents, server = floor
    context, _ = contexts(width=1920, height=1080)
    page = context.new_page()
    sign_in(page, server.url, "sue")
    page.goto(server.url + "/dashboard/wallboard")
    page.wait_for_selector("#connection.ok")
    expect(page.locator("#count-away")).to_have_text(str(FLOORS[agents][1]))
    size = page.evaluate("""() => [document.documentElement.scrollHeight, document.documentElement.scrollWidth,
                                   document.body.scrollHeight, document.body.scrollWidth]""")
    assert size == [1080, 1920, 1080, 1920], size  # one screen: no page scroll either way
    names = page.evaluate(VISIBLE_NAMES)
    assert len(names) >= 12, names  # the board shows names, not just counts
    for key in ("wrapup", "dnd", "offline"):  # the stacked tiles of the fourth column show a name too
        shown = page.locator(f"#names-{key} li:not(.more)").count()
        assert shown >= 1 or page.inner_text(f"#count-{key}") == "0", (key, shown)
    short = [(name, shown) for name, shown, _ in names if shown < min(12, len(name))]
    assert short == [], short  # never "Konstan…"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"wallboard-names-{agents}.png"))
    print(agents, "cards", len(names), "cut", sum(cut for *_, cut in names), "min shown", min(s for _, s, _ in names))
