"""Retention: rows older than each table's setting are purged in batches, what must stay stays; erasure: an
agent's personal data leaves the store, its anonymous totals stay, and the command says what to delete in
Salesforce."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, inspect, select, text

from connector.audit import trail
from connector.auth import accounts
from connector.cli import main
from connector.clock import utc_now
from connector.errors import Conflict, SettingsInvalid
from connector.jobs import scheduler
from connector.jobs.leases import Leases
from connector.live.bus import CREDENTIAL_ENDED
from connector.store.models import (
    AuditEvent,
    Call,
    DailyCounter,
    DailyTotal,
    LogonEventRow,
    OutboxRow,
    SignInFailure,
    StateInterval,
    WebSession,
)
from connector.upkeep.erasure import erase_agent
from connector.upkeep.retention import Retention
from tests.helpers.signin import try_pin


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Every test here on SQLite and on PostgreSQL (the purge's composite keys, the shared write, the erasure's
    moves under foreign keys)."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    return f"sqlite:///{tmp_path / 'presence.db'}"


def count(parts, model, *where) -> int:
    with parts.store.read() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def add(parts, model, rows: list[dict]) -> None:
    with parts.store.write_connection() as conn:
        for row in rows:  # one by one: rows may leave out different columns
            conn.execute(insert(model.__table__).values(**row))


@pytest.fixture
def history(parts, api, clock):
    """An agent with rows 500 days old and 1 day old in every purged table, an interval open since 500 days
    and an undelivered outbox row as old."""
    api.agent("edred", team="Sales")
    now = clock()
    old, new = now - timedelta(days=500), now - timedelta(days=1)
    add(
        parts,
        LogonEventRow,
        [dict(at=at, agent_id="edred", action="Acquired", logon_source="API", device="d") for at in [old] * 25 + [new]],
    )
    add(
        parts,
        StateInterval,
        [
            dict(agent_id="edred", state_id="ready", status=1, started_at=old, ended_at=old + timedelta(hours=1)),
            dict(agent_id="edred", state_id="ready", status=1, started_at=new, ended_at=new + timedelta(hours=1)),
            dict(agent_id="edred", state_id="break", status=3, started_at=old, ended_at=None),  # open: stays
        ],
    )
    add(
        parts,
        Call,
        [
            dict(agent_id="edred", call_id=f"c{i}", direction="inbound", started_at=at, ended_at=at)
            for i, at in enumerate([old, old, new])
        ],
    )
    add(
        parts,
        OutboxRow,
        [
            dict(
                agent_id="edred",
                adapter="webhook",
                payload={},
                created_at=old,
                delivered_at=old,
                attempts=1,
                superseded=False,
            ),
            dict(agent_id="edred", adapter="webhook", payload={}, created_at=old, superseded=True, attempts=0),
            dict(
                agent_id="edred", adapter="webhook", payload={}, created_at=old, superseded=False, attempts=9
            ),  # parked
            dict(
                agent_id="edred",
                adapter="webhook",
                payload={},
                created_at=new,
                delivered_at=new,
                attempts=1,
                superseded=False,
            ),
        ],
    )
    add(parts, SignInFailure, [dict(at=at, account="user:x", address="10.0.0.1", outcome="wrong") for at in (old, new)])
    add(
        parts,
        WebSession,
        [
            dict(id_hash="a" * 64, name="ada", role="admin", created_at=old, last_seen_at=old, ended_at=old),
            dict(id_hash="b" * 64, name="ada", role="admin", created_at=old, last_seen_at=new, ended_at=None),
        ],
    )
    add(
        parts,
        AuditEvent,
        [dict(at=at, actor="ada", action="token.revoke", target="token 1") for at in (old - timedelta(days=300), new)],
    )
    add(
        parts,
        DailyTotal,
        [
            dict(agent_id="edred", day=at.date(), state_id="ready", status=1, seconds=60.0, updated_at=at)
            for at in (now - timedelta(days=1200), new)
        ],
    )
    add(
        parts,
        DailyCounter,
        [dict(agent_id="edred", day=at.date(), counter="calls", count=1) for at in (now - timedelta(days=1200), new)],
    )
    return parts


def _with(parts, **settings):
    values = {**parts.settings.values, **settings}
    return type(parts.settings)(**{**parts.settings.__dict__, "values": values})


def test_the_purge_deletes_what_is_past_its_retention_and_keeps_the_rest(history, clock):
    parts = history
    report = Retention(parts.store, _with(parts, CONNECTOR_RETENTION_BATCH=10), clock, pause=0).run()
    assert report.finished and report.by_table["logon_events"] == 25 and report.batches >= 3
    assert count(parts, LogonEventRow) == 1
    assert count(parts, StateInterval) == 2 and count(parts, StateInterval, StateInterval.ended_at.is_(None)) == 1
    assert count(parts, Call) == 1
    assert count(parts, OutboxRow) == 2  # the recent delivered one and the parked one (never delivered)
    assert count(parts, OutboxRow, OutboxRow.attempts == 9) == 1
    assert count(parts, SignInFailure) == 1
    assert count(parts, WebSession) == 1 and count(parts, WebSession, WebSession.ended_at.is_(None)) == 1
    assert count(parts, AuditEvent) == 1
    assert count(parts, DailyTotal) == 1 and count(parts, DailyCounter) == 1
    again = Retention(parts.store, parts.settings, clock, pause=0).run()
    assert not any(again.by_table.values())


def test_zero_keeps_a_table_forever(history, clock):
    parts = history
    Retention(parts.store, _with(parts, CONNECTOR_RETAIN_LOGON_EVENTS_DAYS=0), clock, pause=0).run()
    assert count(parts, LogonEventRow) == 26
    assert count(parts, SignInFailure) == 1  # the others still purged


def test_a_bad_retention_setting_stops_start_up_naming_it(make_app):
    with pytest.raises(SettingsInvalid) as refused:
        make_app(CONNECTOR_RETAIN_CALLS_DAYS="-3")
    assert refused.value.problems[0].field == "CONNECTOR_RETAIN_CALLS_DAYS"


def test_the_cli_purges_under_the_jobs_lease_and_waits_for_another_holder(
    history, tmp_path, monkeypatch, database_url, clock
):
    parts = history
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONNECTOR_PASSWORD_HASH_COST", "test")
    other = Leases(parts.store, utc_now, holder="other")
    assert other.acquire("job:retention", hold=600)
    busy = CliRunner().invoke(main, ["retention", "run"])
    assert busy.exit_code == 1 and "another instance" in busy.output
    assert count(parts, SignInFailure) == 2
    other.release("job:retention")
    done = CliRunner().invoke(main, ["retention", "run"], catch_exceptions=False)
    assert done.exit_code == 0 and "logon_events 25" in done.output


PERSONAL = (
    "edred",
    "Ed Redfern",
    "ed.redfern@example.com",
    "7391",
    "005000000000123AAA",
    "desk-phone-7391",
    "edred-login",
)


def _store_text(parts) -> str:
    """Every cell of every table, as text: what a search of the store for a person would find. Left out: the
    live event that ends the erased agent's open streams, pruned with every live event after
    CONNECTOR_EVENTS_RETENTION (an hour)."""
    cells = []
    with parts.store.reader.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                if table == "events" and row.kind == CREDENTIAL_ENDED:
                    continue
                cells.extend(str(v) for v in row)
    return "\n".join(cells)


@pytest.fixture
def edred(parts, api, clock):
    api.agent(
        "edred",
        name="Ed Redfern",
        team="Sales",
        extension="7391",
        email="ed.redfern@example.com",
        salesforce_user_id="005000000000123AAA",
        pin="1234",
    )
    api.agent("maria", team="Sales")
    accounts.add_user(parts.store, "edred-login", "long-enough-1", "agent", clock(), agent_id="edred")
    api.token("agent", "edred")
    for agent in ("edred", "maria"):
        parts.service.login(agent, "Softphone", "desk-phone-7391" if agent == "edred" else "desk")
        parts.service.set_state(agent, "ready")
        clock.advance(40)
        parts.service.set_state(agent, "break")
        clock.advance(30)
        parts.service.logout(agent, "Softphone")
    trail.record(
        parts.store,
        clock(),
        trail.Actor("ada", "admin", "127.0.0.1"),
        "agent.edit",
        "edred",
        before={"name": "Ed"},
        after={"name": "Ed Redfern"},
    )
    return parts


def _team_seconds(parts) -> float:
    with parts.store.read() as s:
        return s.execute(select(func.sum(DailyTotal.seconds))).scalar_one()


def test_erasing_an_agent_leaves_no_personal_data_and_keeps_the_totals(edred, clock):
    parts = edred
    before = _team_seconds(parts)
    intervals = count(parts, StateInterval)
    erased = erase_agent(parts.store, "edred", clock())
    found = _store_text(parts)
    assert [p for p in PERSONAL if p in found] == []
    assert _team_seconds(parts) == before and count(parts, StateInterval) == intervals
    assert count(parts, DailyTotal, DailyTotal.agent_id == erased.pseudonym) > 0
    assert count(parts, DailyTotal, DailyTotal.agent_id == "maria") > 0  # the others untouched


def test_an_erased_agents_pin_and_token_no_longer_work(edred, app, api, clock):
    token = api.token("agent", "edred")
    erase_agent(edred.store, "edred", clock())
    assert api.call("GET", "/api/v1/agents/edred/presence", token).status_code == 401
    assert try_pin(app.test_client(), "edred", "1234").status_code != 302


def test_a_logged_in_agent_is_not_erased(parts, api):
    api.agent("edred", name="Ed Redfern")
    parts.service.login("edred", "Softphone", "desk")
    with pytest.raises(Conflict, match="log it out first"):
        erase_agent(parts.store, "edred", parts.clock())
    assert "Ed Redfern" in _store_text(parts)


def test_the_erase_command_says_what_to_delete_in_salesforce(edred, tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONNECTOR_PASSWORD_HASH_COST", "test")
    result = CliRunner().invoke(main, ["agents", "erase", "edred", "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Key__c LIKE 'edred|%'" in result.output and "User__c = '005000000000123AAA'" in result.output
    assert count(edred, AuditEvent, AuditEvent.action == "agent.erase") == 1
    unknown = CliRunner().invoke(main, ["agents", "erase", "nobody", "--yes"])
    assert unknown.exit_code == 2 and "no agent 'nobody'" in unknown.output


def test_serve_schedules_the_purge_under_its_lease(app):
    jobs = scheduler.start(app)
    try:
        assert jobs.get_job("retention").trigger.interval.total_seconds() == 3600
    finally:
        jobs.shutdown(wait=False)
