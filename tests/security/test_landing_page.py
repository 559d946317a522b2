"""Before sign-in the landing page shows nothing but the sign-in links."""

from __future__ import annotations

import re

from tests.helpers.signin import sign_in


def test_the_anonymous_landing_page_shows_only_sign_in_links(client, people):
    people.service.login("edred", "API", "desk")
    html = client.get("/").get_data(as_text=True)
    main = html[html.index("<main") : html.index("</main>")]
    assert set(re.findall(r'href="([^"]+)"', main)) == {"/auth/agent", "/auth/login"}
    for secret in ("default", "Agents:", "logged in", "*6", "Ready for Calls", "sqlite", "edred"):
        assert secret not in main


def test_signed_in_people_still_see_the_status(client, people):
    sign_in(client, "sue")
    html = client.get("/").get_data(as_text=True)
    assert "Presence configuration" in html and "Ready for Calls" in html
