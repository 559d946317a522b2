"""The softphone as it sits in the Lightning console (300 px wide): the SLDS state combobox (a highlight is
not a change of state), the state picked for after a call with Cancel, Dial only when something is dialled,
a visible focus ring, one header line, and messages that clear themselves. Every page state photographed is
also checked with axe-core (web_server.screenshot)."""

from __future__ import annotations

import re

import pytest

from connector.presence.config import build_config, load_preset
from connector.presence.contrast import contrast
from tests.helpers.browser import assert_accessible, screenshot, softphone
from tests.helpers.web_server import CuttableProxy, live_server, pick_state

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("console")) as srv:
        yield srv


@pytest.fixture
def config(server):
    """Apply a changed default preset for one test; the default comes back afterwards."""

    def apply(change) -> None:
        data = load_preset("default").to_dict()
        change(data)
        version = server.parts.configs.apply(build_config(data, "test"), created_by="test", origin="test")
        server.parts.bus.publish("config", {"version": version, "name": data["name"]})  # as the admin page does

    yield apply
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def logged_in(contexts, server, agent_id: str, refusals: tuple[int, ...] = (), **kw):  # noqa: F811
    server.agent(agent_id, **kw)
    phone = softphone(contexts, server, agent_id, refusals=refusals)
    phone.click("#login")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    return phone


def call(server, agent_id: str, event: str) -> None:
    body = {"call_id": f"call-of-{agent_id}", "event": event, "direction": "inbound"}
    if event == "ended":
        body["duration_seconds"] = 40
    status, answer = server.call("POST", f"/api/v1/agents/{agent_id}/calls", server.token("integration"), body)
    assert status == 200, answer


