"""The admin pages' endpoints: presence config editor, users, agents and tokens (test client)."""

from __future__ import annotations

import pytest
import yaml

from connector.auth import accounts
from connector.presence.config import load_preset
from tests.helpers.signin import PASSWORD, pin_sign_in, sign_in


@pytest.fixture
def admin(client, parts, api):
    api.agent("edred", pin="1234")
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    token = sign_in(client, "ada")

    def call(method: str, path: str, json=None):
        return client.open(path, method=method, json=json, headers={"X-CSRF-Token": token})

    return call


def test_editor_refuses_a_bad_reason_code_with_the_config_validate_problem_and_keeps_the_config(admin, parts):
    before = parts.configs.history(1)[0]["version"]
    config = load_preset("default").to_dict()
    config["states"][0]["reason_code"] = "*60abc"
    for path in ("/admin/api/config/validate", "/admin/api/config"):
        res = admin("POST", path, {"config": config})
        assert res.status_code == 422
        problems = res.get_json()["error"]["problems"]
        assert problems == [
            {
                "file": "admin editor",
                "state": "ready",
                "field": "reason_code",
                "why": "'*60abc' may contain only dial characters 0-9 * # + , "
                "and the placeholders {extension} and {pin}",
            }
        ]
    assert parts.configs.history(1)[0]["version"] == before


def test_saving_applies_a_new_version_recorded_with_who_and_takes_effect_at_once(admin, parts, api):
    config = load_preset("default").to_dict()
    config["states"].append({"id": "coaching", "label": "Coaching", "status": 5, "colour": "#00838f"})
    res = admin("POST", "/admin/api/config", {"config": config})
    assert res.status_code == 200
    newest = parts.configs.history(1)[0]
    assert (newest["version"], newest["created_by"], newest["origin"]) == (res.get_json()["version"], "ada", "admin")
    states = api.call("GET", "/api/v1/presence-states", api.token("agent", "edred")).get_json()["states"]
    assert "Coaching (Busy)" in [s["display"] for s in states]


