"""Security and behaviour of the page routes, through the Flask test client (no browser)."""

from __future__ import annotations

import re

from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.signin import PASSWORD, csrf, pin_sign_in, sign_in


def test_cookie_api_call_without_csrf_token_is_refused_and_changes_nothing(client, people):
    token = pin_sign_in(client, "edred")
    refused = client.post("/api/v1/agents/edred/login", json={})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "csrf"
    assert people.service.presence("edred")["logged_in"] is False
    wrong = client.post("/api/v1/agents/edred/login", json={}, headers={"X-CSRF-Token": token + "x"})
    assert wrong.status_code == 403
    basic = client.post("/api/v1/agents/edred/login", json={}, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 403  # only a bearer token exempts a call from the CSRF check
    ok = client.post("/api/v1/agents/edred/login", json={}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.get_json()["logged_in"] is True


def test_sign_in_form_without_csrf_token_is_refused(client, people):
    client.get("/auth/login")
    res = client.post("/auth/login", data={"username": "sue", "password": PASSWORD})
    assert res.status_code == 403
    assert "CSRF" in res.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302  # still not signed in


def test_bearer_token_api_calls_need_no_csrf_token(client, api, people):
    res = api.call("POST", "/api/v1/agents/edred/login", api.token("integration"), json={})
    assert res.status_code == 200


def test_a_bearer_call_from_a_signed_in_browser_neither_uses_nor_touches_its_page_session(client, api, people):
    token = csrf(client)
    client.post("/auth/login", data={"username": "sue", "password": PASSWORD, "csrf_token": token})
    assert client.get("/dashboard").status_code == 200
    bad = client.put(
        "/api/v1/agents/edred/presence", json={"state": "dnd"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert bad.status_code == 401  # the cookie does not stand in for a wrong token
    res = client.post("/api/v1/agents/edred/login", json={}, headers=api.token("integration"))
    assert res.status_code == 200
    assert not res.headers.getlist("Set-Cookie") and not bad.headers.getlist("Set-Cookie")
    assert client.get("/dashboard").status_code == 200  # still signed in


def test_admin_json_endpoints_refuse_a_missing_csrf_token(client, people):
    sign_in(client, "ada")
    res = client.post("/admin/api/agents", json={"id": "mallory"})
    assert res.status_code == 403
    assert all(a["id"] != "mallory" for a in accounts.list_agents(people.store))


def test_an_agent_gets_a_403_page_for_admin_dashboard_and_another_agents_softphone(client, people):
    pin_sign_in(client, "edred")
    for path in ("/admin", "/dashboard", "/dashboard/wallboard", "/softphone?agent=maria", "/admin/config.yaml"):
        res = client.get(path)
        assert res.status_code == 403, path
        assert "Not allowed" in res.get_data(as_text=True)
    assert client.get("/softphone").status_code == 200
    assert client.get("/admin/api/config").status_code == 403


def test_a_supervisor_sees_the_dashboard_but_not_admin(client, people):
    sign_in(client, "sue")
    assert client.get("/softphone").status_code == 400  # no agent of their own: must name one
    assert client.get("/softphone?agent=maria").status_code == 200
    assert client.get("/dashboard").status_code == 200
    assert client.get("/dashboard/wallboard").status_code == 200
    assert client.get("/admin").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, people):
    assert client.get("/softphone?sfdcIframeOrigin=x").headers["Location"].startswith("/auth/agent?next=/softphone")
    assert client.get("/dashboard").headers["Location"] == "/auth/login?next=/dashboard"
    assert client.get("/admin/api/config").status_code == 401


def test_wrong_password_and_pin_are_refused_without_echoing_them(client, people):
    token = csrf(client)
    res = client.post("/auth/login", data={"username": "sue", "password": "wrong-pass-99", "csrf_token": token})
    assert res.status_code == 401 and "wrong-pass-99" not in res.get_data(as_text=True)
    token = csrf(client, "/auth/agent")
    res = client.post("/auth/agent", data={"agent_id": "edred", "pin": "9999", "csrf_token": token})
    assert res.status_code == 401 and "9999" not in res.get_data(as_text=True)


def test_sign_in_redirects_only_to_local_paths(client, people):
    token = csrf(client)
    res = client.post(
        "/auth/login",
        data={"username": "sue", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/steal"},
    )
    assert res.headers["Location"] == "/dashboard"


def test_csp_limits_frame_ancestors_to_the_configured_salesforce_domains(make_app):
    app = make_app(CONNECTOR_FRAME_ANCESTORS="https://acme.lightning.force.com https://*.my.salesforce.com")
    csp = app.test_client().get("/auth/agent").headers["Content-Security-Policy"]
    assert "frame-ancestors https://acme.lightning.force.com https://*.my.salesforce.com" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_csp_frame_ancestors_is_self_when_nothing_is_configured(client):
    assert "frame-ancestors 'self'" in client.get("/auth/login").headers["Content-Security-Policy"]


def test_embedded_softphone_may_load_open_cti_only_from_an_allowed_origin(make_app):
    app = make_app(CONNECTOR_FRAME_ANCESTORS="https://*.lightning.force.com")
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "pin": "1234"}, parts.clock())
    client = app.test_client()
    pin_sign_in(client, "edred")
    allowed = client.get("/softphone?sfdcIframeOrigin=https://acme.lightning.force.com&mode=Lightning")
    assert "script-src 'self' https://acme.lightning.force.com;" in allowed.headers["Content-Security-Policy"]
    assert 'data-sf-origin="https://acme.lightning.force.com"' in allowed.get_data(as_text=True)
    other = client.get("/softphone?sfdcIframeOrigin=https://evil.example.com")
    assert "evil" not in other.headers["Content-Security-Policy"]
    assert 'data-sf-origin=""' in other.get_data(as_text=True)


def _session_cookie(res) -> str:
    return next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_session_cookie_is_httponly_and_lax_over_http(client, people):
    token = csrf(client)
    res = client.post("/auth/login", data={"username": "sue", "password": PASSWORD, "csrf_token": token})
    cookie = _session_cookie(res)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_embedded_softphone_cookie_is_samesite_none_and_secure_over_https(client, people):
    base = "https://connector.example"
    html = client.get(
        "/auth/agent?next=/softphone%3FsfdcIframeOrigin%3Dhttps://acme.lightning.force.com", base_url=base
    ).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    res = client.post(
        "/auth/agent",
        base_url=base,
        data={
            "agent_id": "edred",
            "pin": "1234",
            "csrf_token": token,
            "next": "/softphone?sfdcIframeOrigin=https://acme.lightning.force.com",
        },
    )
    cookie = _session_cookie(res)
    assert "Secure" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie and "Partitioned" in cookie


def test_standalone_sign_in_over_https_keeps_samesite_lax(client, people):
    base = "https://connector.example"
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/auth/login", base_url=base).get_data(as_text=True)
    ).group(1)
    res = client.post("/auth/login", base_url=base, data={"username": "sue", "password": PASSWORD, "csrf_token": token})
    cookie = _session_cookie(res)
    assert "Secure" in cookie and "SameSite=Lax" in cookie and "Partitioned" not in cookie


def test_disabling_a_user_ends_their_web_session(client, people):
    sign_in(client, "sue")
    assert client.get("/dashboard").status_code == 200
    accounts.set_user_active(people.store, "sue", False)
    assert client.get("/dashboard").status_code == 302
    assert client.get("/api/v1/agents").status_code == 401


def test_supervisor_change_through_the_page_session_is_recorded_as_supervisor(client, people, api):
    api.call("POST", "/api/v1/agents/edred/login", api.token("integration"), json={})
    token = sign_in(client, "sue")
    res = client.post("/api/v1/agents/edred/logout", json={}, headers={"X-CSRF-Token": token})
    assert res.status_code == 200
    events = client.get("/api/v1/logon-events").get_json()["events"]
    assert events[-1]["logon_source"] == "Supervisor" and events[-1]["actor"] == "sue"


def test_counters_for_every_agent_of_a_day(client, api, people):
    token = api.token("integration")
    api.call("POST", "/api/v1/agents/edred/login", token, json={})
    api.call(
        "POST", "/api/v1/agents/edred/calls", token, json={"call_id": "1", "event": "started", "direction": "inbound"}
    )
    api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        token,
        json={"call_id": "1", "event": "ended", "direction": "inbound", "duration_seconds": 40},
    )
    res = api.call("GET", "/api/v1/counters", api.token("supervisor"))
    body = res.get_json()
    assert body["date"] == "2026-03-06"
    assert body["counters"]["edred"]["calls_inbound_answered"] == 1
    assert body["counters"]["edred"]["logins"] == 1
    assert api.call("GET", "/api/v1/counters?date=2026-13-01", api.token("supervisor")).status_code == 422
    assert api.call("GET", "/api/v1/counters", api.token("agent", "edred")).status_code == 403
    assert "/api/v1/counters" in client.get("/api/v1/openapi.json").get_json()["paths"]


