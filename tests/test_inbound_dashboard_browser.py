"""The dashboard row names the system a state came from (issue 26): "Meeting (from Teams)", in headless
Chromium, on load and on a live change."""

from __future__ import annotations

import pytest

from tests.helpers.signin import browser_sign_in as sign_in
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)


def test_the_row_shows_meeting_from_teams_and_follows_a_live_inbound_change(contexts, tmp_path):
    with live_server(tmp_path) as srv:
        srv.user("sue", "supervisor")
        service = srv.parts.service
        for agent_id in ("edred", "amira"):
            srv.agent(agent_id)
            service.login(agent_id, "Paired Device", f"desk-{agent_id}")
        service.inbound("edred", "teams", "InAMeeting", proposed="meeting")  # default preset: the default rule
        context, _ = contexts()
        page = context.new_page()
        sign_in(page, srv.url, "sue")
        page.wait_for_selector("#connection.ok")
        edred = page.locator("#agents tbody tr.agent-row", has_text="edred")
        expect(edred.locator(".state-badge")).to_have_text("Meeting (from Teams)")
        amira = page.locator("#agents tbody tr.agent-row", has_text="amira")
        expect(amira.locator(".state-badge")).to_have_text("Ready for Calls (Online)")  # the agent's own: as before
        service.inbound("amira", "omni-channel", "Break", proposed="break")
        expect(amira.locator(".state-badge")).to_have_text("Break (from Omni-Channel)")
