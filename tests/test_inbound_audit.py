"""Inbound changes in the audit trail (issue 26): each change an adapter reports that its rule applied or
refused is a row (actor ``adapter:<source>``, the agent, the state before and after, the rule and the remote
presence), found by the admin page's filters and ``audit list``; a report that decides nothing writes none,
so 1,000 agents polled with an unchanged Teams presence add no row. Graph is faked at the HTTP layer."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adapters.teams import TeamsAdapter
from connector.auth import accounts
from connector.cli import main
from connector.parts import get_parts
from connector.presence.config import build_config
from connector.store.models import AuditEvent
from tests.helpers.signin import PASSWORD, signed_in_caller

EDRED = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"


def teams() -> TeamsAdapter:
    return TeamsAdapter(
        {
            "tenant_id": "tenant-1",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "very-secret",
            "user_key": "agent_id",
        }
    )


def audit_rows(parts) -> list[AuditEvent]:
    with parts.store.read() as s:
        return list(s.query(AuditEvent).filter(AuditEvent.action.like("inbound.%")).order_by(AuditEvent.id))


@pytest.fixture
def floor(make_app):
    adapter = teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": EDRED, "name": "Edred"}, parts.clock())
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    parts.service.login(EDRED, "Paired Device", "deskphone")
    parts.dispatcher.drain()  # the connector's own Teams session: Available
    return app, adapter, parts


def test_an_applied_and_a_refused_teams_change_are_rows_with_the_rule_the_remote_and_the_states(floor, graph, clock):
    app, adapter, parts = floor
    adapter.poll()
    assert audit_rows(parts) == []  # Teams shows the connector's own presence: no decision, no row

    graph.user[EDRED] = ("Busy", "InAMeeting")
    clock.advance(30)
    adapter.poll()
    adapter.poll()  # the same presence again: nothing decided
    [applied] = audit_rows(parts)
    assert (applied.actor, applied.actor_role, applied.action, applied.target) == (
        "adapter:teams",
        "adapter",
        "inbound.applied",
        EDRED,
    )
    assert applied.before == {"state": "ready"}
    assert applied.after == {
        "state": "meeting",
        "proposed": "meeting",
        "rule": "inbound.teams.map",
        "remote": "InAMeeting",
    }
    assert applied.detail == "Teams InAMeeting -> Meeting"

    del graph.user[EDRED]  # the meeting ends: back to Ready, by the on_end rule
    clock.advance(30)
    adapter.poll()
    parts.service.call_event(EDRED, "c1", "started", "inbound")
    graph.user[EDRED] = ("Busy", "Presenting")
    clock.advance(30)
    adapter.poll()
    adapter.poll()
    rows = audit_rows(parts)
    assert [(r.action, r.after["rule"], r.before["state"], r.after["state"]) for r in rows] == [
        ("inbound.applied", "inbound.teams.map", "ready", "meeting"),
        ("inbound.applied", "inbound.teams.on_end", "meeting", "ready"),
        ("inbound.refused", "inbound.teams.over_call", "on-a-call", "on-a-call"),
    ]
    assert rows[-1].detail == "Teams Presenting: never over a call or wrap-up (on a call)"

    # the admin page's audit tab: by actor and by action
    admin = signed_in_caller(app, "ada")
    res = admin("GET", "/admin/api/audit?actor=adapter:teams&action=inbound.refused")
    assert res.status_code == 200
    [event] = res.get_json()["events"]
    assert (event["target"], event["after"]["remote"]) == (EDRED, "Presenting")
    assert "inbound.refused" in res.get_json()["actions"]  # offered in the action filter
    assert "very-secret" not in json.dumps(admin("GET", "/admin/api/audit").get_json())


def test_audit_list_shows_the_inbound_changes(floor, graph, clock, database_url, tmp_path, monkeypatch):
    app, adapter, parts = floor
    graph.user[EDRED] = ("DoNotDisturb", "Presenting")
    adapter.poll()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("CONNECTOR_PASSWORD_HASH_COST", "test")
    result = CliRunner().invoke(
        main, ["audit", "list", "--actor", "adapter:teams", "--action", "inbound.applied"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "inbound.applied" in line]
    assert f"adapter:teams [adapter]  inbound.applied {EDRED}" in line
    assert '"rule": "inbound.teams.map"' in line and '"remote": "Presenting"' in line
    assert "(Teams Presenting -> Meeting)" in line


def test_an_omni_channel_change_refused_by_its_rule_is_a_row(make_app):
    """Any adapter's source: Omni-Channel with a rule that is off."""
    app = make_app(CONNECTOR_PRESENCE_CONFIG="default")
    parts = get_parts(app)
    config = parts.configs.active().to_dict()
    config["inbound"] = {"omni-channel": {"apply": False}}
    parts.configs.apply(build_config(config), created_by="test", origin="test")
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred"}, parts.clock())
    parts.service.login("edred", "Softphone", "browser")
    parts.service.inbound("edred", "omni-channel", "Break", proposed="break")
    [row] = audit_rows(parts)
    assert (row.actor, row.action, row.after["rule"], row.after["state"]) == (
        "adapter:omni-channel",
        "inbound.refused",
        "inbound.omni-channel.apply",
        "ready",
    )


def test_agents_polled_with_unchanged_presence_write_no_rows(make_app, graph, clock):
    """Only decisions are rows: a poll that finds the same presence again writes nothing (at 1,000 agents the
    reads are 650 + 350 ids per interval: tests/test_teams_inbound.py; 60 here keep the rule quick)."""
    adapter = teams()
    parts = get_parts(make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams"))
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(60)]
    for n, agent_id in enumerate(ids):
        accounts.add_agent(parts.store, {"id": agent_id, "name": f"Agent {n}"}, parts.clock())
        parts.service.login(agent_id, "Softphone", f"browser-{n}")
    for agent_id in ids[:10]:
        graph.user[agent_id] = ("Busy", "InAMeeting")
    parts.service.call_event(ids[0], "c1", "started", "inbound")  # one of them on a call: refused
    for _ in range(3):  # three intervals, nothing changes after the first
        adapter.poll()
        clock.advance(30)
    assert len(graph.reads) == 3  # one call per interval: every agent was read each time
    rows = audit_rows(parts)
    assert sorted((r.target, r.action) for r in rows) == sorted(
        [(ids[0], "inbound.refused")] + [(agent_id, "inbound.applied") for agent_id in ids[1:10]]
    )