def test_import_of_a_preset_or_yaml_fills_the_editor_without_applying(admin, parts):
    before = parts.configs.history(1)[0]["version"]
    res = admin("POST", "/admin/api/config/import", {"preset": "avaya_ip_office"})
    assert res.get_json()["config"]["options"]["login_code"] == "*35*{extension}*{pin}#"
    bad = admin(
        "POST", "/admin/api/config/import", {"yaml": "states: [{id: x, label: X, status: 9}]", "filename": "mine.yaml"}
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["problems"][0]["file"] == "mine.yaml"
    unknown = admin("POST", "/admin/api/config/import", {"preset": "nope"})
    assert unknown.status_code == 422
    assert parts.configs.history(1)[0]["version"] == before


def test_export_downloads_the_active_config_as_yaml(admin):
    res = admin("GET", "/admin/config.yaml")
    assert res.headers["Content-Disposition"] == "attachment; filename=default.yaml"
    assert yaml.safe_load(res.get_data(as_text=True))["states"][0]["id"] == "ready"


def test_admin_creates_a_user_and_an_agent_and_resets_a_pin(admin, parts):
    assert (
        admin("POST", "/admin/api/users", {"username": "sue", "password": PASSWORD, "role": "supervisor"}).status_code
        == 201
    )
    assert accounts.authenticate_user(parts.store, "sue", PASSWORD).role == "supervisor"
    short = admin("POST", "/admin/api/users", {"username": "bob", "password": "short", "role": "agent"})
    assert short.status_code == 422 and short.get_json()["error"]["field"] == "password"
    assert admin("POST", "/admin/api/agents", {"id": "maria", "name": "Maria", "pin": "4321"}).status_code == 201
    assert accounts.authenticate_agent_pin(parts.store, "maria", "4321") is not None
    bad_pin = admin("POST", "/admin/api/agents/maria/pin", {"pin": "12"})
    assert bad_pin.status_code == 422 and bad_pin.get_json()["error"]["field"] == "pin"
    assert admin("POST", "/admin/api/agents/maria/pin", {"pin": "98765"}).status_code == 200
    assert accounts.authenticate_agent_pin(parts.store, "maria", "4321") is None
    assert accounts.authenticate_agent_pin(parts.store, "maria", "98765") is not None
    listing = admin("GET", "/admin/api/accounts").get_data(as_text=True)
    assert "98765" not in listing and "pin_hash" not in listing and "password" not in listing


def test_a_disabled_agent_cannot_sign_in_and_leaves_the_live_views(admin, parts, app):
    assert admin("POST", "/admin/api/agents/edred/active", {"active": False}).status_code == 200
    assert accounts.authenticate_agent_pin(parts.store, "edred", "1234") is None
    assert [a["id"] for a in parts.service.agents()] == []
    admin("POST", "/admin/api/agents/edred/active", {"active": True})
    pin_sign_in(app.test_client(), "edred")


def test_an_admin_cannot_disable_their_own_account(admin):
    res = admin("POST", "/admin/api/users/ada/active", {"active": False})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "username"


def test_a_token_is_shown_once_and_stops_working_when_revoked(admin, api):
    res = admin("POST", "/admin/api/tokens", {"name": "pbx", "role": "integration"})
    token = res.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.call("GET", "/api/v1/agents", headers).status_code == 200
    listed = admin("GET", "/admin/api/accounts").get_json()["tokens"]
    assert token not in str(listed)
    assert admin("POST", f"/admin/api/tokens/{listed[0]['id']}/revoke", {}).status_code == 200
    assert api.call("GET", "/api/v1/agents", headers).status_code == 401
    assert admin("POST", "/admin/api/tokens/999/revoke", {}).status_code == 404


def test_admin_edits_an_agents_details_and_the_change_is_logged_with_who(admin, parts, caplog):
    caplog.set_level("INFO", logger="connector.auth.accounts")
    res = admin(
        "PATCH",
        "/admin/api/agents/edred",
        {
            "name": "Edred Jones",
            "team": "Retention",
            "extension": "2001",
            "email": "edred@acme.example",
            "salesforce_user_id": "005Hs00000ABCDE",
        },
    )
    assert res.status_code == 200
    listed = {a["id"]: a for a in admin("GET", "/admin/api/accounts").get_json()["agents"]}["edred"]
    assert (listed["name"], listed["team"], listed["extension"], listed["email"], listed["salesforce_user_id"]) == (
        "Edred Jones",
        "Retention",
        "2001",
        "edred@acme.example",
        "005Hs00000ABCDE",
    )
    assert "agent edred edited by ada: name, team, extension, email, salesforce_user_id" in caplog.text


@pytest.mark.parametrize(
    "body, field",
    [
        ({"salesforce_user_id": "not-a-user"}, "salesforce_user_id"),
        ({"extension": "12ab"}, "extension"),
        ({"email": "nobody"}, "email"),
        ({"name": ""}, "name"),
        ({"pin": "9999"}, "pin"),  # the PIN has its own reset
        ({"id": "someone-else"}, "id"),  # the id is the key
    ],
)
def test_a_bad_agent_edit_is_refused_naming_the_field_and_changes_nothing(admin, body, field):
    before = admin("GET", "/admin/api/accounts").get_json()["agents"]
    res = admin("PATCH", "/admin/api/agents/edred", {"team": "Changed", **body})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == field
    assert admin("GET", "/admin/api/accounts").get_json()["agents"] == before


def test_editing_an_unknown_agent_is_a_404(admin):
    res = admin("PATCH", "/admin/api/agents/nobody", {"team": "Sales"})
    assert res.status_code == 404 and res.get_json()["error"]["field"] == "agent_id"


def test_the_editor_is_told_which_preset_is_active(admin, parts):
    assert admin("GET", "/admin/api/config").get_json()["active_preset"] == "default"
    custom = load_preset("asterisk").to_dict()
    custom["name"] = "Our own"
    assert admin("POST", "/admin/api/config", {"config": custom}).status_code == 200
    assert admin("GET", "/admin/api/config").get_json()["active_preset"] is None
