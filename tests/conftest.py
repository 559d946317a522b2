"""Fixtures: the real app on a real SQLite file in a temp dir, with a clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector import create_app
from connector.auth import accounts
from connector.parts import get_parts


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
    from postgres import PostgresServer

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
def app(make_app):
    return make_app()


@pytest.fixture
def parts(app):
    return get_parts(app)


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A small helper for calling the API with a token of a given role."""

    def __init__(self, app, client):
        self.app = app
        self.client = client
        self.parts = get_parts(app)

    def agent(self, agent_id: str, **fields) -> str:
        accounts.add_agent(self.parts.store, {"id": agent_id, "name": agent_id.title(), **fields}, self.parts.clock())
        return agent_id

    def token(self, role: str, agent_id: str | None = None) -> dict:
        token = accounts.create_token(self.parts.store, role, self.parts.clock(), agent_id=agent_id)
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, headers: dict, json=None, **kw):
        return self.client.open(path, method=method, headers=headers, json=json, **kw)


@pytest.fixture
def api(app, client):
    return Api(app, client)
