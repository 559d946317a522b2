"""An audited action and its audit row commit together: when the row cannot be written the action is not
applied, and the caller gets a 503 that says so (never a change without its trace)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from connector.auth import accounts
from connector.cli import main
from tests.helpers.api import Api
from tests.helpers.signin import PASSWORD, signed_in_caller

BROKEN = "audit trail disk gone"


@pytest.fixture
def admin(people, app):
    return signed_in_caller(app, "ada")


def break_the_audit_trail(parts) -> None:
    """Every insert into audit_events fails from now on, as a full or broken table would (a real store error)."""
    with parts.store.write_connection() as conn:
        conn.exec_driver_sql(
            f"CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, '{BROKEN}'); END"
        )


def refused_for_the_trail(res) -> None:
    assert res.status_code == 503, (res.status_code, res.get_json())
    error = res.get_json()["error"]
    assert error["code"] == "audit_unavailable"
    assert "audit trail could not be written" in error["message"] and "nothing was changed" in error["message"]


def test_a_token_is_not_created_when_its_audit_row_cannot_be_written(admin, people):
    break_the_audit_trail(people)
    refused_for_the_trail(admin("POST", "/admin/api/tokens", {"name": "pbx", "role": "integration"}))
    assert accounts.list_tokens(people.store) == []


def test_a_pin_reset_is_not_applied_when_its_audit_row_cannot_be_written(admin, people):
    break_the_audit_trail(people)
    refused_for_the_trail(admin("POST", "/admin/api/agents/edred/pin", {"pin": "97531"}))
    assert accounts.authenticate_agent_pin(people.store, "edred", "1234") is not None
    assert accounts.authenticate_agent_pin(people.store, "edred", "97531") is None


def test_agent_add_edit_and_disable_are_not_applied_when_the_trail_fails(admin, people):
    break_the_audit_trail(people)
    refused_for_the_trail(admin("POST", "/admin/api/agents", {"id": "newbie", "name": "New Bie"}))
    refused_for_the_trail(admin("PATCH", "/admin/api/agents/edred", {"name": "Ed R."}))
    refused_for_the_trail(admin("POST", "/admin/api/agents/maria/active", {"active": False}))
    agents = {a["id"]: a for a in accounts.list_agents(people.store)}
    assert set(agents) == {"edred", "maria"}
    assert agents["edred"]["name"] == "Edred" and agents["maria"]["active"] is True


def test_an_agent_import_is_not_applied_when_the_trail_fails(admin, people):
    break_the_audit_trail(people)
    csv_text = "id,name,extension\nnew1,New One,301\nnew2,New Two,302\n"
    refused_for_the_trail(admin("POST", "/admin/api/agents/import", {"csv": csv_text}))
    assert {a["id"] for a in accounts.list_agents(people.store)} == {"edred", "maria"}


def test_user_add_disable_and_password_reset_are_not_applied_when_the_trail_fails(admin, people):
    break_the_audit_trail(people)
    refused_for_the_trail(admin("POST", "/admin/api/users", {"username": "bob", "password": PASSWORD, "role": "admin"}))
    refused_for_the_trail(admin("POST", "/admin/api/users/sue/active", {"active": False}))
    refused_for_the_trail(admin("POST", "/admin/api/users/sue/password", {"password": "another-password"}))
    users = {u["username"]: u for u in accounts.list_users(people.store)}
    assert set(users) == {"ada", "sue"} and users["sue"]["active"] is True
    assert accounts.authenticate_user(people.store, "sue", PASSWORD) is not None


def test_a_configuration_is_not_applied_when_the_trail_fails(admin, people):
    config = admin("GET", "/admin/api/config").get_json()["config"]
    before = people.configs.active()
    config["name"] = "Renamed"
    break_the_audit_trail(people)
    refused_for_the_trail(admin("POST", "/admin/api/config", {"config": config}))
    assert people.configs.active().name == before.name
    assert len(people.configs.history()) == 1


def test_adapter_settings_are_not_saved_when_the_trail_fails(admin, people, monkeypatch):
    for name in ("WEBHOOK_URL", "WEBHOOK_TOKEN", "WEBHOOK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    break_the_audit_trail(people)
    res = admin(
        "POST",
        "/admin/api/adapters/webhook",
        {"enabled": False, "values": {"WEBHOOK_URL": "https://hooks.acme.example/p"}},
    )
    refused_for_the_trail(res)
    [webhook] = [a for a in admin("GET", "/admin/api/adapters").get_json()["adapters"] if a["name"] == "webhook"]
    assert webhook["changes"] == []
    assert not any(row.get("saved") for row in webhook["settings"])


def test_a_supervisors_forced_state_and_end_call_are_not_applied_when_the_trail_fails(people, app, api: Api):
    sue = signed_in_caller(app, "sue")
    agent = api.token("agent", "edred")
    assert api.call("POST", "/api/v1/agents/edred/login", agent).status_code == 200
    assert api.call("PUT", "/api/v1/agents/edred/presence", agent, json={"state": "ready"}).status_code == 200
    api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        api.token("integration"),
        json={"call_id": "c1", "event": "started", "direction": "inbound"},
    )
    on_call = people.service.presence("edred")
    break_the_audit_trail(people)

    refused_for_the_trail(sue("PUT", "/api/v1/agents/edred/presence", {"state": "break", "force": True}))
    refused_for_the_trail(sue("POST", "/api/v1/agents/edred/calls/end"))
    refused_for_the_trail(sue("POST", "/api/v1/agents/edred/logout", {}))

    now = people.service.presence("edred")
    assert on_call["on_call"] and now["on_call"] and now["logged_in"]
    assert now["state"] == on_call["state"] and now["next_state"] == on_call["next_state"]


def test_an_unlock_is_not_applied_when_the_trail_fails(admin, people):
    assert admin("POST", "/admin/api/lockouts/lock", {"account": "agent:edred"}).status_code == 200
    break_the_audit_trail(people)
    refused_for_the_trail(admin("POST", "/admin/api/lockouts/unlock", {"account": "agent:edred"}))
    assert [x["account"] for x in people.sign_in.locked_accounts()] == ["agent:edred"]


def test_a_command_line_token_is_not_created_when_the_trail_fails(make_app, monkeypatch, tmp_path, database_url):
    parts = Api(make_app(), None).parts
    break_the_audit_trail(parts)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", "test-secret")
    result = CliRunner().invoke(main, ["tokens", "create", "--role", "integration"])
    assert result.exit_code != 0
    assert "audit trail could not be written" in result.output
    assert accounts.list_tokens(parts.store) == []