def test_state_mix_splits_the_day_into_hours_per_state_for_a_team(client, api, people, clock):
    token = api.token("integration")
    clock.advance(minutes=30)  # 09:30
    api.call("POST", "/api/v1/agents/edred/login", token, json={})
    api.call("POST", "/api/v1/agents/maria/login", token, json={})
    clock.advance(minutes=45)  # 10:15
    api.call("PUT", "/api/v1/agents/edred/presence", token, json={"state": "break"})
    clock.advance(minutes=20)  # 10:35, break still open
    supervisor = api.token("supervisor")
    sales = api.call("GET", "/api/v1/state-mix?team=Sales", supervisor).get_json()
    hours = {h["label"]: h["seconds"] for h in sales["hours"]}
    assert len(sales["hours"]) == 24
    assert hours["09:00"] == {"ready": 1800}
    assert hours["10:00"] == {"ready": 900, "break": 1200}
    assert hours["11:00"] == {}
    everyone = {h["label"]: h["seconds"] for h in api.call("GET", "/api/v1/state-mix", supervisor).get_json()["hours"]}
    assert everyone["10:00"] == {"ready": 900 + 2100, "break": 1200}
    assert api.call("GET", "/api/v1/state-mix?date=yesterday", supervisor).status_code == 422
    assert api.call("GET", "/api/v1/state-mix", api.token("agent", "edred")).status_code == 403


def test_disabling_an_agent_ends_the_softphone_session(client, people):
    pin_sign_in(client, "edred")
    assert client.get("/softphone").status_code == 200
    accounts.set_agent_active(people.store, "edred", False)
    assert client.get("/softphone").headers["Location"].startswith("/auth/agent")


def test_signing_out_needs_the_csrf_token(client, people):
    token = sign_in(client, "sue")
    assert client.post("/auth/logout").status_code == 403
    assert client.get("/dashboard").status_code == 200
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302
