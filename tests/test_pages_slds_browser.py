"""The sign-in, admin and wallboard pages look like the Lightning console: each loads the vendored Lightning
Design System sheet and its controls are drawn by it (the brand button in SLDS's brand blue, the tabs, tables
and selects in SLDS's blueprint), not by our own copies of its rules. Every state visited is checked with axe."""

from __future__ import annotations

import pytest

from tests.helpers.browser import assert_accessible
from tests.helpers.floor import alert_config, seed_floor
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)

SLDS_BRAND = "rgb(1, 118, 211)"  # slds-button_brand's background (#0176d3)
SLDS_SHEET = "vendor/slds/styles/salesforce-lightning-design-system.min.css"

#: [is the SLDS sheet among the page's loaded style sheets, with rules; computed style of the element]
LOOK = """([selector, props, href]) => {
    const sheet = [...document.styleSheets].find(s => (s.href || '').endsWith(href));
    const el = document.querySelector(selector), style = getComputedStyle(el);
    return [!!sheet && sheet.cssRules.length > 1000, el.className, Object.fromEntries(props.map(p => [p, style[p]]))];
}"""


def look(page, selector: str, *props: str):
    return page.evaluate(LOOK, [selector, list(props), SLDS_SHEET])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("slds")) as srv:
        srv.user("ada", "admin")
        srv.user("sue", "supervisor")
        alert_config(srv.parts)
        seed_floor(srv.parts)
        yield srv


def test_the_sign_in_page_has_slds_fields_and_a_brand_blue_sign_in_button(contexts, server):
    page = contexts(width=1280, height=800)[0].new_page()
    page.goto(server.url + "/auth/login")
    loaded, classes, button = look(page, "form button[type=submit]", "backgroundColor", "color", "borderRadius")
    assert loaded, "the SLDS sheet is not loaded"
    assert "slds-button_brand" in classes.split(), classes
    assert button == {"backgroundColor": SLDS_BRAND, "color": "rgb(255, 255, 255)", "borderRadius": "4px"}, button
    # the label above its input, in SLDS's small grey label type, and the input SLDS's 2rem box
    _, _, label = look(page, "label[for=signin-username]", "fontSize", "color")
    assert label == {"fontSize": "12px", "color": "rgb(68, 68, 68)"}, label
    _, classes, field = look(page, "#signin-username", "height", "borderTopColor")
    assert "slds-input" in classes.split() and field == {"height": "32px", "borderTopColor": "rgb(116, 116, 116)"}, (
        field
    )
    expect(page.get_by_label("Username")).to_be_focused()  # still labelled, still autofocused
    assert_accessible(page, "sign-in on SLDS")


def test_the_admin_page_has_slds_tabs_tables_and_buttons_and_the_active_tab_follows_a_click(contexts, server):
    page = contexts(width=1280, height=800)[0].new_page()
    sign_in(page, server.url, "ada")
    page.goto(server.url + "/admin")
    page.wait_for_selector("#states tbody tr")
    loaded, classes, review = look(page, "#save", "backgroundColor")
    assert loaded and "slds-button_brand" in classes.split() and review == {"backgroundColor": SLDS_BRAND}, (
        classes,
        review,
    )
    # SLDS's table header: a grey band over the states
    _, classes, head = look(page, "#states thead th", "backgroundColor")
    assert "slds-table" in page.get_attribute("#states", "class").split() and head == {
        "backgroundColor": "rgb(243, 243, 243)"
    }
    # SLDS's active tab carries its blue underline; a click moves it with the panel
    active = "() => [...document.querySelectorAll('.slds-tabs_default__item.slds-is-active [role=tab]')].map(t => t.id)"
    assert page.evaluate(active) == ["tab-states"]
    assert_accessible(page, "admin states on SLDS")
    page.click("#tab-accounts")
    assert page.evaluate(active) == ["tab-accounts"]
    expect(page.locator("#panel-accounts")).to_be_visible()
    expect(page.locator("#panel-states")).to_be_hidden()
    page.mouse.move(640, 780)  # off the tab: SLDS draws a hover bar too
    underlines = page.evaluate(
        """() => [...document.querySelectorAll('.slds-tabs_default__item')].map(li => {
            const after = getComputedStyle(li, '::after'); return [li.firstElementChild.id, after.height, after.backgroundColor]; })"""
    )
    drawn = [(tab, colour) for tab, height, colour in underlines if height != "0px"]
    assert drawn == [("tab-accounts", "rgb(27, 150, 255)")], underlines  # SLDS's blue bar under the active tab only
    expect(page.locator("#agents tbody tr")).to_have_count(25)  # the list still pages at 25
    _, classes, menu = look(page, "#agents tbody tr .row-menu-button", "borderTopColor", "color")
    assert "slds-button_neutral" in classes.split(), classes
    assert menu == {"borderTopColor": "rgb(116, 116, 116)", "color": SLDS_BRAND}, (
        menu
    )  # SLDS neutral: grey edge, blue text
    assert_accessible(page, "admin accounts on SLDS")


def test_the_wallboard_uses_slds_type_and_picker_and_still_fits_one_screen(contexts, server):
    page = contexts(width=1920, height=1080)[0].new_page()
    sign_in(page, server.url, "sue")
    page.goto(server.url + "/dashboard/wallboard")
    page.wait_for_selector("#connection.ok")
    expect(page.locator("#count-away")).to_have_text("33")
    loaded, classes, picker = look(page, "#wall-team", "appearance", "borderRadius")
    # SLDS's select container draws the arrow (the browser's own is off) with SLDS's radius
    assert loaded and "slds-select" in classes.split() and picker == {"appearance": "none", "borderRadius": "4px"}, (
        picker
    )
    family = page.evaluate("getComputedStyle(document.documentElement).fontFamily")
    assert family.startswith("-apple-system"), family  # SLDS's type, as in the console
    _, classes, badge = look(page, "#over-count", "fontWeight", "backgroundColor")
    assert "slds-badge" in classes.split() and badge == {
        "fontWeight": "700",
        "backgroundColor": "rgb(255, 209, 102)",
    }, badge
    size = page.evaluate("[document.documentElement.scrollHeight, document.documentElement.scrollWidth]")
    assert size == [1080, 1920], size  # SLDS's resets did not make the board scroll
    assert_accessible(page, "wallboard on SLDS")
