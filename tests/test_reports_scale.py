"""Reports read at history scale: the behaviour the set-based queries, pages and grid view keep."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta


def test_state_mix_counts_an_interval_that_began_the_day_before(api, supervisor_token, clock):
    token = api.token("integration")
    clock.advance(hours=14)  # 2026-03-06 23:00
    api.call("POST", "/api/v1/agents/edred/login", token, json={})
    api.call("PUT", "/api/v1/agents/edred/presence", token, json={"state": "lunch"})
    clock.advance(hours=1, minutes=30)  # 00:30 next day; lunch still open, began yesterday
    api.call("PUT", "/api/v1/agents/edred/presence", token, json={"state": "break"})
    clock.advance(minutes=15)
    today = {
        h["label"]: h["seconds"]
        for h in api.call("GET", "/api/v1/state-mix?date=2026-03-07", supervisor_token).get_json()["hours"]
    }
    assert today["00:00"] == {"lunch": 1800, "break": 900}
    yesterday = {
        h["label"]: h["seconds"]
        for h in api.call("GET", "/api/v1/state-mix?date=2026-03-06", supervisor_token).get_json()["hours"]
    }
    assert yesterday["23:00"] == {"lunch": 3600} and yesterday["22:00"] == {}


def test_logon_events_come_in_pages_and_the_csv_holds_them_all(api, supervisor_token, clock):
    token = api.token("integration")
    for _ in range(4):
        for agent in ("edred", "maria"):
            api.call("POST", f"/api/v1/agents/{agent}/login", token, json={})
            clock.advance(60)
            api.call("POST", f"/api/v1/agents/{agent}/logout", token, json={})
            clock.advance(60)
    seen, after = [], None
    while True:
        url = "/api/v1/logon-events?limit=3" + (f"&after={after}" if after else "")
        body = api.call("GET", url, supervisor_token).get_json()
        assert len(body["events"]) <= 3
        seen += body["events"]
        after = body["next"]
        if after is None:
            break
    assert len(seen) == 16 and [e["at"] for e in seen] == sorted(e["at"] for e in seen)
    newest = api.call("GET", "/api/v1/logon-events?limit=2&order=desc", supervisor_token).get_json()
    assert [e["at"] for e in newest["events"]] == [seen[-1]["at"], seen[-2]["at"]] and newest["next"]
    exported = api.client.get("/api/v1/logon-events?format=csv", headers=supervisor_token).get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(exported)))) == 16
    for bad, field in (("limit=0", "limit"), ("limit=many", "limit"), ("after=%21%21", "after"), ("order=up", "order")):
        res = api.call("GET", f"/api/v1/logon-events?{bad}", supervisor_token)
        assert res.status_code == 422 and res.get_json()["error"]["field"] == field


def test_the_grid_view_sends_the_state_by_id_and_settles_due_timers(api, supervisor_token, clock):
    token = api.token("integration")
    api.call("POST", "/api/v1/agents/edred/login", token, json={})
    api.call("PUT", "/api/v1/agents/edred/presence", token, json={"state": "dnd"})
    clock.advance(30)
    grid = {a["id"]: a for a in api.call("GET", "/api/v1/agents?view=grid", supervisor_token).get_json()["agents"]}
    assert grid["edred"] == {
        "id": "edred",
        "name": "Edred",
        "team": "Sales",
        "logged_in": True,
        "state": "dnd",
        "seconds_in_state": 30,
        "connection_lost": False,
        "on_call": False,
        "next_state": None,
        "state_from": None,  # set by the API: the connector's own, not an inbound rule's
    }
    assert grid["maria"]["logged_in"] is False and grid["maria"]["state"] is None
    full = {a["id"]: a for a in api.call("GET", "/api/v1/agents", supervisor_token).get_json()["agents"]}
    assert full["edred"]["state"]["id"] == "dnd"
    # a call with wrap-up: when the wrap-up has ended unseen, the grid shows the settled state
    api.call(
        "POST", "/api/v1/agents/edred/calls", token, json={"call_id": "c1", "event": "started", "direction": "inbound"}
    )
    api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        token,
        json={"call_id": "c1", "event": "ended", "direction": "inbound", "duration_seconds": 30},
    )
    clock.advance(timedelta(hours=1).total_seconds())
    grid = {a["id"]: a for a in api.call("GET", "/api/v1/agents?view=grid", supervisor_token).get_json()["agents"]}
    assert grid["edred"]["state"] == full_state_now(api, supervisor_token)
    assert api.call("GET", "/api/v1/agents?view=tiny", supervisor_token).get_json()["error"]["field"] == "view"


def full_state_now(api, token) -> str:
    return {a["id"]: a for a in api.call("GET", "/api/v1/agents", token).get_json()["agents"]}["edred"]["state"]["id"]


def test_state_mix_of_the_night_dst_ends_has_25_hours_and_fills_every_hour_an_interval_covers(make_app, clock):
    from datetime import date, datetime

    from connector.auth import accounts
    from connector.parts import get_parts
    from connector.reports.queries import state_mix

    clock.now = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 CEST on 25 October in Berlin
    parts = get_parts(make_app(CONNECTOR_TIMEZONE="Europe/Berlin"))
    accounts.add_agent(parts.store, {"id": "night"}, clock())
    parts.service.login("night", "Paired Device", "deskphone")  # ready from 00:30 CEST
    clock.advance(hours=4, minutes=45)  # 04:15 CET: one hour repeated on the way
    parts.service.set_state("night", "break", source="api")
    clock.advance(minutes=10)
    hours = state_mix(parts.reads, date(2026, 10, 25))
    assert [h["label"] for h in hours[:7]] == ["00:00", "01:00", "02:00", "02:00", "03:00", "04:00", "05:00"]
    assert len(hours) == 25
    assert [h["seconds"] for h in hours[:7]] == [
        {"ready": 1800},
        {"ready": 3600},
        {"ready": 3600},
        {"ready": 3600},
        {"ready": 3600},
        {"ready": 900, "break": 600},
        {},
    ]
    assert all(h["seconds"] == {} for h in hours[6:])
    before = {h["label"]: h["seconds"] for h in state_mix(parts.reads, date(2026, 10, 24))}
    assert before["23:00"] == {} and state_mix(parts.reads, date(2026, 10, 26))[0]["seconds"] == {}  # not yet


def test_an_older_store_trades_the_narrow_range_indexes_for_the_covering_ones(database_url):
    from sqlalchemy import create_engine, inspect

    from connector.store import Store

    old = create_engine(database_url)
    with old.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE state_intervals (id INTEGER PRIMARY KEY, agent_id VARCHAR(64), "
            "state_id VARCHAR(64), status INTEGER, reason_code VARCHAR(64), source VARCHAR(40), "
            "cause VARCHAR(200), started_at TIMESTAMP, ended_at TIMESTAMP)"
        )
        conn.exec_driver_sql("CREATE INDEX ix_intervals_started ON state_intervals (started_at)")
        conn.exec_driver_sql(
            "CREATE TABLE logon_events (id INTEGER PRIMARY KEY, at TIMESTAMP, agent_id VARCHAR(64), "
            "action VARCHAR(10), logon_source VARCHAR(40), device VARCHAR(100), actor VARCHAR(100))"
        )
        conn.exec_driver_sql("CREATE INDEX ix_logon_events_at ON logon_events (at)")
    old.dispose()
    store = Store(database_url)
    store.create_all()
    names = {i["name"] for i in inspect(store.writer).get_indexes("state_intervals")}
    assert "ix_intervals_started_span" in names and "ix_intervals_started" not in names
    names = {i["name"] for i in inspect(store.writer).get_indexes("logon_events")}
    assert "ix_logon_events_span" in names and "ix_logon_events_at" not in names
    store.create_all()  # a second start changes nothing
    store.dispose()