def _rgb(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def test_arrow_keys_move_the_highlight_and_do_not_change_the_state(contexts, server):
    phone = logged_in(contexts, server, "arlo")
    since = server.parts.service.presence("arlo")["state_since"]
    phone.focus("#state")
    for _ in range(3):  # opens the list, then Do Not Disturb, Break highlighted in turn
        phone.keyboard.press("ArrowDown")
    expect(phone.locator("#state")).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#state-listbox .slds-has-focus")).to_have_attribute("data-value", "break")
    phone.wait_for_timeout(700)  # long enough for a change to have reached the server and come back
    stored = server.parts.service.presence("arlo")
    assert (stored["state"]["id"], stored["state_since"]) == ("ready", since)
    assert phone.inner_text("#current-label") == "Ready for Calls (Online)"
    phone.keyboard.press("Escape")  # closes, changes nothing
    expect(phone.locator("#state")).to_have_attribute("aria-expanded", "false")
    assert server.parts.service.presence("arlo")["state"]["id"] == "ready"

    phone.keyboard.press("ArrowDown")
    phone.keyboard.press("ArrowDown")
    phone.keyboard.press("Enter")  # only Enter commits
    expect(phone.locator("#current-label")).to_have_text("Do Not Disturb (DND)")
    assert server.parts.service.presence("arlo")["state"]["id"] == "dnd"


def test_every_state_in_the_picker_has_a_dot_in_its_colour(contexts, server):
    phone = logged_in(contexts, server, "dora")
    phone.click("#state")
    dots = phone.eval_on_selector_all(
        "#state-listbox [role=option]",
        "options => options.map(o => [o.dataset.value, getComputedStyle(o.querySelector('.pc-dot')).backgroundColor])",
    )
    colours = {st.id: st.colour for st in load_preset("default").states if st.selectable}
    assert {state: _rgb(css) for state, css in dots} == colours
    assert_accessible(phone, "softphone with the state list open")
    current = phone.eval_on_selector("#current-dot", "n => getComputedStyle(n).backgroundColor")
    assert _rgb(current) == colours["ready"]


def test_a_state_picked_during_a_call_shows_as_next_and_can_be_cancelled(contexts, server):
    phone = logged_in(contexts, server, "nell")
    call(server, "nell", "started")
    expect(phone.locator("#current-label")).to_have_text("On a Call")
    expect(phone.locator("#state-hint")).to_have_text("You are on a call: the state you pick starts after the call.")
    pick_state(phone, "lunch")
    expect(phone.locator("#next")).to_have_text(re.compile(r"Next: Lunch — after this call\s*Cancel"))
    expect(phone.locator("#current-label")).to_have_text("On a Call")  # the call goes on
    expect(phone.locator("#state-value")).to_have_text("On a Call")
    expect(phone.locator('#state-listbox [data-value="lunch"]')).to_have_attribute("aria-selected", "true")
    assert server.parts.service.presence("nell")["next_state"]["id"] == "lunch"
    screenshot(phone, "softphone-next-state-300")

    phone.click("#next-cancel")
    expect(phone.locator("#next")).to_be_hidden()
    assert server.parts.service.presence("nell")["next_state"] is None
    expect(phone.locator("#announce")).to_have_text("Now On a Call")


def test_wrap_up_says_which_state_follows_it(contexts, server):
    phone = logged_in(contexts, server, "wade")
    call(server, "wade", "started")
    expect(phone.locator("#current-label")).to_have_text("On a Call")
    pick_state(phone, "lunch")
    expect(phone.locator("#next")).to_be_visible()
    call(server, "wade", "ended")
    expect(phone.locator("#wrapup")).to_contain_text(re.compile(r"Wrap-up ends in \d+ s, then Lunch"))
    expect(phone.locator("#next")).to_contain_text("Next: Lunch — after wrap-up")
    screenshot(phone, "softphone-wrap-up-then-lunch-300")
    phone.click("#wrapup-end")
    expect(phone.locator("#current-label")).to_have_text("Lunch (Away)")
    expect(phone.locator("#next")).to_be_hidden()


def test_dial_is_offered_only_when_the_pbx_dials(contexts, server, config):
    phone = logged_in(contexts, server, "dina", refusals=(422,))
    assert phone.is_hidden("#dial-form")  # the default preset: PBX mode none, nothing would be dialled
    assert phone.locator("#dial").count() == 1

    def dial_mode(data):
        data["options"]["pbx_mode"] = "dial"

    config(dial_mode)
    expect(phone.locator("#dial-form")).to_be_visible()  # the live config event brings it
    phone.fill("#dial-number", "5551234")
    phone.click("#dial")
    # no PBX adapter is enabled in this server: the agent is told so in plain words
    expect(phone.locator("#dial-error")).to_have_text(
        "Not dialled: no phone system is connected to this softphone. Ask your administrator to turn one on."
    )
    phone.fill("#dial-number", "call mum")
    phone.click("#dial")
    expect(phone.locator("#dial-error")).to_have_text("That is not a phone number: use up to 32 digits, * # and +.")


def test_the_focus_ring_is_a_visible_2px_line(contexts, server):
    phone = logged_in(contexts, server, "fay")
    phone.locator("#state").focus()
    phone.keyboard.press("Shift+Tab")
    phone.keyboard.press("Tab")  # reached with the keyboard, as :focus-visible wants
    ring = phone.eval_on_selector(
        "#state",
        "n => { const s = getComputedStyle(n); return [s.outlineStyle, s.outlineWidth, s.outlineColor,"
        " getComputedStyle(document.body).backgroundColor]; }",
    )
    assert ring[0] == "solid" and ring[1] == "2px", ring
    assert contrast(_rgb(ring[2]), _rgb(ring[3])) >= 3.0, ring  # WCAG 1.4.11: a focus ring stands out
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.id") == "logout"
    width = phone.eval_on_selector("#logout", "n => getComputedStyle(n).outlineWidth")
    assert width == "2px"


def test_the_header_is_one_line_at_300px_even_with_a_long_name(contexts, server):
    phone = logged_in(contexts, server, "bart", name="Bartholomew Featherstonehaugh-Worthington")
    expect(phone.locator("#agent-name")).to_have_text("Bartholomew Featherstonehaugh-Worthington")
    boxes = phone.evaluate(
        "['agent-name', 'sign-out'].map(id => document.getElementById(id).getBoundingClientRect())"
        ".map(r => [r.top, r.height, r.right])"
    )
    (name_top, name_height, _), (out_top, out_height, out_right) = boxes
    assert name_height < 24 and out_height < 28, boxes  # one line each
    assert abs((name_top + name_height / 2) - (out_top + out_height / 2)) < 3, boxes  # side by side
    assert out_right <= 300 and phone.evaluate("document.documentElement.scrollWidth") <= 300
    # the whole name stays available: in the title's text, cut only on screen
    assert phone.eval_on_selector("#agent-name", "n => n.scrollWidth > n.clientWidth")


def test_cannot_be_reached_clears_once_connected_again(contexts, server):
    server.agent("rory")
    proxy = CuttableProxy(server.server.server_port)
    try:
        phone = softphone(contexts, server, "rory", base=proxy.url)
        phone.click("#login")
        expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
        proxy.cut()
        expect(phone.locator("#connection")).to_have_class(re.compile("lost"), timeout=2000)
        pick_state(phone, "break")
        expect(phone.locator("#message")).to_have_text(
            "The presence server cannot be reached, so your state was not changed. It reconnects by itself: "
            "try again when it says Connected."
        )
        assert phone.inner_text("#current-label") == "Ready for Calls (Online)"
        proxy.restore()
        expect(phone.locator("#connection")).to_have_text("Connected", timeout=8000)
        expect(phone.locator("#message")).to_be_hidden()
    finally:
        proxy.close()


def test_the_softphone_at_300px_in_the_console(contexts, server):
    phone = logged_in(contexts, server, "lena", name="Lena Okafor")
    pick_state(phone, "break")
    expect(phone.locator("#current-label")).to_have_text("Break (Away)")
    phone.click("#state")
    phone.keyboard.press("ArrowDown")
    expect(phone.locator("#state-listbox .slds-has-focus")).to_have_attribute("data-value", "lunch")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 300
    screenshot(phone, "softphone-console-300")
    phone.keyboard.press("Escape")
    screenshot(phone, "softphone-console-300-closed")
