"""Headless Chromium through Playwright for the page tests: the browser, a watcher of console errors,
the axe-core accessibility check, screenshots, and a softphone page signed in.

Tests that use it carry the ``browser`` marker; tests/conftest.py skips them when Debian's chromium is
missing and holds the ``browser`` and ``contexts`` fixtures.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.signin import browser_agent_sign_in

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "screenshots"


def have_chromium() -> bool:
    return os.path.exists(CHROMIUM)


@contextmanager
def chromium_browser():
    """Debian's headless chromium through Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class ConsoleErrors:
    """Collects console errors and uncaught page errors of every page of a browser context."""

    def __init__(self, context):
        self.errors: list[str] = []
        self.expected: list[str] = []
        context.on("page", self._watch)

    def expect_refusals(self, *statuses: int) -> None:
        """Chromium logs every 4xx answer as a console error; a test that provokes a refusal says which."""
        self.expected += [f"status of {code} " for code in statuses]

    def expect_network_loss(self) -> None:
        self.expected.append("net::ERR_")

    def _console(self, page, msg) -> None:
        if msg.type != "error":
            return
        if any(fragment in msg.text for fragment in self.expected):
            return
        self.errors.append(f"{page.url}: {msg.text}")

    def _watch(self, page) -> None:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))


#: axe-core impacts a page state may not have (only "minor" findings are tolerated)
AXE_FAILING_IMPACTS = ("critical", "serious", "moderate")


def assert_accessible(page, where: str = "") -> None:
    """axe-core (vendored in axe-playwright-python, never a CDN) on the page as it is now:
    no critical, serious or moderate violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in AXE_FAILING_IMPACTS]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:4])
        for v in bad
    ]
    assert not bad, f"axe-core on {where or page.url}:\n" + "\n".join(lines)


def screenshot(page, name: str) -> None:
    """Every page state a test photographs is also checked with axe-core."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert_accessible(page, name)


def softphone(contexts, server, agent_id: str, refusals: tuple[int, ...] = (), base: str | None = None):
    """A softphone page in a new context the size of the Salesforce console's panel, ``agent_id`` signed in
    and its event stream connected. ``refusals``: the 4xx answers the test provokes on purpose; ``base``:
    another address of the server (a proxy the test cuts)."""
    context, watcher = contexts(width=300, height=640)  # the Salesforce console's panel width
    watcher.expect_refusals(*refusals)
    if base:
        watcher.expect_network_loss()  # the test cuts the network between this browser and the server
    page = context.new_page()
    browser_agent_sign_in(page, base or server.url, agent_id)
    page.wait_for_selector("#connection.ok")
    return page
