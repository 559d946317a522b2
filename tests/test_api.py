"""The REST API end to end: the real app, a real SQLite file, bearer tokens and the four roles."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC

import pytest

from connector.parts import get_parts


def test_agent_logs_in_changes_state_and_reads_it_back(api, edred, clock):
    assert api.call("POST", "/api/v1/agents/edred/login", edred).status_code == 200
    clock.advance(5)
    r = api.call("PUT", "/api/v1/agents/edred/presence", edred, {"state": "Do Not Disturb"})
    assert r.status_code == 200 and r.json["state"]["display"] == "Do Not Disturb (DND)"
    clock.advance(7)
    r = api.call("GET", "/api/v1/agents/edred/presence", edred)
    assert r.json["state"]["id"] == "dnd" and r.json["seconds_in_state"] == 7


def test_an_agent_token_cannot_change_another_agent(api, edred):
    api.call("POST", "/api/v1/agents/amira/login", api.token("supervisor"))
    r = api.call("PUT", "/api/v1/agents/amira/presence", edred, {"state": "dnd"})
    assert r.status_code == 403 and r.json["error"]["field"] == "agent_id"
    assert api.call("GET", "/api/v1/agents/amira/presence", api.token("admin")).json["state"]["id"] == "ready"


def test_a_supervisor_logs_an_agent_out_recorded_as_supervisor(api, edred):
    api.call("POST", "/api/v1/agents/edred/login", edred)
    r = api.call("POST", "/api/v1/agents/edred/logout", api.token("supervisor"))
    assert r.status_code == 200 and r.json["logged_in"] is False
    events = api.call("GET", "/api/v1/logon-events", api.token("admin")).json["events"]
    assert [(e["action"], e["logon_source"]) for e in events] == [("Acquired", "Softphone"), ("Released", "Supervisor")]
    assert events[1]["actor"].startswith("token:")


def test_agents_see_only_themselves(api, edred):
    assert [a["id"] for a in api.call("GET", "/api/v1/agents", edred).json["agents"]] == ["edred"]
    assert len(api.call("GET", "/api/v1/agents", api.token("supervisor")).json["agents"]) == 2
    assert api.call("GET", "/api/v1/logon-events", edred).status_code == 403


def test_without_a_valid_token_the_api_answers_401(api, edred):
    assert api.call("GET", "/api/v1/agents", {}).status_code == 401
    r = api.call("GET", "/api/v1/agents", {"Authorization": "Bearer pc_forged"})
    assert r.status_code == 401 and r.json["error"]["field"] == "Authorization"


@pytest.mark.parametrize(
    "kwargs,status,field",
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "body"),
        ({"data": "state=dnd", "content_type": "application/x-www-form-urlencoded"}, 415, None),
        ({"json": {"state": "dnd", "colour": "red"}}, 422, "colour"),
        ({"json": {}}, 422, "state"),
        ({"json": {"state": "Coffee"}}, 422, "state"),
        ({"json": {"state": "on-a-call"}}, 422, "state"),
        ({"json": ["dnd"]}, 400, "body"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field_and_changes_nothing(api, edred, kwargs, status, field):
    api.call("POST", "/api/v1/agents/edred/login", edred)
    r = api.client.put("/api/v1/agents/edred/presence", headers=edred, **kwargs)
    assert r.status_code == status
    assert r.json["error"]["field"] == field and r.json["error"]["message"]
    assert api.call("GET", "/api/v1/agents/edred/presence", edred).json["state"]["id"] == "ready"


def test_too_large_body_is_413(api, edred):
    r = api.client.put(
        "/api/v1/agents/edred/presence", headers=edred, data="x" * (2 * 1024 * 1024), content_type="application/json"
    )
    assert r.status_code == 413 and r.json["error"]["code"] == "too_large"


def test_unknown_agent_is_404_and_changing_presence_logged_out_is_409(api, edred):
    admin = api.token("admin")
    r = api.call("PUT", "/api/v1/agents/ghost/presence", admin, {"state": "dnd"})
    assert r.status_code == 404 and r.json["error"]["field"] == "agent_id"
    r = api.call("PUT", "/api/v1/agents/edred/presence", edred, {"state": "dnd"})
    assert r.status_code == 409 and r.json["error"]["code"] == "not_logged_in"


def test_call_events_drive_on_a_call_and_wrap_up_and_repeat_safely(api, edred, clock):
    pbx = api.token("integration")
    api.call("POST", "/api/v1/agents/edred/login", edred)
    r = api.call(
        "POST", "/api/v1/agents/edred/calls", pbx, {"call_id": "c1", "event": "started", "direction": "inbound"}
    )
    assert r.json["state"]["id"] == "on-a-call" and r.json["on_call"]
    clock.advance(60)
    ended = {"call_id": "c1", "event": "ended", "direction": "inbound", "duration_seconds": 55}
    r = api.call("POST", "/api/v1/agents/edred/calls", pbx, ended)
    assert r.json["state"]["id"] == "wrap-up" and r.json["wrap_up_remaining_seconds"] == 30
    r = api.call("POST", "/api/v1/agents/edred/calls", pbx, ended)  # the PBX retried
    assert r.json["repeated"] is True
    stats = api.call("GET", "/api/v1/agents/edred/stats", edred).json
    assert stats["counters"]["calls_inbound_answered"] == 1
    r = api.call("POST", "/api/v1/agents/edred/calls", pbx, {**ended, "call_id": "c2", "duration_seconds": -1})
    assert r.status_code == 422 and r.json["error"]["field"] == "duration_seconds"


def test_wrap_up_ends_on_time_across_a_restart(make_app, clock):
    from connector.auth import accounts

    app = make_app()
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred"}, clock())
    parts.service.login("edred", "Paired Device", "deskphone")
    parts.service.call_event("edred", "c1", "started", "inbound")
    clock.advance(40)
    parts.service.call_event("edred", "c1", "ended", "inbound", 40)
    from datetime import timedelta

    wrap_up_end = clock() + timedelta(seconds=30)
    parts.store.dispose()

    clock.advance(300)  # the server was down for five minutes
    restarted = get_parts(make_app())
    assert restarted.sweeper.settle_due() == 1
    from connector.reports.queries import time_tracking

    rows = {r["state_id"]: r["seconds"] for r in time_tracking(restarted.reads, clock().date(), clock().date())}
    assert rows["wrap-up"] == 30  # not 300: wrap-up ended at its time, while the server was down
    assert rows["ready"] == 300 - 30
    from connector.clock import iso

    assert restarted.service.presence("edred")["state_since"] == iso(wrap_up_end)


def test_time_tracking_counts_the_open_interval_and_exports_csv(api, edred, clock):
    api.call("POST", "/api/v1/agents/edred/login", edred)
    clock.advance(80)
    api.call("PUT", "/api/v1/agents/edred/presence", edred, {"state": "break"})
    clock.advance(25)  # still on break: the open interval counts up to now
    rows = api.call("GET", "/api/v1/time-tracking", edred).json["rows"]
    assert {(r["state_id"], r["seconds"]) for r in rows} == {("ready", 80), ("break", 25)}
    r = api.client.get("/api/v1/time-tracking", headers={**edred, "Accept": "text/csv"})
    assert r.mimetype == "text/csv"
    parsed = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {(p["state_label"], p["seconds"]) for p in parsed} == {("Ready for Calls", "80"), ("Break", "25")}


def test_time_tracking_rejects_a_bad_date_naming_the_parameter(api, edred):
    r = api.call("GET", "/api/v1/time-tracking?from=yesterday", edred)
    assert r.status_code == 422 and r.json["error"]["field"] == "from"


def test_healthz_reports_the_store(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["store"] == {"ok": True, "backend": "sqlite"}


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not in openapi.json"


def test_presence_states_show_the_picklist_text(api, edred):
    states = api.call("GET", "/api/v1/presence-states", edred).json["states"]
    ready = next(s for s in states if s["id"] == "ready")
    assert ready["display"] == "Ready for Calls (Online)" and ready["selectable"]
    assert next(s for s in states if s["status"] == 6)["selectable"] is False


WRONG_VALUES = [None, 0, -1, 10**12, 1.5, True, "", " ", "x" * 5000, "\r\n", [], {}, ["dnd"], {"a": 1}]
BODIES = {
    ("POST", "/api/v1/agents/edred/login"): ("logon_source", "device", "source", "pin"),
    ("PUT", "/api/v1/agents/edred/presence"): ("state", "source"),
    ("POST", "/api/v1/agents/edred/calls"): ("call_id", "event", "direction", "duration_seconds"),
    ("POST", "/api/v1/agents/edred/dial"): ("number",),
    ("POST", "/api/v1/agents/edred/wrap-up/extend"): ("seconds",),
    ("POST", "/api/v1/pbx/login"): ("extension", "pin", "device", "logon_source"),
}


def test_no_wrong_value_in_any_field_causes_a_server_error(api, edred):
    admin = api.token("admin")
    api.call("POST", "/api/v1/agents/edred/login", admin, {"logon_source": "Paired Device"})
    valid = {
        "state": "dnd",
        "call_id": "c9",
        "event": "started",
        "direction": "inbound",
        "number": "100",
        "extension": "3000",
        "pin": "1234",
        "logon_source": "API",
        "device": "x",
        "source": "api",
        "seconds": 10,
        "duration_seconds": 5,
    }
    for (method, path), fields in BODIES.items():
        for field in fields:
            for value in WRONG_VALUES:
                body = {f: valid[f] for f in fields}
                body[field] = value
                r = api.call(method, path, admin, body)
                assert r.status_code < 500, (method, path, field, value, r.get_data(as_text=True))
                if r.status_code >= 400:
                    assert r.json["error"]["message"]
    for query in (
        "from=2026-13-01",
        "to=x",
        "from=2026-03-06&to=2026-03-01",
        "from=2020-01-01&to=2026-01-01",
        "include=nope",
        "exclude=,,,",
    ):
        for path in ("/api/v1/time-tracking", "/api/v1/logon-events", "/api/v1/session-time"):
            assert api.call("GET", f"{path}?{query}", admin).status_code < 500


def test_time_across_local_midnight_is_split_in_the_configured_time_zone(make_app, clock):
    from datetime import datetime

    from connector.auth import accounts
    from connector.reports.queries import time_tracking

    clock.now = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # 23:30 in Berlin, the night DST ends
    parts = get_parts(make_app(CONNECTOR_TIMEZONE="Europe/Berlin"))
    accounts.add_agent(parts.store, {"id": "night"}, clock())
    parts.service.login("night", "Paired Device", "deskphone")
    clock.advance(hours=3)  # 02:30 CET on 25 October: 30 min before midnight, 3 h after (one hour repeats)
    parts.service.set_state("night", "break", source="api")
    from datetime import date

    rows = {
        (r["date"], r["state_id"]): r["seconds"]
        for r in time_tracking(parts.reads, date(2026, 10, 24), date(2026, 10, 25))
    }
    assert rows == {("2026-10-24", "ready"): 1800, ("2026-10-25", "ready"): 9000}
