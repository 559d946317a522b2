"""The admin editor's inbound rules (issue 26), in headless Chromium: the Teams meeting rule written on the page,
reviewed and applied, then a Teams InAMeeting read from a fake Graph (``responses``: nothing leaves the machine)
applied as the new rule says — and a bad value refused naming its field, changing nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import responses
from sqlalchemy import select

from adapters.teams import TeamsAdapter
from connector.auth import accounts
from connector.clock import utc_now
from connector.presence.config import load_preset
from connector.store.models import StateInterval
from tests.helpers.browser import ConsoleErrors, assert_accessible, chromium_browser
from tests.helpers.fakes.graph import FakeGraph
from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
EDRED = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"  # a Teams user object id, the agent id with TEAMS_USER_KEY=agent_id


@pytest.fixture
def graph():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        yield FakeGraph(rsps)


@pytest.fixture
def floor(tmp_path, graph):
    """The teams preset WITHOUT its inbound section (no rule for Teams: nothing is read), Edred logged in."""
    adapter = TeamsAdapter(
        {
            "tenant_id": "tenant-1",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "very-secret",
            "user_key": "agent_id",
        }
    )
    with live_server(tmp_path, ADAPTERS=[adapter]) as srv:
        srv.user("ada", "admin")
        parts = srv.parts
        parts.configs.apply(dataclasses.replace(load_preset("teams"), inbound=()), created_by="test", origin="test")
        accounts.add_agent(parts.store, {"id": EDRED, "name": "Edred"}, utc_now())
        parts.service.login(EDRED, "Paired Device", "deskphone")
        parts.dispatcher.drain()  # the connector's own Teams session: Available
        assert EDRED in graph.app
        yield srv, adapter


def test_the_teams_meeting_rule_set_on_the_page_decides_the_next_inbound_meeting(floor, graph):
    srv, adapter = floor
    parts = srv.parts
    assert adapter.poll() == 0 and graph.reads == []  # no inbound rule for Teams yet: nothing is read
    with chromium_browser() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        watcher = ConsoleErrors(context)
        watcher.expect_refusals(422)  # the inline validation of a draft with a problem (an empty row, a bad value)
        page = context.new_page()
        sign_in(page, srv.url, "ada")
        page.wait_for_url("**/admin")
        page.wait_for_selector("#states tbody tr")
        expect(page.locator("#inbound-rules")).to_contain_text("No inbound rules")

        page.select_option("#inbound-source", "teams")
        page.click("#add-inbound")
        rule = page.locator('fieldset.inbound-rule[data-source="teams"]')
        expect(rule.locator("> legend")).to_have_text("From Teams (teams)")
        for n, remote in enumerate(("InAMeeting", "Presenting", "InAConferenceCall"), start=1):
            rule.get_by_role("button", name="Add a Teams mapping row").click()
            rule.get_by_label(f"Teams presence, row {n}", exact=True).fill(remote)
            rule.get_by_label(f"State for Teams presence, row {n}").select_option("meeting")
        # a remote presence listed twice: the page says so and offers no review until one goes
        rule.get_by_role("button", name="Add a Teams mapping row").click()
        rule.get_by_label("Teams presence, row 4", exact=True).fill("InAMeeting")
        problems = page.locator("#problems")
        expect(problems).to_contain_text("inbound.teams.map.InAMeeting: 'InAMeeting' is listed twice")
        page.click("#save")
        expect(page.locator("#editor-status")).to_have_text("Not saved: fix the problems shown.")
        expect(page.locator("#review")).to_be_hidden()
        rule.get_by_role("button", name="Remove Teams mapping row 4").click()
        expect(problems).to_be_hidden()
        rule.get_by_label("1 Online").check()
        rule.get_by_label("3 Away").check()
        rule.get_by_label("During a call or wrap-up").select_option("never")
        rule.get_by_label("When the remote condition ends").select_option("return")
        rule.get_by_label("Not within (min or m:ss) of the agent's own pick, 0 = off").fill("0:01")
        conflict = rule.get_by_label('"At once" means within (min or m:ss)')

        # a bad value: refused by the server naming the field, nothing applied
        before = parts.configs.history(1)[0]["version"]
        conflict.fill("99:00")  # 5,940 s; at most 3,600
        page.click("#save")
        expect(problems).to_contain_text("inbound.teams.conflict_seconds: 5940 is out of range 0-3600")
        expect(conflict).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#review")).to_be_hidden()
        assert parts.configs.history(1)[0]["version"] == before
        assert parts.configs.active().inbound == ()

        conflict.fill("0:05")
        expect(problems).to_be_hidden()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        rule.screenshot(path=str(ARTIFACTS / "admin-inbound-rule.png"))
        page.click("#save")
        dialog = page.locator("#review")
        expect(dialog).to_be_visible()
        expect(dialog.locator("tr", has_text="map.InAMeeting")).to_contain_text("meeting")
        expect(dialog.locator("tr", has_text="inbound from Teams").first.locator("td").nth(4)).to_have_text("added")
        on_end = dialog.locator("tr", has_text="on_end")
        expect(on_end.locator("td").nth(1)).to_have_text("inbound from Teams")
        expect(on_end.locator("td").nth(4)).to_have_text("return")
        assert_accessible(page, "admin inbound rule and its review")
        page.screenshot(path=str(ARTIFACTS / "admin-inbound-review-1280x900.png"))
        page.click("#review-apply")
        expect(page.locator("#editor-status")).to_contain_text("Saved and applied")
        context.close()
    assert watcher.errors == [], "console errors on the admin page"

    rule = parts.configs.active().inbound_rule("teams")
    assert (dict(rule.map), rule.from_statuses, rule.over_call, rule.on_end) == (
        {"InAMeeting": "meeting", "Presenting": "meeting", "InAConferenceCall": "meeting"},
        (1, 3),
        "never",
        "return",
    )
    assert rule.after_own_pick_seconds == 1

    graph.user[EDRED] = ("Busy", "InAMeeting")
    adapter.poll()
    view = parts.service.presence(EDRED)
    assert (view["state"]["id"], view["state_from"]) == ("meeting", "Teams")
    with parts.store.read() as s:
        cause = s.execute(select(StateInterval.cause).where(StateInterval.state_id == "meeting")).scalar_one()
    assert cause == "inbound.teams.map: Teams InAMeeting -> Meeting"
    del graph.user[EDRED]  # the meeting ends: on_end "return", as set on the page, brings Ready back
    adapter.poll()
    assert parts.service.presence(EDRED)["state"]["id"] == "ready"
