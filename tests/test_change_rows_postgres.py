"""PostgreSQL's change path sends a change's inserts and upserts as one statement (statements.PendingWrites):
the same changes write the same rows as SQLite's separate statements do, row for row."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from connector import create_app
from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.adapter_doubles import Recorder

pytestmark = pytest.mark.postgres

#: every table a change writes, the columns compared (not the ids: each store counts its own)
TABLES = {
    "state_intervals": "agent_id, state_id, status, reason_code, source, cause, started_at, ended_at",
    "daily_totals": "agent_id, day, state_id, status, reason_code, seconds, updated_at",
    "logon_events": "at, agent_id, action, logon_source, device, actor",
    "daily_counters": "agent_id, day, counter, count",
    "outbox": "agent_id, adapter, kind, CAST(payload AS TEXT), source, created_at",
    "events": "kind, agent_id, CAST(data AS TEXT), created_at",
    "agent_sessions": "agent_id, CAST(logons AS TEXT), state_id, state_since, next_state_id, logoff_pending, version",
    "calls": "agent_id, call_id, direction, started_at, ended_at, duration_seconds",
}


class _Clock:
    """Each store's own clock, moved by hand through the same day."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kw) -> datetime:
        self.now += timedelta(seconds=seconds, **kw)
        return self.now


def _value(v):
    if isinstance(v, str) and v[:1] in ("[", "{"):
        found = json.loads(v)
        if isinstance(found, dict):
            found.pop("request_id", None)
        return found
    if isinstance(v, datetime):
        return v.replace(tzinfo=None).isoformat(" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == " ":  # SQLite's datetime text
        return datetime.fromisoformat(v).isoformat(" ")
    return v


def _rows(app) -> dict[str, list]:
    found = {}
    with get_parts(app).store.reader.connect() as conn:
        for table, columns in TABLES.items():
            order = "agent_id, call_id" if table == "calls" else "agent_id" if table == "agent_sessions" else "id"
            rows = conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY {order}"))
            found[table] = [[_value(v) for v in row] for row in rows]
    return found


def _day_of_changes(database_url: str, tmp_path, name: str) -> dict[str, list]:
    """Logins, state changes across local midnight (two days' totals from one close), a call, a logout."""
    clock = _Clock(datetime(2026, 10, 24, 21, 30, tzinfo=UTC))  # 23:30 in Berlin
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / name),
            "CLOCK": clock,
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_TIMEZONE": "Europe/Berlin",
            "CONNECTOR_SECRET_KEY": "test-secret",
            "CONNECTOR_PASSWORD_HASH_COST": "test",
            "ADAPTERS": [Recorder()],
        }
    )
    parts = get_parts(app)
    try:
        for agent in ("edred", "amira"):
            accounts.add_agent(parts.store, {"id": agent, "name": agent.title()}, clock())
            parts.service.login(agent, "Paired Device", f"desk-{agent}")
        clock.advance(minutes=10)
        parts.service.set_state("edred", "break")
        clock.advance(hours=3)  # across midnight: the break's seconds go to two days
        parts.service.set_state("edred", "ready")
        parts.service.set_state("amira", "lunch")
        clock.advance(seconds=0.25)
        parts.service.set_state("amira", "lunch")  # the same state again
        parts.service.call_event("edred", "c1", "started", "inbound")
        clock.advance(minutes=2)
        parts.service.call_event("edred", "c1", "ended", "inbound", 120)
        clock.advance(minutes=1)
        parts.service.set_state("edred", "meeting")
        parts.service.logout("amira", "Paired Device")
        parts.service.logout("edred", "Paired Device")
        parts.dispatcher.drain()
        return _rows(app)
    finally:
        parts.bus.stop()
        parts.store.dispose()


def test_a_day_of_changes_writes_the_same_rows_on_postgresql_as_on_sqlite(postgres, tmp_path):
    on_sqlite = _day_of_changes(f"sqlite:///{tmp_path / 'presence.db'}", tmp_path, "sqlite")
    on_postgres = _day_of_changes(postgres.new_database(), tmp_path, "postgresql")
    assert len(on_sqlite["daily_totals"]) >= 4 and len({r[1] for r in on_sqlite["daily_totals"]}) == 2
    assert on_sqlite["outbox"] and on_sqlite["logon_events"] and on_sqlite["events"]
    for table in TABLES:
        assert on_postgres[table] == on_sqlite[table], table
