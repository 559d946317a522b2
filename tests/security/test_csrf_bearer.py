"""Only a valid bearer token lifts the CSRF check, and cookie and bearer never mix."""

from __future__ import annotations

from connector.auth import accounts
from tests.helpers.signin import sign_in


def test_a_garbage_bearer_header_does_not_lift_the_csrf_check_on_admin_endpoints(client, people):
    sign_in(client, "ada")  # the admin's cookie is in the browser
    headers = {"Authorization": "Bearer garbage"}
    user = client.post(
        "/admin/api/users", json={"username": "mallory", "password": "x" * 12, "role": "admin"}, headers=headers
    )
    token = client.post("/admin/api/tokens", json={"role": "admin", "name": "evil"}, headers=headers)
    assert user.status_code == 401 and token.status_code == 401
    assert [u["username"] for u in accounts.list_users(people.store)] == ["ada", "sue"]
    assert accounts.list_tokens(people.store) == []


def test_a_valid_bearer_token_authenticates_alone_the_cookie_is_not_used(client, people, api):
    sign_in(client, "ada")
    agent = api.token("agent", "edred")
    res = client.post("/admin/api/tokens", json={"role": "admin", "name": "evil"}, headers=agent)
    assert res.status_code == 401  # the admin's cookie does not count alongside a token
    assert accounts.list_tokens(people.store)[0]["role"] == "agent"  # only the test's own token
    other = client.put("/api/v1/agents/maria/presence", json={"state": "ready"}, headers=agent)
    assert other.status_code == 403  # the token's identity (agent edred), not the admin cookie's
    own = client.post("/api/v1/agents/edred/login", json={}, headers=agent)
    assert own.status_code == 200  # a valid token needs no CSRF token
