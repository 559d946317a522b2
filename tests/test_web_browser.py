"""The pages in headless Chromium against the served app: softphone, dashboard, wallboard, admin."""

from __future__ import annotations

import csv
import io
import re

import pytest

from connector.presence.config import build_config, load_preset
from connector.reports import queries as reports
from tests.helpers.browser import assert_accessible, screenshot, softphone
from tests.helpers.signin import browser_agent_sign_in, browser_sign_in
from tests.helpers.web_server import CuttableProxy, live_server, pick_state

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


SALESFORCE_DOMAINS = "https://*.lightning.force.com"
CONSOLE = "https://acme.lightning.force.com"
#: what the console's opencti_min.js offers, recording what the softphone does with it
FAKE_OPENCTI = """
window.published = []; window.panelHeights = []; window.screenPops = []; window.clickToDial = false;
window.sforce = {opencti: {
  CALL_TYPE: {INBOUND: "inbound", OUTBOUND: "outbound", INTERNAL: "internal"},
  publish: function (p) { window.published.push(p); },
  subscribe: function (o) { window.omniListener = o.listener; window.subscribedTo = o.channelName; },
  setSoftphonePanelHeight: function (o) { window.panelHeights.push(o.heightPX); },
  enableClickToDial: function (o) { window.clickToDial = true; o.callback({success: true}); },
  onClickToDial: function (o) { window.clickToDialListener = o.listener; },
  searchAndScreenPop: function (o) {
    window.screenPops.push({searchParams: o.searchParams, callType: o.callType, deferred: o.deferred});
    o.callback({success: true, returnValue: {}});
  }
}};
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("web"), CONNECTOR_FRAME_ANCESTORS=SALESFORCE_DOMAINS) as srv:
        srv.user("sue", "supervisor")
        srv.user("ada", "admin")
        yield srv


#: records in the page (``window.pickedAt``, its clock) when the element ``selector`` (a state's option in the
#: softphone's combobox) is first clicked
PICK_TIME = """(selector) => {
  window.pickedAt = null;
  window.addEventListener("click", (event) => {
    if (window.pickedAt === null && event.target.closest(selector)) window.pickedAt = Date.now();
  }, true);
}"""
#: records in the page (``window.shownAt``, its clock) when the element ``selector`` first contains ``text``
SHOWN_TIME = """([selector, text]) => {
  window.shownAt = null;
  const look = () => {
    const element = document.querySelector(selector);
    if (window.shownAt === null && element && element.textContent.includes(text)) window.shownAt = Date.now();
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_agent_picks_a_state_and_the_supervisor_dashboard_shows_it_within_a_second(contexts, server):
    server.agent("edred", team="Sales", name="Edred Jones")
    server.agent("maria", team="Support", name="Maria Lopez")
    supervisor = contexts()[0].new_page()
    browser_sign_in(supervisor, server.url, "sue")
    supervisor.wait_for_url("**/dashboard")
    supervisor.wait_for_selector("#connection.ok")

    phone = softphone(contexts, server, "edred")
    phone.click("#login")
    phone.wait_for_selector("#logged-in-panel:not(.hidden)")
    assert "Ready for Calls (Online)" in phone.inner_text("#current-label")
    row = '#agents tr[data-agent="edred"] .state-cell'
    expect(supervisor.locator(row)).to_contain_text("Ready for Calls")

    # the latency is read off the browser's clock, from the pick on the phone to the row showing it on the
    # dashboard: the test's own round trips to the browser (slow on a loaded machine) are not part of it
    phone.evaluate(PICK_TIME, '#state-listbox [role=option][data-value="break"]')
    supervisor.evaluate(SHOWN_TIME, [row, "Break (Away)"])
    pick_state(phone, "break")
    expect(supervisor.locator(row)).to_contain_text("Break (Away)")
    picked_at, shown_at = phone.evaluate("window.pickedAt"), supervisor.evaluate("window.shownAt")
    assert picked_at is not None and shown_at is not None, (picked_at, shown_at)
    assert shown_at - picked_at < 1000, f"the dashboard showed the pick {shown_at - picked_at} ms after it was made"
    expect(phone.locator("#current-label")).to_have_text("Break (Away)")
    expect(phone.locator("#current-timer")).to_have_text(re.compile(r"^0:(0[1-9]|[1-5][0-9])$"))  # the timer runs
    assert phone.evaluate("document.documentElement.scrollWidth") <= 300  # fits the console panel
    screenshot(phone, "softphone")
    supervisor.click("#chart-show")
    supervisor.wait_for_selector("#chart-agents svg rect")
    screenshot(supervisor, "dashboard")

    wall = supervisor.context.new_page()
    wall.goto(server.url + "/dashboard/wallboard")
    wall.wait_for_selector("#connection.ok")
    expect(wall.locator("#count-away")).to_have_text("1")
    assert wall.inner_text("#count-offline") == "1"  # maria is not logged in
    screenshot(wall, "wallboard")


def test_wrap_up_counts_down_and_returns_to_ready(contexts, server):
    data = load_preset("default").to_dict()
    data["options"]["wrap_up_seconds"] = 2
    server.parts.configs.apply(build_config(data, "test"), created_by="test", origin="test")
    server.agent("wendy")
    phone = softphone(contexts, server, "wendy")
    phone.click("#login")
    phone.wait_for_selector("#logged-in-panel:not(.hidden)")
    token = server.token("integration")
    for event, extra in (("started", {}), ("ended", {"duration_seconds": 30})):
        status, _ = server.call(
            "POST",
            "/api/v1/agents/wendy/calls",
            token,
            {"call_id": "c-1", "event": event, "direction": "inbound", **extra},
        )
        assert status == 200
    phone.wait_for_selector("#wrapup:not(.hidden)")
    assert phone.inner_text("#wrapup-countdown") in ("1", "2")
    assert "Wrap-up" in phone.inner_text("#current-label")
    screenshot(phone, "softphone-wrap-up")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)", timeout=5000)
    assert phone.is_hidden("#wrapup")


def test_logout_refused_by_the_policy_shows_the_reason(contexts, server):
    data = load_preset("default").to_dict()
    data["options"]["session"]["logout_allowed_statuses"] = [3, 4]
    server.parts.configs.apply(build_config(data, "test"), created_by="test", origin="test")
    server.agent("luke")
    phone = softphone(contexts, server, "luke", refusals=(409,))
    phone.click("#login")
    phone.wait_for_selector("#logged-in-panel:not(.hidden)")
    phone.click("#logout")
    phone.wait_for_selector("#logout-error:not(.hidden)")  # next to the button it is about
    assert "logout is not allowed" in phone.inner_text("#logout-error")
    assert phone.is_hidden("#message")
    assert_accessible(phone, "softphone with a refused logout")
    assert phone.is_visible("#logged-in-panel")
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def test_admin_adds_a_state_and_the_open_softphone_picklist_shows_it(contexts, server):
    server.agent("otto")
    phone = softphone(contexts, server, "otto")
    phone.click("#login")
    phone.wait_for_selector("#logged-in-panel:not(.hidden)")

    admin = contexts()[0].new_page()
    browser_sign_in(admin, server.url, "ada")
    admin.wait_for_url("**/admin")
    admin.wait_for_selector("#states tbody tr")
    admin.click("#add-state")
    row = admin.locator("#states tbody tr").last
    row.locator('[data-key="label"]').fill("Coaching")
    row.locator('[data-key="status"]').select_option("5")
    assert row.locator('[data-key="id"]').input_value() == "coaching"
    admin.click("#save")  # "Review changes": what applying it changes, then Apply
    expect(admin.locator("#review-changes")).to_contain_text("Coaching")
    admin.click("#review-apply")
    admin.wait_for_selector("#editor-status.notice")
    screenshot(admin, "admin")
    option = '#state-listbox [role=option][data-value="coaching"]'
    phone.wait_for_selector(option, state="attached", timeout=3000)
    assert phone.locator(option).inner_text() == "Coaching (Busy)"
    pick_state(phone, "coaching")
    expect(phone.locator("#current-label")).to_have_text("Coaching (Busy)")


def test_a_bad_reason_code_is_refused_inline_and_nothing_is_applied(contexts, server):
    before = server.parts.configs.history(1)[0]["version"]
    context, watcher = contexts()
    watcher.expect_refusals(422)
    admin = context.new_page()
    browser_sign_in(admin, server.url, "ada")
    admin.wait_for_selector("#states tbody tr")
    code = admin.locator("#states tbody tr").first.locator('[data-key="reason_code"]')
    code.fill("*60abc")
    admin.wait_for_selector("#states .field-error")
    assert "may contain only dial characters" in admin.locator("#states tbody tr").first.inner_text()
    assert code.get_attribute("aria-invalid") == "true"
    admin.click("#save")
    expect(admin.locator("#editor-status")).to_contain_text("Not saved")
    assert server.parts.configs.history(1)[0]["version"] == before
    screenshot(admin, "admin-invalid")


def test_an_agent_cannot_reach_admin_or_another_agents_softphone(contexts, server):
    server.agent("ivy")
    context, watcher = contexts()
    watcher.expect_refusals(403)
    page = context.new_page()
    page.goto(server.url + "/softphone")
    assert_accessible(page, "agent sign-in")
    page.goto(server.url + "/auth/login")
    assert_accessible(page, "sign-in")
    browser_agent_sign_in(page, server.url, "ivy")
    for path in ("/admin", "/dashboard", "/softphone?agent=edred"):
        response = page.goto(server.url + path)
        assert response.status == 403
        assert "Not allowed" in page.inner_text("h1")
    assert_accessible(page, "403 page")


def test_logon_events_export_has_only_the_filtered_rows(contexts, server):
    server.agent("nina")
    token = server.token("integration")
    assert server.call("POST", "/api/v1/agents/nina/login", token, {"logon_source": "PBX Short Code"})[0] == 200
    assert server.call("POST", "/api/v1/agents/nina/logout", token, {"logon_source": "CRM"})[0] == 200
    page = contexts()[0].new_page()
    browser_sign_in(page, server.url, "sue")
    page.wait_for_selector("#connection.ok")
    page.click("#logon-include summary")  # checkboxes, no Ctrl-click
    page.check('#logon-include input[value="PBX Short Code"]')
    page.check('#logon-include input[value="CRM"]')
    page.click("#logon-form button[type=submit]")
    expect(page.locator("#logon-events tbody tr")).to_have_count(2)
    shown = page.locator("#logon-events tbody tr").all_inner_texts()
    assert all("nina" in row for row in shown)
    assert_accessible(page, "dashboard with logon sources picked")
    with page.expect_download() as download:
        page.click("#logon-export")
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [(r["agent_id"], r["action"], r["logon_source"]) for r in rows] == [
        ("nina", "Acquired", "PBX Short Code"),
        ("nina", "Released", "CRM"),
    ]


def test_softphone_shows_a_lost_server_at_once_and_resyncs_on_reconnect(contexts, server):
    server.agent("sam")
    proxy = CuttableProxy(server.server.server_port)
    try:
        phone = softphone(contexts, server, "sam", base=proxy.url)
        phone.click("#login")
        expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
        proxy.cut()
        expect(phone.locator("#connection")).to_have_class(re.compile("lost"), timeout=1000)
        expect(phone.locator("#connection")).to_contain_text("retrying in")
        screenshot(phone, "softphone-connection-lost")
        server.parts.service.set_state("sam", "lunch", source="supervisor")  # changed while the phone was away
        proxy.restore()
        expect(phone.locator("#connection")).to_have_class(re.compile("ok"), timeout=8000)
        expect(phone.locator("#current-label")).to_have_text("Lunch (Away)")
    finally:
        proxy.close()


def test_softphone_says_why_when_another_login_takes_the_session_over(contexts, server):
    data = load_preset("default").to_dict()
    data["options"]["session"]["duplicate_login"] = "takeover"
    server.parts.configs.apply(build_config(data, "test"), created_by="test", origin="test")
    server.agent("tina")
    phone = softphone(contexts, server, "tina")
    phone.click("#login")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    status, _ = server.call(
        "POST",
        "/api/v1/agents/tina/login",
        server.token("integration"),
        {"logon_source": "Softphone", "device": "second PC"},
    )
    assert status == 200
    expect(phone.locator("#message")).to_contain_text("taken over")
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def test_softphone_is_usable_with_the_keyboard(contexts, server):
    data = load_preset("default").to_dict()
    data["options"]["pbx_mode"] = "dial"  # Dial is offered only when the PBX dials
    server.parts.configs.apply(build_config(data, "test"), created_by="test", origin="test")
    server.agent("kim")
    phone = softphone(contexts, server, "kim")
    phone.keyboard.press("Tab")  # sign out link, then the login button
    phone.focus("#login")
    phone.keyboard.press("Enter")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    phone.focus("#state")
    phone.keyboard.press("ArrowDown")  # opens the list
    phone.keyboard.press("ArrowDown")  # highlights Do Not Disturb
    phone.keyboard.press("Enter")  # and picks it
    expect(phone.locator("#current-label")).to_have_text("Do Not Disturb (DND)")
    phone.focus("#dial-number")
    phone.keyboard.type("5551234")
    phone.keyboard.press("Enter")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")  # dialling from DND: Ready
    assert_accessible(phone, "softphone after dialling")
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def test_embedded_softphone_bridges_omni_channel_through_the_console(contexts, server):
    server.agent("olga")
    context, watcher = contexts(width=300, height=640)
    watcher.expect_refusals(404)  # the Omni-Channel endpoint may not be installed: the phone carries on
    context.route(
        f"{CONSOLE}/support/api/**/opencti_min.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=FAKE_OPENCTI),
    )
    page = context.new_page()
    page.goto(f"{server.url}/softphone?sfdcIframeOrigin={CONSOLE}&mode=Lightning")
    page.fill("input[name=agent_id]", "olga")
    page.fill("input[name=pin]", "1234")
    page.click("button[type=submit]")
    expect(page.locator("#mode")).to_have_text("Salesforce console")
    assert page.evaluate("window.subscribedTo") == "Presence_Connector_Omni__c"
    assert page.evaluate("window.panelHeights.length") >= 1
    page.click("#login")
    expect(page.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    message = {
        "agent_id": "olga",
        "action": "set_status",
        "service_presence_status_id": "0N5xx0000000001",
        "developer_name": "Available",
    }
    server.parts.bus.publish("omni_channel", message)
    expect(page.locator("#mode")).to_have_text("Salesforce console")
    page.wait_for_function("window.published.length > 0")
    published = [{"channelName": "Presence_Connector_Omni__c", "message": message}]
    assert page.evaluate("window.published") == published
    # the page's own handling of the bridge's answer, awaited below: the promise the softphone's
    # PC.api call returns, settled (its handlers have run when a promise chained after them settles)
    page.evaluate(
        """() => {
      const api = PC.api;
      PC.api = function (method, path) {
        const answer = api.apply(this, arguments);
        if (String(path).endsWith("/omni-channel")) window.omniAnswer = answer.then(() => 200, (err) => err.status);
        return answer;
      };
    }"""
    )
    with page.expect_request("**/api/v1/agents/olga/omni-channel") as sent:
        page.evaluate(
            "window.omniListener({type: 'omniChannelStatusChanged', developer_name: 'Busy', "
            "service_presence_status_id: '0N5xx0000000002'})"
        )
    assert sent.value.post_data_json == {
        "event": "statusChanged",
        "developer_name": "Busy",
        "service_presence_status_id": "0N5xx0000000002",
    }
    assert page.evaluate("window.omniAnswer") == 404  # the answer, and the page has handled it
    assert page.is_hidden("#message")  # a missing bridge endpoint (404) is not an error for the agent
    pick_state(page, "break")
    expect(page.locator("#current-label")).to_have_text("Break (Away)")
    assert_accessible(page, "softphone in the Salesforce console")
    assert page.evaluate("window.published") == published  # published to the console once, nothing since


def test_embedded_softphone_dials_on_click_pops_inbound_callers_and_fits_the_console_panel(contexts, server):
    server.agent("cleo")
    context, watcher = contexts(width=300, height=640)
    context.route(
        f"{CONSOLE}/support/api/**/opencti_min.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=FAKE_OPENCTI),
    )
    page = context.new_page()
    page.goto(f"{server.url}/softphone?sfdcIframeOrigin={CONSOLE}&mode=Lightning")
    page.fill("input[name=agent_id]", "cleo")
    page.fill("input[name=pin]", "1234")
    page.click("button[type=submit]")
    expect(page.locator("#mode")).to_have_text("Salesforce console")
    page.wait_for_function("window.clickToDial && window.panelHeights.length >= 1")

    def panel_fits(content_grew_to: int | None = None) -> int:
        """Wait until the last height given to the console is the content's (clamped to 240-2560)."""
        try:
            return page.wait_for_function(
                """(grewTo) => {
                  const phone = document.getElementById("phone");
                  const fitted = Math.max(240, Math.min(2560, Math.ceil(phone.getBoundingClientRect().height) + 16));
                  const last = window.panelHeights[window.panelHeights.length - 1];
                  return last === fitted && (grewTo == null || fitted === grewTo) ? fitted : false;
                }""",
                arg=content_grew_to,
                timeout=5000,
            ).json_value()
        except sync_api.TimeoutError as exc:
            raise AssertionError(f"the console panel never fitted: {page.evaluate('window.panelHeights')}") from exc

    logged_out_height = panel_fits()
    page.click("#login")
    expect(page.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    assert panel_fits() > logged_out_height  # the logged-in panel is taller: the console panel follows
    page.evaluate(
        "document.getElementById('phone').appendChild(Object.assign(document.createElement('div'), "
        "{id: 'tall', style: 'height: 4000px'}))"
    )
    panel_fits(content_grew_to=2560)
    page.evaluate("document.getElementById('tall').remove()")
    assert panel_fits() < 2560 and min(page.evaluate("window.panelHeights")) >= 240

    # click-to-dial: a number clicked in Salesforce goes down the softphone's own dial path
    pick_state(page, "dnd")
    expect(page.locator("#current-label")).to_have_text("Do Not Disturb (DND)")
    with page.expect_request("**/api/v1/agents/cleo/dial") as sent:
        page.evaluate("window.clickToDialListener({number: '+1 (415) 555-0100', objectType: 'Contact'})")
    assert sent.value.post_data_json == {"number": "+14155550100"}
    expect(page.locator("#current-label")).to_have_text("Ready for Calls (Online)")  # dialling from DND: Ready

    # an inbound call whose event carries the caller's number pops the matching record
    integration = server.token("integration")
    status, _ = server.call(
        "POST",
        "/api/v1/agents/cleo/calls",
        integration,
        {"call_id": "c-77", "event": "started", "direction": "inbound", "caller_number": "+1 415 555 0199"},
    )
    assert status == 200
    expect(page.locator("#message")).to_contain_text("Incoming call from")
    assert page.evaluate("window.screenPops") == [
        {"searchParams": "+1 415 555 0199", "callType": "inbound", "deferred": False}
    ]
    expect(page.locator("#message")).to_contain_text("Incoming call from +1 415 555 0199")
    status, refused = server.call(
        "POST",
        "/api/v1/agents/cleo/calls",
        integration,
        {"call_id": "c-78", "event": "started", "direction": "inbound", "caller_number": "call me maybe"},
    )
    assert status == 422 and refused["error"]["field"] == "caller_number"


def test_supervisor_changes_an_agents_state_and_logs_the_agent_out_from_the_dashboard(contexts, server):
    server.agent("vera", team="Retention")
    phone = softphone(contexts, server, "vera")
    phone.click("#login")
    expect(phone.locator("#current-label")).to_have_text("Ready for Calls (Online)")
    supervisor = contexts()[0].new_page()
    browser_sign_in(supervisor, server.url, "sue")
    supervisor.wait_for_selector("#connection.ok")
    supervisor.select_option("#filter-team", "Retention")
    expect(supervisor.locator("#agents tbody tr.agent-row")).to_have_count(1)
    row = supervisor.locator('#agents tr[data-agent="vera"]')
    row.locator('[data-control="menu"]').click()
    supervisor.get_by_role("menuitem", name="Change state…").click()
    supervisor.select_option("#state-pick", "meeting")
    supervisor.click("#state-apply")
    expect(phone.locator("#current-label")).to_have_text("Meeting (Busy)")
    assert_accessible(supervisor, "dashboard filtered by team")
    row.locator('[data-control="menu"]').click()
    supervisor.get_by_role("menuitem", name="Log out…").click()
    supervisor.click("#confirm-apply")
    expect(phone.locator("#current-label")).to_have_text("Logged out")
    expect(supervisor.locator('#agents tr[data-agent="vera"] .state-cell')).to_have_text("Logged out")
    expect(phone.locator("#message")).to_have_text("You are logged out: a supervisor logged you out.")
    today = server.parts.clock().date()
    last = reports.logon_events(server.parts.reads, today, today, agent_id="vera")[-1]
    assert (last["action"], last["logon_source"], last["actor"]) == ("Released", "Supervisor", "sue")


def test_admin_reorders_and_removes_states_and_the_saved_config_follows(contexts, server):
    admin = contexts()[0].new_page()
    browser_sign_in(admin, server.url, "ada")
    admin.wait_for_selector("#states tbody tr")
    labels = lambda: admin.locator('#states tbody [data-key="label"]').evaluate_all("els => els.map(e => e.value)")  # noqa: E731
    before = labels()
    admin.locator("#states tbody tr").nth(3).locator(".up").click()
    admin.locator("#states tbody tr").nth(1).get_by_role("button", name="Remove").click()
    expected = [before[0], before[3], before[2]] + before[4:]
    assert labels() == expected
    assert_accessible(admin, "admin editor with unsaved changes")
    admin.click("#save")
    admin.click("#review-apply")
    expect(admin.locator("#editor-status")).to_contain_text("Saved and applied")
    with server.parts.store.read() as s:
        active = server.parts.configs.active(s)
    assert [st.label for st in active.states] == expected
    server.parts.configs.apply(load_preset("default"), created_by="test", origin="test")


def test_admin_creates_an_agent_and_a_token_that_is_shown_once(contexts, server):
    admin = contexts()[0].new_page()
    browser_sign_in(admin, server.url, "ada")
    admin.click("#tab-accounts")
    admin.fill("#agent-form input[name=id]", "zoe")
    admin.fill("#agent-form input[name=name]", "Zoe Park")
    admin.select_option("#agent-form select[name=team]", "__new__")  # "New team…"
    admin.fill("#agent-form input[name=new_team]", "Sales")
    admin.fill("#agent-form input[name=pin]", "2468")
    admin.click("#agent-form button[type=submit]")
    expect(admin.locator("#agents tbody")).to_contain_text("Zoe Park")
    admin.fill("#token-form input[name=name]", "pbx-bridge")
    admin.select_option("#token-form select[name=role]", "integration")
    admin.click("#token-form button[type=submit]")
    expect(admin.locator("#new-token-value")).to_contain_text("pc_")
    token = admin.inner_text("#new-token-value")
    assert server.call("GET", "/api/v1/agents", token)[0] == 200
    expect(admin.locator("#tokens tbody")).to_contain_text("pbx-bridge")
    assert token not in admin.inner_text("#tokens")
    screenshot(admin, "admin-accounts")
    admin.reload()
    admin.click("#tab-accounts")
    expect(admin.locator("#tokens tbody")).to_contain_text("pbx-bridge")
    assert token not in admin.content()  # shown once: never again
    admin.goto(server.url + "/")
    expect(admin.locator("h1")).to_have_text("Status")
