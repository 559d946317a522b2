"""The audit trail: every admin and supervisor action is a row (who, when, from where, what, before/after),
never with a secret; the admin page's filters, paging and export; ``audit list`` on the command line."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests
from click.testing import CliRunner

from connector.audit import trail as audit
from connector.cli import main
from connector.serve.asgi import ConnectorAsgi
from tests.helpers.signin import signed_in_caller
from tests.helpers.web_server import uvicorn_server


@pytest.fixture
def admin(people, app):
    return signed_in_caller(app, "ada")


def trail(admin, **query) -> list[dict]:
    res = admin("GET", "/admin/api/audit?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["events"]


def test_a_pin_reset_is_recorded_with_who_where_and_no_pin(admin):
    assert admin("POST", "/admin/api/agents/edred/pin", {"pin": "97531"}).status_code == 200
    [event] = trail(admin, action="agent.pin_reset")
    assert (event["actor"], event["actor_role"], event["target"]) == ("ada", "admin", "edred")
    assert event["address"] == "127.0.0.1"
    assert event["after"] == {"pin": "secret changed"}
    assert "97531" not in json.dumps(trail(admin))


def test_creating_and_revoking_a_token_are_recorded_without_the_token(admin):
    made = admin("POST", "/admin/api/tokens", {"name": "pbx", "role": "integration"}).get_json()["token"]
    [created] = trail(admin, action="token.create")
    assert created["after"]["name"] == "pbx" and created["after"]["role"] == "integration"
    token_id = created["after"]["id"]
    assert admin("POST", f"/admin/api/tokens/{token_id}/revoke", {}).status_code == 200
    assert [e["target"] for e in trail(admin, action="token.revoke")] == [f"token {token_id}"]
    assert made not in json.dumps(trail(admin))


def test_an_agent_edit_records_the_fields_before_and_after(admin):
    assert admin("PATCH", "/admin/api/agents/edred", {"name": "Ed R.", "team": "Sales"}).status_code == 200
    [event] = trail(admin, action="agent.edit")
    assert event["before"] == {"name": "Edred"} and event["after"] == {"name": "Ed R."}


def test_user_add_disable_and_password_reset_are_recorded(admin):
    assert (
        admin(
            "POST", "/admin/api/users", {"username": "bob", "password": "long-enough-1", "role": "supervisor"}
        ).status_code
        == 201
    )
    assert admin("POST", "/admin/api/users/bob/password", {"password": "another-one-2"}).status_code == 200
    assert admin("POST", "/admin/api/users/bob/active", {"active": False}).status_code == 200
    actions = [e["action"] for e in trail(admin, target="bob")]
    assert actions == ["user.disable", "user.password_reset", "user.add"]  # newest first
    assert "long-enough-1" not in json.dumps(trail(admin)) and "another-one-2" not in json.dumps(trail(admin))


def test_a_refused_action_changes_nothing_and_records_nothing(admin):
    assert admin("POST", "/admin/api/agents/edred/pin", {"pin": "12"}).status_code == 422
    assert trail(admin) == []


def test_a_supervisors_forced_state_logout_and_end_call_are_recorded(people, app, api):
    sue = signed_in_caller(app, "sue")
    agent = api.token("agent", "edred")
    assert api.call("POST", "/api/v1/agents/edred/login", agent).status_code == 200
    assert api.call("PUT", "/api/v1/agents/edred/presence", agent, json={"state": "ready"}).status_code == 200
    assert sue("PUT", "/api/v1/agents/edred/presence", {"state": "break"}).status_code == 200
    api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        api.token("integration"),
        json={"call_id": "c1", "event": "started", "direction": "inbound"},
    )
    assert sue("POST", "/api/v1/agents/edred/calls/end").status_code == 200
    assert sue("POST", "/api/v1/agents/edred/logout", {}).status_code == 200
    events = trail(signed_in_caller(app, "ada"), actor="sue")
    assert [e["action"] for e in events] == ["agent.logout", "call.end", "presence.force"]
    forced = events[-1]
    assert forced["before"] == {"state": "ready"} and forced["after"]["state"] == "break"
    assert forced["actor_role"] == "supervisor"


def test_an_agents_own_change_is_not_an_audited_action(people, app, api):
    agent = api.token("agent", "edred")
    api.call("POST", "/api/v1/agents/edred/login", agent)
    api.call("PUT", "/api/v1/agents/edred/presence", agent, json={"state": "ready"})
    assert trail(signed_in_caller(app, "ada")) == []


def test_a_configuration_apply_is_recorded_with_its_version(admin):
    config = admin("GET", "/admin/api/config").get_json()["config"]
    config["name"] = "Renamed"
    assert admin("POST", "/admin/api/config", {"config": config}).status_code == 200
    [event] = trail(admin, action="config.apply")
    assert event["after"]["name"] == "Renamed" and event["after"]["version"] >= 2
    assert "name" in event["detail"]


def test_adapter_settings_record_secret_changed_never_the_secret(admin, monkeypatch):
    for name in ("WEBHOOK_URL", "WEBHOOK_TOKEN", "WEBHOOK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    res = admin(
        "POST",
        "/admin/api/adapters/webhook",
        {
            "enabled": False,
            "values": {"WEBHOOK_URL": "https://hooks.acme.example/p"},
            "secrets": {"WEBHOOK_TOKEN": "s3cr3t-value"},
        },
    )
    assert res.status_code == 200, res.get_json()
    [event] = trail(admin, action="adapter.settings")
    assert event["target"] == "webhook" and "WEBHOOK_TOKEN" in event["detail"]
    assert "s3cr3t-value" not in json.dumps(trail(admin))


def test_filters_paging_and_a_bad_filter(admin):
    for _ in range(3):
        admin("POST", "/admin/api/agents/edred/pin", {"pin": "24680"})
    admin("POST", "/admin/api/agents/maria/active", {"active": False})
    first = admin("GET", "/admin/api/audit?limit=2").get_json()
    assert first["total"] == 4 and len(first["events"]) == 2 and first["events"][0]["action"] == "agent.disable"
    rest = admin("GET", "/admin/api/audit?limit=2&offset=2").get_json()["events"]
    assert {e["id"] for e in rest}.isdisjoint({e["id"] for e in first["events"]}) and len(rest) == 2
    assert len(trail(admin, target="edred")) == 3
    assert trail(admin, **{"from": "2099-01-01"}) == []
    bad = admin("GET", "/admin/api/audit?action=drop.tables")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "action"
    assert admin("GET", "/admin/api/audit?from=06-03-2026").get_json()["error"]["field"] == "from"


def test_the_export_is_csv_with_formulas_neutralised_and_json(admin):
    admin("POST", "/admin/api/users", {"username": "=cmd", "password": "long-enough-1", "role": "admin"})
    admin("POST", "/admin/api/users", {"username": "bob", "password": "long-enough-1", "role": "admin"})
    text = admin("GET", "/admin/audit.csv?action=user.add").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["target"] for r in rows] == ["bob"]  # '=cmd' is no valid username: refused, not recorded
    assert json.loads(rows[0]["after"])["role"] == "admin"
    data = admin("GET", "/admin/audit.json").get_json()
    assert [e["target"] for e in data] == ["bob"]
    assert admin("GET", "/admin/audit.xml").status_code == 422


def test_the_csv_export_neutralises_a_formula_in_a_detail(admin, parts):
    audit.record(parts.store, parts.clock(), audit.Actor("=HYPERLINK(1)", "admin", "x"), "token.revoke", "token 1")
    text = admin("GET", "/admin/audit.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in text


def test_a_supervisor_cannot_read_the_trail(people, app):
    sue = signed_in_caller(app, "sue")
    assert sue("GET", "/admin/api/audit").status_code == 403


def test_cli_actions_and_audit_list(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONNECTOR_PASSWORD_HASH_COST", "test")
    monkeypatch.setenv("USER", "opsperson")
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result

    run("agents", "add", "edred", "--name", "Ed")
    token = run("tokens", "create", "--role", "integration", "--name", "pbx").output.strip().splitlines()[-1]
    listed = run("audit", "list", "--format", "json")
    rows = json.loads(listed.output)
    assert [(r["action"], r["actor"], r["address"]) for r in rows] == [
        ("agent.add", "cli:opsperson", "cli"),
        ("token.create", "cli:opsperson", "cli"),
    ]
    assert token not in listed.output
    only = json.loads(run("audit", "list", "--action", "token.create", "--format", "json").output)
    assert [r["action"] for r in only] == ["token.create"]
    assert json.loads(run("audit", "list", "--since", "2099-01-01", "--format", "json").output) == []
    assert "agent.add" in run("audit", "list", "--format", "csv").output.splitlines()[1]
    bad = run("audit", "list", "--action", "nope")
    assert bad.exit_code == 2 and "--action" in bad.output


@pytest.fixture
def served(app):
    """The app behind `serve`'s ASGI app (with its fast path); yields the base URL."""
    with uvicorn_server(ConnectorAsgi(app, threads=4)) as base:
        yield base


def test_a_supervisor_tokens_change_through_serve_is_recorded_and_an_integrations_is_not(people, app, api, served):
    for agent in ("edred", "maria"):
        people.service.login(agent, "Paired Device", "desk phone")
    supervisor, integration = api.token("supervisor"), api.token("integration")
    url = f"{served}/api/v1/agents/edred/presence"
    assert requests.put(url, json={"state": "break"}, headers=supervisor, timeout=5).status_code == 200
    assert requests.put(url, json={"state": "ready"}, headers=integration, timeout=5).status_code == 200
    assert requests.put(url, json={"state": "lunch", "force": True}, headers=integration, timeout=5).status_code == 200
    events = trail(signed_in_caller(app, "ada"), action="presence.force")
    assert [(e["actor_role"], e["after"]["state"]) for e in events] == [
        ("integration", "lunch"),
        ("supervisor", "break"),
    ]
