"""A page session ends for real on sign-out, PIN reset, password change, disable,
idleness and age; a replayed cookie is worth nothing afterwards."""

from __future__ import annotations

from connector.auth import accounts
from tests.helpers.signin import pin_sign_in, sign_in


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_replayed_after_sign_out_is_refused(client, people):
    token = sign_in(client, "ada")
    saved = _cookie(client)
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", saved)  # the attacker kept a copy
    listed = client.get("/admin/api/accounts")
    assert listed.status_code == 401
    made = client.post("/admin/api/tokens", json={"role": "admin", "name": "x"}, headers={"X-CSRF-Token": token})
    assert made.status_code in (401, 403)
    assert accounts.list_tokens(people.store) == []


def test_a_pin_reset_ends_the_agents_sessions(client, people):
    pin_sign_in(client, "edred")
    assert client.get("/api/v1/agents/edred/presence").status_code == 200
    accounts.reset_pin(people.store, "edred", "4321")
    assert client.get("/api/v1/agents/edred/presence").status_code == 401


def test_a_password_change_ends_the_users_sessions(client, people, app):
    sign_in(client, "sue")
    assert client.get("/api/v1/agents").status_code == 200
    admin = app.test_client()
    token = sign_in(admin, "ada")
    res = admin.post(
        "/admin/api/users/sue/password", json={"password": "another-horse-2"}, headers={"X-CSRF-Token": token}
    )
    assert res.status_code == 200
    assert client.get("/api/v1/agents").status_code == 401
    assert admin.get("/admin/api/accounts").status_code == 200  # the admin's own session is untouched


def test_disabling_an_agent_ends_its_session(client, people):
    pin_sign_in(client, "edred")
    accounts.set_agent_active(people.store, "edred", False)
    accounts.set_agent_active(people.store, "edred", True)  # enabling again does not revive the old session
    assert client.get("/api/v1/agents/edred/presence").status_code == 401


def test_idle_sessions_end_after_12_hours_for_agents_and_8_for_admins(client, people, app, clock):
    pin_sign_in(client, "edred")
    admin = app.test_client()
    sign_in(admin, "ada")
    clock.advance(hours=7, minutes=59)
    assert client.get("/api/v1/agents/edred/presence").status_code == 200
    assert admin.get("/admin/api/accounts").status_code == 200
    clock.advance(hours=8, minutes=1)
    assert admin.get("/admin/api/accounts").status_code == 401
    assert client.get("/api/v1/agents/edred/presence").status_code == 200  # used 8 h ago: not idle yet
    clock.advance(hours=12, minutes=1)
    assert client.get("/api/v1/agents/edred/presence").status_code == 401


def test_lifetimes_are_configurable_and_the_absolute_one_ends_busy_sessions(make_app, clock):
    app = make_app(CONNECTOR_SESSION_IDLE_HOURS="1", CONNECTOR_SESSION_MAX_HOURS="2")
    client = app.test_client()
    from connector.parts import get_parts

    accounts.add_agent(get_parts(app).store, {"id": "edred", "name": "Edred", "pin": "1234"}, clock())
    pin_sign_in(client, "edred")
    for _ in range(4):  # busy all along: never idle
        clock.advance(minutes=29)
        assert client.get("/api/v1/agents/edred/presence").status_code == 200
    clock.advance(minutes=5)  # 2 h 1 min after sign-in
    assert client.get("/api/v1/agents/edred/presence").status_code == 401
