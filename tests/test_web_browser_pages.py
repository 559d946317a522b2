"""The pages in headless Chromium: what an agent, a supervisor, a wallboard watcher and an admin
notice (contrast, live regions, forced-logout reasons, thresholds, team wallboards, agent edits).
Every photographed page state is also checked with axe-core (tests/helpers/browser.py, screenshot)."""

from __future__ import annotations

import re

import pytest

from connector.presence.config import build_config, load_preset
from connector.presence.contrast import AA_TEXT, contrast
from tests.helpers.browser import assert_accessible, screenshot, softphone
from tests.helpers.signin import browser_sign_in
from tests.helpers.web_server import live_server, pick_state

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("pages")) as srv:
        srv.user("sue", "supervisor")
        srv.user("ada", "admin")
        yield srv


@pytest.fixture
def config(server):
    """Apply a changed default preset for one test; the default comes back afterwards."""

    def apply(change) -> None:
        data = load_preset("default").to_dict()
        change(data)
        server.parts.configs.apply(build_config(data, "test"), created_by="test", origin="test")

    yield apply
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def _rgb(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _start_call(server, agent_id: str, call_id: str) -> None:
    status, _ = server.call(
        "POST",
        f"/api/v1/agents/{agent_id}/calls",
        server.token("integration"),
        {"call_id": call_id, "event": "started", "direction": "inbound"},
    )
    assert status == 200


# -- softphone -------------------------------------------------------------------------------------


def test_banner_text_reads_on_every_state_colour(contexts, server):
    server.agent("lena")
    phone = softphone(contexts, server, "lena")
    phone.click("#login")
    for state, label in (
        ("lunch", "Lunch (Away)"),
        ("break", "Break (Away)"),
        ("dnd", "Do Not Disturb (DND)"),
        ("ready", "Ready for Calls (Online)"),
    ):
        pick_state(phone, state)
        expect(phone.locator("#current-label")).to_have_text(label)
        colours = phone.eval_on_selector(
            "#current", "n => [getComputedStyle(n).color, getComputedStyle(n).backgroundColor]"
        )
        ratio = contrast(_rgb(colours[0]), _rgb(colours[1]))
        assert ratio >= AA_TEXT, (state, colours, ratio)  # white on Lunch's yellow was 1.65:1
        if state == "lunch":
            screenshot(phone, "softphone-lunch")


def test_the_ticking_timer_is_not_announced_only_a_change_of_state(contexts, server):
    server.agent("tom")
    phone = softphone(contexts, server, "tom")
    phone.click("#login")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    expect(phone.locator("#announce")).to_have_text("Now Ready for Calls (Online)")
    phone.evaluate("""() => {
      window.liveChanges = [];
      document.querySelectorAll('[aria-live]:not([aria-live=off]), [role=status], [role=alert]').forEach(function (n) {
        new MutationObserver(function () { window.liveChanges.push(n.id + ': ' + n.textContent); })
          .observe(n, {subtree: true, childList: true, characterData: true});
      });
    }""")
    timer = phone.locator("#current-timer")
    assert timer.evaluate("n => n.closest('[aria-live]:not([aria-live=off])')") is None
    expect(timer).to_have_text(re.compile(r"^0:0[3-9]$"), timeout=8000)  # ticked 4x a second for 2+ seconds
    assert phone.evaluate("window.liveChanges") == []
    pick_state(phone, "break")
    expect(phone.locator("#announce")).to_have_text("Now Break (Away)")
    assert phone.evaluate("window.liveChanges") == ["announce: Now Break (Away)"]


def test_a_forced_logout_says_why_and_an_own_logout_does_not(contexts, server):
    server.agent("fred")
    phone = softphone(contexts, server, "fred")
    for token_role, why in (
        ("supervisor", "a supervisor logged you out"),
        ("integration", "an integration logged you out through the API"),
    ):
        phone.click("#login")
        expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
        status, _ = server.call("POST", "/api/v1/agents/fred/logout", server.token(token_role), {})
        assert status == 200
        expect(phone.locator("#message")).to_have_text(f"You are logged out: {why}.")
        expect(phone.locator("#current-label")).to_have_text("Logged out")
    screenshot(phone, "softphone-forced-logout")
    phone.click("#login")
    expect(phone.locator("#message")).to_be_hidden()
    phone.click("#logout")  # the agent's own logout needs no explanation
    expect(phone.locator("#current-label")).to_have_text("Logged out")
    expect(phone.locator("#logged-out-panel")).to_be_visible()
    assert phone.is_hidden("#message")
    # the page's sign-out and the presence log-out are told apart
    assert phone.inner_text("#sign-out") == "Sign out of page"
    assert phone.inner_text("#login") == "Log in to presence"


def test_on_a_call_label_is_not_repeated_and_a_dial_error_sits_next_to_the_number(contexts, server, config):
    config(lambda data: data["options"].update(pbx_mode="dial"))  # Dial is offered only when the PBX dials
    server.agent("carl")
    phone = softphone(contexts, server, "carl", refusals=(422,))
    phone.click("#login")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    phone.fill("#dial-number", "call mum")
    phone.press("#dial-number", "Enter")
    expect(phone.locator("#dial-error")).to_be_visible()
    expect(phone.locator("#dial-number")).to_have_attribute("aria-invalid", "true")
    assert phone.is_hidden("#message")
    screenshot(phone, "softphone-dial-error")
    _start_call(server, "carl", "carl-1")
    expect(phone.locator("#current-label")).to_have_text("On a Call")  # not "On a Call (On a call)"


# -- dashboard -------------------------------------------------------------------------------------


def test_an_agent_on_a_call_gets_a_state_choice_that_never_sends_a_blank(contexts, server):
    server.agent("olive", team="Oncall")
    phone = softphone(contexts, server, "olive")
    phone.click("#login")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    _start_call(server, "olive", "olive-1")
    page = contexts()[0].new_page()
    browser_sign_in(page, server.url, "sue")
    page.wait_for_selector("#connection.ok")
    row = page.locator('#agents tr[data-agent="olive"]')
    expect(row.locator(".state-cell")).to_have_text("On a Call")
    row.locator('[data-control="menu"]').click()
    page.get_by_role("menuitem", name="Change state…").click()
    expect(page.locator("#state-dialog-now")).to_contain_text("Now On a Call")
    assert page.eval_on_selector("#state-pick", "s => s.options[s.selectedIndex].text") == "Choose a state…"
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/presence" in r.url else None)
    page.click("#state-apply")
    expect(page.locator("#state-dialog-error")).to_have_text("Choose the new state.")
    assert sent == []
    page.select_option("#state-pick", "break")
    with page.expect_request("**/api/v1/agents/olive/presence") as put:
        page.click("#state-apply")
    assert put.value.post_data_json == {"state": "break"}


def test_chart_axis_labels_fit_and_the_supervisor_column_fits_at_768_px(contexts, server):
    server.agent("tara", team="Tablet", name="Tara Longname-Fitzgerald")
    phone = softphone(contexts, server, "tara")
    phone.click("#login")
    page = contexts(width=768, height=1024)[0].new_page()
    browser_sign_in(page, server.url, "sue")
    page.wait_for_selector("#connection.ok")
    menu = page.locator('#agents tr[data-agent="tara"] [data-control="menu"]')
    expect(menu).to_be_visible()
    right = page.evaluate("""document.querySelector('#agents tr[data-agent="tara"] [data-control="menu"]')
                             .getBoundingClientRect().right""")
    assert right <= 768 - 12, right  # inside the card, not cut off
    assert page.evaluate("document.documentElement.scrollWidth <= 768")
    # a team's hour can hold more than an hour of agent time: "1h 54m" at the top of the axis
    lefts = page.evaluate("""() => {
      var chart = PCCharts.hourlyMix([{label: "09:00", seconds: {ready: 6840}}], ["ready"], {ready: "#2e7d32"}, {ready: "Ready"});
      document.getElementById("chart-teams").replaceChildren(chart);
      return Array.prototype.map.call(chart.querySelectorAll("text"), function (t) { return [t.textContent, t.getBBox().x]; });
    }""")
    assert ["1h 54m"] == [text for text, _ in lefts if text == "1h 54m"]
    assert all(x >= 0 for _, x in lefts), lefts
    page.click("#chart-show")
    expect(page.locator("#chart-agents svg text", has_text="Tara Longname-Fit…")).to_have_count(1)
    names = page.eval_on_selector_all("#chart-agents svg text", "ts => ts.map(t => t.getBBox().x)")
    assert all(x >= 0 for x in names), names  # an agent's name is not cut at the left edge
    page.click("#logon-include summary")
    page.check('#logon-include input[value="Supervisor"]')
    expect(page.locator("#logon-include .picked")).to_have_text("Supervisor")
    screenshot(page, "dashboard-768")


def test_time_in_state_over_the_admins_threshold_turns_the_row_amber_then_red(contexts, server, config):
    def alerts(data):
        next(s for s in data["states"] if s["id"] == "break")["alert_after_seconds"] = [1, 3]

    config(alerts)
    server.agent("abel", team="Alerts", name="Abel Alert")
    phone = softphone(contexts, server, "abel")
    phone.click("#login")
    page = contexts()[0].new_page()
    browser_sign_in(page, server.url, "sue")
    page.wait_for_selector("#connection.ok")
    page.select_option("#filter-team", "Alerts")
    row = page.locator('#agents tr[data-agent="abel"]')
    expect(page.locator("#over-count")).to_have_attribute("data-count", "0")
    pick_state(phone, "break")
    expect(row).to_have_class(re.compile("alert-amber"), timeout=4000)
    expect(page.locator("#over-count")).to_have_text("1 over threshold")
    expect(row).to_have_class(re.compile("alert-red"), timeout=6000)
    # said in words too, not by colour alone
    expect(row.locator(".over.red")).to_have_text(re.compile(r"^ \+\d+s over$"))
    screenshot(page, "dashboard-alerts")

    wall = page.context.new_page()
    wall.goto(server.url + "/dashboard/wallboard?team=Alerts")
    wall.wait_for_selector("#connection.ok")
    expect(wall.locator("#names-away li.alert-red")).to_contain_text("Abel Alert")
    expect(wall.locator("#over-count")).to_have_text("1 over threshold")
    screenshot(wall, "wallboard-alerts")
    pick_state(phone, "ready")
    expect(row).not_to_have_class(re.compile("alert-"))
    expect(page.locator("#over-count")).to_have_attribute("data-count", "0")


# -- wallboard -------------------------------------------------------------------------------------


def test_wallboard_per_team_counts_wrap_up_apart_names_agents_and_reads_from_across_a_room(contexts, server, config):
    def wrap_up(data):
        data["options"]["wrap_up_seconds"] = 120

    config(wrap_up)
    server.agent("wanda", team="Wall", name="Wanda Wrap")
    server.agent("dave", team="Wall", name="Dave Dnd")
    server.agent("otis", team="Other", name="Otis Other")
    phones = {a: softphone(contexts, server, a) for a in ("wanda", "dave", "otis")}
    for phone in phones.values():
        phone.click("#login")
        expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    pick_state(phones["dave"], "dnd")
    token = server.token("integration")
    for event, extra in (("started", {}), ("ended", {"duration_seconds": 40})):
        assert (
            server.call(
                "POST",
                "/api/v1/agents/wanda/calls",
                token,
                {"call_id": "w-1", "event": event, "direction": "inbound", **extra},
            )[0]
            == 200
        )
    expect(phones["wanda"].locator("#wrapup")).to_be_visible()

    page = contexts(width=1920, height=1080)[0].new_page()
    browser_sign_in(page, server.url, "sue")
    page.goto(server.url + "/dashboard/wallboard?team=Wall")  # a TV per team, by its address
    page.wait_for_selector("#connection.ok")
    expect(page.locator("#wall-title")).to_have_text("Wallboard · Wall")
    expect(page.locator("#count-wrapup")).to_have_text("1")
    expect(page.locator("#count-dnd")).to_have_text("1")  # wrap-up is no longer counted as DND
    expect(page.locator("#names-wrapup")).to_contain_text("Wanda Wrap")
    expect(page.locator("#names-dnd")).to_contain_text("Dave Dnd")
    expect(page.locator("#count-ready")).to_have_text("0")  # Otis (team Other) is not on this board
    expect(page.locator("#longest-dnd")).to_have_text(re.compile(r"^longest \d+:\d\d$"))
    sizes = page.evaluate("""() => ({name: parseFloat(getComputedStyle(document.querySelector('#names-dnd li')).fontSize),
                                     count: parseFloat(getComputedStyle(document.getElementById('count-dnd')).fontSize)})""")
    assert sizes["name"] >= 40 and sizes["count"] >= 120, sizes  # ~1 cm letters on a 55" TV: readable at 5 m
    screenshot(page, "wallboard-team")
    page.goto(server.url + "/dashboard/wallboard")
    page.select_option("#wall-team", "Wall")
    assert page.url.endswith("?team=Wall")  # the address is the TV's bookmark
    page.select_option("#wall-team", "")
    expect(page.locator("#wall-title")).to_have_text("Wallboard · All teams")
    assert "team=" not in page.url
    expect(page.locator("#names-ready")).to_contain_text("Otis Other")


# -- admin -----------------------------------------------------------------------------------------


def test_admin_edits_an_agent_with_errors_next_to_the_field_and_sees_empty_states(contexts, tmp_path):
    with live_server(tmp_path) as fresh:
        fresh.user("ada", "admin")
        context, watcher = contexts()
        watcher.expect_refusals(422)
        page = context.new_page()
        browser_sign_in(page, fresh.url, "ada")
        page.wait_for_selector("#states tbody tr")
        expect(page.locator("#preset")).to_have_value("default")  # the active preset, not the first in the list
        # the PBX mode's choice is shown whole
        assert page.evaluate("""() => {
          var s = document.querySelector('[data-field="options.pbx_mode"]'), probe = document.createElement('span');
          probe.textContent = s.options[s.selectedIndex].text; probe.style.font = getComputedStyle(s).font;
          document.body.appendChild(probe); var fits = probe.offsetWidth + 28 <= s.clientWidth; probe.remove(); return fits;
        }""")
        page.click("#tab-accounts")
        expect(page.locator("#tokens tbody")).to_have_text("No API tokens yet: create one for the PBX or CTI layer.")
        expect(page.locator("#agents tbody")).to_have_text("No agents yet: add one above or import a CSV file.")
        screenshot(page, "admin-accounts-empty")
        page.fill("#agent-form input[name=id]", "edred")
        page.fill("#agent-form input[name=name]", "Edred")
        page.click("#agent-form button[type=submit]")
        row = page.locator("#agents tbody tr", has_text="edred")
        row.get_by_role("button", name="Actions for edred").click()
        page.get_by_role("menuitem", name="Edit edred").click()
        page.select_option("#edit-team", "__new__")  # no team yet: "New team…"
        page.fill("#agent-edit input[name=new_team]", "Retention")
        page.fill("#edit-salesforce_user_id", "not-a-user")
        page.click("#agent-edit button[type=submit]")
        expect(page.locator("#edit-salesforce_user_id-error")).to_contain_text("Salesforce User id")
        expect(page.locator("#edit-salesforce_user_id")).to_have_attribute("aria-invalid", "true")
        screenshot(page, "admin-agent-edit-error")
        page.fill("#edit-salesforce_user_id", "005Hs00000ABCDE")
        page.click("#agent-edit button[type=submit]")
        expect(page.locator("#agent-edit")).to_be_hidden()
        expect(row).to_contain_text("Retention")
        expect(row).to_contain_text("005Hs00000ABCDE")

        page.click("#tab-salesforce")  # not configured: the card says what to set instead of being empty
        expect(page.locator("#sf-health")).to_contain_text("To turn it on")
        expect(page.locator("#sf-health")).to_contain_text("SF_CLIENT_ID")
        screenshot(page, "admin-salesforce-not-configured")


def test_admin_sets_alert_thresholds_and_a_colour_no_text_reads_on_is_refused_inline(contexts, server):
    context, watcher = contexts()
    watcher.expect_refusals(422)
    page = context.new_page()
    browser_sign_in(page, server.url, "ada")
    page.wait_for_selector("#states tbody tr")
    brk = page.locator("#states tbody tr", has=page.locator('input[data-key="label"][value="Break"]'))
    brk.locator("input.alert-after").nth(0).fill("15:00")  # m:ss
    brk.locator("input.alert-after").nth(1).fill("10")  # minutes: red before amber
    expect(brk.locator(".field-error")).to_contain_text("must come after amber")
    brk.locator("input.alert-after").nth(1).fill("30")
    expect(page.locator("#problems")).to_be_hidden()
    brk.locator('input[data-key="colour"]').fill("#808080")
    expect(brk.locator(".field-error")).to_contain_text("4.5:1")
    screenshot(page, "admin-colour-refused")
    brk.locator('input[data-key="colour"]').fill("#f9a825")
    expect(page.locator("#problems")).to_be_hidden()
    page.click("#save")
    page.click("#review-apply")
    expect(page.locator("#editor-status")).to_contain_text("Saved and applied")
    assert server.parts.configs.active().state("break").alert_after_seconds == (900, 1800)
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")
    assert_accessible(page, "admin after save")
