"""Days per agent time zone: an agent's own IANA zone ends its days (totals, reports, Salesforce Date__c).

The connector runs on CONNECTOR_TIMEZONE=UTC here; one agent works in New York, one in London, one on the
default. Each is signed in across its own zone's DST change (the clock fixture moved over the boundary):
New York springs forward on 2026-03-08 (a 23-hour day), London falls back on 2026-10-25 (25 hours).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.auth import accounts, teams
from connector.errors import InvalidInput
from connector.parts import get_parts
from connector.store.models import Agent
from tests.helpers.api import Api
from tests.helpers.fakes.salesforce import SF_ENV
from tests.helpers.signin import PASSWORD, signed_in_caller

HOUR = 3600


@pytest.fixture
def sf_app(make_app):
    return make_app(**SF_ENV)


def _work(api, headers, agent_id: str, clock, start: datetime, end: datetime) -> None:
    """Sign ``agent_id`` in at ``start`` (Ready) and out at ``end``."""
    clock.now = start
    assert api.call("POST", f"/api/v1/agents/{agent_id}/login", headers, json={}).status_code == 200
    clock.now = end
    assert api.call("POST", f"/api/v1/agents/{agent_id}/logout", headers, json={}).status_code == 200


def _seconds_per_day(api, headers, agent_id: str, start: str, end: str) -> dict[str, int]:
    res = api.call("GET", f"/api/v1/time-tracking?from={start}&to={end}&agent={agent_id}", headers)
    assert res.status_code == 200, res.get_json()
    out: dict[str, int] = {}
    for row in res.get_json()["rows"]:
        out[row["date"]] = out.get(row["date"], 0) + row["seconds"]
    return out


def test_new_york_days_split_at_new_york_midnight_across_spring_forward(sf_app, org, clock):
    parts = get_parts(sf_app)
    api = Api(sf_app, sf_app.test_client())
    api.agent("nyc", timezone="America/New_York")
    api.agent("utc")  # the connector's zone (UTC)
    admin = api.token("admin")
    # 2026-03-07 23:00 in New York (EST, 04:00 UTC) to 2026-03-09 01:00 (EDT, 05:00 UTC)
    start, end = datetime(2026, 3, 8, 4, tzinfo=UTC), datetime(2026, 3, 9, 5, tzinfo=UTC)
    _work(api, admin, "nyc", clock, start, end)
    _work(api, admin, "utc", clock, start, end)

    assert _seconds_per_day(api, admin, "nyc", "2026-03-07", "2026-03-09") == {
        "2026-03-07": 1 * HOUR,
        "2026-03-08": 23 * HOUR,  # the day DST began in New York
        "2026-03-09": 1 * HOUR,
    }
    assert _seconds_per_day(api, admin, "utc", "2026-03-07", "2026-03-09") == {
        "2026-03-08": 20 * HOUR,
        "2026-03-09": 5 * HOUR,
    }

    parts.salesforce.flush()
    nyc = {r["Date__c"]: r["Seconds__c"] for r in org.records.values() if r["Agent__c"] == "nyc"}
    assert nyc == {"2026-03-07": 1 * HOUR, "2026-03-08": 23 * HOUR, "2026-03-09": 1 * HOUR}
    assert {k for k in org.records if k.startswith("nyc|")} == {
        "nyc|2026-03-07|ready",
        "nyc|2026-03-08|ready",
        "nyc|2026-03-09|ready",
    }


def test_london_days_split_at_london_midnight_across_fall_back(sf_app, org, clock):
    parts = get_parts(sf_app)
    api = Api(sf_app, sf_app.test_client())
    api.agent("ldn", timezone="Europe/London")
    admin = api.token("admin")
    # 2026-10-24 23:00 in London (BST, 22:00 UTC) to 2026-10-26 01:00 (GMT, 01:00 UTC)
    _work(api, admin, "ldn", clock, datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 26, 1, tzinfo=UTC))

    assert _seconds_per_day(api, admin, "ldn", "2026-10-24", "2026-10-26") == {
        "2026-10-24": 1 * HOUR,
        "2026-10-25": 25 * HOUR,  # the day DST ended in London
        "2026-10-26": 1 * HOUR,
    }
    parts.salesforce.flush()
    assert {r["Date__c"]: r["Seconds__c"] for r in org.records.values()} == {
        "2026-10-24": 1 * HOUR,
        "2026-10-25": 25 * HOUR,
        "2026-10-26": 1 * HOUR,
    }


def test_the_open_interval_counts_on_the_agents_own_days_in_reports_and_salesforce(sf_app, org, clock):
    parts = get_parts(sf_app)
    api = Api(sf_app, sf_app.test_client())
    api.agent("nyc", timezone="America/New_York")
    admin = api.token("admin")
    clock.now = datetime(2026, 3, 8, 4, tzinfo=UTC)  # 23:00 on the 7th in New York
    api.call("POST", "/api/v1/agents/nyc/login", admin, json={})
    clock.now = datetime(2026, 3, 8, 6, tzinfo=UTC)  # still signed in: 02:00 EDT... 01:00 EST + 1 h skipped

    assert _seconds_per_day(api, admin, "nyc", "2026-03-07", "2026-03-08") == {
        "2026-03-07": 1 * HOUR,
        "2026-03-08": 1 * HOUR,
    }
    parts.salesforce.flush()
    assert {r["Date__c"]: r["Seconds__c"] for r in org.records.values()} == {
        "2026-03-07": 1 * HOUR,
        "2026-03-08": 1 * HOUR,
    }


def test_an_agents_stats_default_to_its_own_today(api, clock):
    api.agent("nyc", timezone="America/New_York")
    admin = api.token("admin")
    clock.now = datetime(2026, 3, 9, 2, tzinfo=UTC)  # the 9th in UTC, still the 8th in New York
    res = api.call("GET", "/api/v1/agents/nyc/stats", admin)
    assert res.get_json()["date"] == "2026-03-08"


def test_an_unknown_zone_is_refused_naming_the_field_and_changes_nothing(app, api, parts):
    api.agent("edred", timezone="Europe/London")
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    call = signed_in_caller(app)

    res = call("PATCH", "/admin/api/agents/edred", json={"timezone": "Mars/Olympus_Mons", "name": "Ed"})

    assert res.status_code == 422
    assert res.get_json()["error"]["field"] == "timezone"
    with parts.store.read() as s:
        agent = s.get(Agent, "edred")
        assert (agent.timezone, agent.name) == ("Europe/London", "Edred")


def test_admin_sets_and_clears_an_agents_zone(app, api, parts):
    api.agent("edred")
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    call = signed_in_caller(app)

    res = call("PATCH", "/admin/api/agents/edred", json={"timezone": "Asia/Kolkata"})
    assert res.status_code == 200 and res.get_json()["agent"]["timezone"] == "Asia/Kolkata"
    assert [a["timezone"] for a in call("GET", "/admin/api/accounts").get_json()["agents"]] == ["Asia/Kolkata"]
    assert "Asia/Kolkata" in call("GET", "/admin").get_data(as_text=True)  # offered in the zone list

    call("PATCH", "/admin/api/agents/edred", json={"timezone": ""})
    assert [a["timezone"] for a in call("GET", "/admin/api/accounts").get_json()["agents"]] == [""]


def test_a_csv_import_with_an_unknown_zone_names_its_line_and_imports_nothing(parts):
    text = "id,name,timezone\nann,Ann,America/Chicago\nbob,Bob,Europe/Londres\n"
    with pytest.raises(InvalidInput) as caught:
        accounts.import_agents(parts.store, text, parts.clock())
    assert caught.value.field == "timezone" and "line 3" in caught.value.message
    assert accounts.list_agents(parts.store) == []

    accounts.import_agents(parts.store, "id,name,timezone\nann,Ann,America/Chicago\n", parts.clock())
    assert [a["timezone"] for a in accounts.list_agents(parts.store)] == ["America/Chicago"]


def test_session_time_and_logon_events_follow_each_agents_days(api, clock):
    api.agent("nyc", timezone="America/New_York")
    api.agent("utc")
    admin = api.token("admin")
    start, end = datetime(2026, 3, 8, 4, tzinfo=UTC), datetime(2026, 3, 9, 5, tzinfo=UTC)
    _work(api, admin, "nyc", clock, start, end)
    _work(api, admin, "utc", clock, start, end)

    rows = api.call("GET", "/api/v1/session-time?from=2026-03-07&to=2026-03-09", admin).get_json()["rows"]
    assert {(r["agent_id"], r["date"]): r["seconds"] for r in rows} == {
        ("nyc", "2026-03-07"): 1 * HOUR,
        ("nyc", "2026-03-08"): 23 * HOUR,
        ("nyc", "2026-03-09"): 1 * HOUR,
        ("utc", "2026-03-08"): 20 * HOUR,
        ("utc", "2026-03-09"): 5 * HOUR,
    }
    # 2026-03-07 in New York holds nyc's sign-in (23:00 EST); in UTC nobody signed in that day
    events = api.call("GET", "/api/v1/logon-events?from=2026-03-07&to=2026-03-07", admin).get_json()["events"]
    assert [(e["agent_id"], e["action"]) for e in events] == [("nyc", "Acquired")]


def test_a_teams_zone_ends_its_agents_days_and_an_agents_own_zone_wins(sf_app, org, clock):
    parts = get_parts(sf_app)
    api = Api(sf_app, sf_app.test_client())
    api.agent("east1", team="East")
    api.agent("east2", team="East", timezone="Europe/London")  # its own zone wins over the team's
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    call = signed_in_caller(sf_app)
    res = call("PUT", "/admin/api/teams/East", json={"timezone": "America/New_York"})
    assert res.status_code == 200
    assert call("GET", "/admin/api/accounts").get_json()["teams"] == [
        {"name": "East", "agents": 2, "timezone": "America/New_York"}
    ]
    admin = api.token("admin")
    start, end = datetime(2026, 3, 8, 4, tzinfo=UTC), datetime(2026, 3, 9, 5, tzinfo=UTC)
    _work(api, admin, "east1", clock, start, end)
    _work(api, admin, "east2", clock, start, end)

    assert _seconds_per_day(api, admin, "east1", "2026-03-07", "2026-03-09") == {
        "2026-03-07": 1 * HOUR,
        "2026-03-08": 23 * HOUR,
        "2026-03-09": 1 * HOUR,
    }
    assert _seconds_per_day(api, admin, "east2", "2026-03-07", "2026-03-09") == {  # London: GMT in March
        "2026-03-08": 20 * HOUR,
        "2026-03-09": 5 * HOUR,
    }
    parts.salesforce.flush()
    assert {r["Date__c"] for r in org.records.values() if r["Agent__c"] == "east1"} == {
        "2026-03-07",
        "2026-03-08",
        "2026-03-09",
    }


def test_a_team_zone_is_refused_for_an_unknown_zone_or_team(app, api, parts):
    api.agent("east1", team="East")
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    call = signed_in_caller(app)

    bad_zone = call("PUT", "/admin/api/teams/East", json={"timezone": "America/Gotham"})
    no_team = call("PUT", "/admin/api/teams/Wset", json={"timezone": "America/New_York"})

    assert (bad_zone.status_code, bad_zone.get_json()["error"]["field"]) == (422, "timezone")
    assert (no_team.status_code, no_team.get_json()["error"]["field"]) == (404, "team")
    assert teams.list_teams(parts.store) == [{"name": "East", "agents": 1, "timezone": ""}]


def test_counters_count_on_the_agents_own_day(api, clock):
    api.agent("nyc", timezone="America/New_York")
    admin = api.token("admin")
    clock.now = datetime(2026, 3, 8, 3, tzinfo=UTC)  # 22:00 on the 7th in New York
    api.call("POST", "/api/v1/agents/nyc/login", admin, json={})

    on_7th = api.call("GET", "/api/v1/agents/nyc/stats?date=2026-03-07", admin).get_json()["counters"]
    on_8th = api.call("GET", "/api/v1/agents/nyc/stats?date=2026-03-08", admin).get_json()["counters"]
    assert (on_7th["logins"], on_8th["logins"]) == (1, 0)
