"""Fixtures: the real app on a real SQLite file in a temp dir, with a clock the test controls; the people,
remotes and browsers several test modules use; and the markers that follow from fixtures.

Helpers that are not fixtures live in tests/helpers/ (see its __init__). No test module imports a fixture
from another: a fixture more than one module needs is here.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
import responses

from connector import create_app
from connector.auth import accounts
from connector.observe import logs
from connector.parts import get_parts
from tests.helpers.api import Api
from tests.helpers.browser import ConsoleErrors, chromium_browser, have_chromium
from tests.helpers.fakes.graph import FakeGraph
from tests.helpers.fakes.salesforce import FakeOrg
from tests.helpers.signin import PASSWORD


class FakeClock:
    """A clock the test moves by hand; thread-safe enough for reads."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 3, 6, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kw) -> datetime:
        self.now += timedelta(seconds=seconds, **kw)
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def database_url(tmp_path):
    """The test's store: a SQLite file (tests/test_postgres.py overrides it with PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'presence.db'}"


@pytest.fixture(scope="session")
def postgres():
    from tests.helpers.postgres import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def make_app(tmp_path, clock, database_url):
    """Build an app on the test's store; call again to simulate a restart on the same store."""
    apps = []

    def factory(**overrides):
        config = {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "CLOCK": clock,
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_TIMEZONE": "UTC",
            "CONNECTOR_SECRET_KEY": "test-secret",
            # scrypt at full cost takes ~0.5 s a hash and would dominate the suite
            "CONNECTOR_PASSWORD_HASH_COST": "test",
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        get_parts(app).bus.stop()
        get_parts(app).store.dispose()


@pytest.fixture
def graph(clock):
    """Microsoft Graph's presence endpoints faked at the HTTP layer (tests/helpers/fakes/graph.py)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeGraph(rsps, clock)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def parts(app):
    return get_parts(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(app, client):
    return Api(app, client)


# -- markers that follow from fixtures ------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """A test that uses the PostgreSQL server or a browser carries the marker, however it got the fixture
    (test_postgres.py reaches ``postgres`` through ``database_url``); browser tests are skipped without
    Debian's chromium."""
    no_chromium = pytest.mark.skip(reason="Debian's chromium is missing: run 'make system-deps'")
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres" in names:
            item.add_marker(pytest.mark.postgres)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("browser") and not have_chromium():
            item.add_marker(no_chromium)


# -- people and remotes ---------------------------------------------------------------------------------


@pytest.fixture
def people(parts, api):
    """Two agents with PINs (edred: Sales, 201, PIN 1234; maria: Support, 202, PIN 5678), a supervisor
    (sue) and an admin (ada), both with ``PASSWORD``."""
    now = parts.clock()
    api.agent("edred", pin="1234", team="Sales", extension="201")
    api.agent("maria", pin="5678", team="Support", extension="202")
    accounts.add_user(parts.store, "sue", PASSWORD, "supervisor", now)
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", now)
    return parts


@pytest.fixture
def org():
    """The fake Salesforce org (tests/helpers/fakes/salesforce.py), on its own ``responses`` mock."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOrg(rsps)


# -- fixtures of tests that test_postgres.py collects again ----------------------------------------------


@pytest.fixture
def edred(api):
    """An agent token of edred (extension 3000), and a second agent, amira."""
    api.agent("edred", extension="3000")
    api.agent("amira")
    return api.token("agent", "edred")


@pytest.fixture
def on_call_agent(api):
    """edred logged in on a desk phone and on an inbound call; his agent token."""
    api.agent("edred", extension="3000")
    token = api.token("agent", "edred")
    # a desk phone sends no heartbeats: hours without one do not end the session
    api.call("POST", "/api/v1/agents/edred/login", token, {"logon_source": "Paired Device", "device": "desk"})
    api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        api.token("integration"),
        {"call_id": "c1", "event": "started", "direction": "inbound"},
    )
    return token


@pytest.fixture
def supervisor_token(api):
    """A supervisor's token, with two agents in two teams (edred: Sales, maria: Support)."""
    api.agent("edred", team="Sales")
    api.agent("maria", team="Support")
    return api.token("supervisor")


# -- browsers (tests/helpers/browser.py) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium, one per test module."""
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def contexts(browser):
    """New browser contexts (separate cookie jars), each watched for console errors; the test fails on a
    console error it did not announce (``ConsoleErrors.expect_refusals``)."""
    made: list = []

    def new(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        watcher = ConsoleErrors(context)
        made.append((context, watcher))
        return context, watcher

    yield new
    errors = [e for _, w in made for e in w.errors]
    for context, _ in made:
        context.close()
    assert errors == [], "console errors on the pages"


@pytest.fixture
def captured():
    """The root logger as `serve` sets it up with CONNECTOR_LOG_FORMAT=json, into a buffer; restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    logs.configure("json", "DEBUG", "test-instance", stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
