"""The pages on SLDS with pages.css (sign-in, admin, wallboard) and on app.css (dashboard) share SLDS's tokens
with the softphone: a keyboard user sees a 2 px focus ring in SLDS's brand blue on every control, not a faint
glow."""

from __future__ import annotations

import pytest

from tests.helpers.browser import assert_accessible
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)

RING = """() => { const s = getComputedStyle(document.activeElement);
    return [document.activeElement.name || document.activeElement.textContent.trim(), s.outlineStyle, s.outlineWidth,
            s.outlineColor]; }"""


def test_tabbing_through_the_sign_in_page_shows_a_2px_slds_blue_ring_on_each_control(contexts, tmp_path):
    with live_server(tmp_path) as server:
        page = contexts(width=1280, height=800)[0].new_page()
        page.goto(server.url + "/auth/login")
        page.locator("input[name=username]").focus()
        seen = [page.evaluate(RING)]
        for _ in range(2):  # then the password and the submit button
            page.keyboard.press("Tab")
            seen.append(page.evaluate(RING))
        assert [name for name, *_ in seen] == ["username", "password", "Sign in"], seen
        assert all(ring == ["solid", "2px", "rgb(11, 92, 171)"] for _, *ring in seen), seen
        assert_accessible(page, "sign-in-focus")
