"""What a process caches (token -> principal, the active configuration) never outlives a change.

Two app instances share one store, as several `serve` processes share one database: a token
revoked, an agent disabled or a configuration applied through one is honoured by the other on its
very next request, although the other has the old answer cached.
"""

from __future__ import annotations

from connector.auth import accounts
from connector.parts import get_parts
from connector.presence.config import load_config, parse_config
from tests.helpers.api import Api


def two_instances(make_app):
    first, second = make_app(), make_app()
    return Api(first, first.test_client()), Api(second, second.test_client())


def test_a_token_revoked_on_another_instance_is_refused_at_once(make_app):
    one, other = two_instances(make_app)
    one.agent("ada")
    headers = one.token("integration")
    assert other.call("GET", "/api/v1/agents", headers).status_code == 200  # cached on `other` now
    token_id = accounts.list_tokens(one.parts.store)[0]["id"]
    accounts.revoke_token(one.parts.store, token_id, one.parts.clock())
    res = other.call("GET", "/api/v1/agents", headers)
    assert res.status_code == 401 and res.get_json()["error"]["field"] == "Authorization"
    # another token, created after the revocation, still works on both
    fresh = one.token("integration")
    assert other.call("GET", "/api/v1/agents", fresh).status_code == 200


def test_an_agent_disabled_on_another_instance_cannot_change_state(make_app):
    one, other = two_instances(make_app)
    one.agent("ada")
    headers = one.token("supervisor")
    assert other.call("POST", "/api/v1/agents/ada/login", headers).status_code == 200
    assert other.call("PUT", "/api/v1/agents/ada/presence", headers, json={"state": "dnd"}).status_code == 200
    accounts.set_agent_active(one.parts.store, "ada", False)
    res = other.call("PUT", "/api/v1/agents/ada/presence", headers, json={"state": "ready"})
    assert res.status_code == 404 and res.get_json()["error"]["field"] == "agent_id"


def test_a_configuration_applied_on_another_instance_decides_the_next_change(make_app):
    one, other = two_instances(make_app)
    one.agent("ada")
    headers = one.token("supervisor")
    assert other.call("POST", "/api/v1/agents/ada/login", headers).status_code == 200
    assert other.call("PUT", "/api/v1/agents/ada/presence", headers, json={"state": "dnd"}).status_code == 200
    config = load_config("default")
    trimmed = config.to_yaml().replace("label: Do Not Disturb", "label: Quiet Please")
    get_parts(one.app).configs.apply(parse_config(trimmed, source="test"), created_by="test", origin="test")
    res = other.call("PUT", "/api/v1/agents/ada/presence", headers, json={"state": "Quiet Please"})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["state"]["label"] == "Quiet Please"
