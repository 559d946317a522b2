"""The Omni-Channel component's way in without Open CTI: stream tokens and CORS."""

from __future__ import annotations

import pytest

from connector.auth import accounts
from connector.auth.cors import origin_allowed, parse_origin_patterns
from connector.errors import InvalidInput
from connector.parts import get_parts
from tests.helpers.api import Api

CONSOLE = "https://acme.lightning.force.com"
TOKENS = "/api/v1/omni-channel/stream-tokens"


@pytest.fixture
def bridge(make_app):
    app = make_app(
        CONNECTOR_CORS_ORIGINS="https://*.lightning.force.com https://acme.my.salesforce.com",
        CONNECTOR_STREAM_TOKEN_SECONDS="120",
    )
    api = Api(app, app.test_client())
    api.agent("edred", salesforce_user_id="005000000000001AAA")
    api.agent("ann", salesforce_user_id="005000000000002")
    return app, api


def issue(api, user_id="005000000000001AAA", role="integration"):
    return api.call("POST", TOKENS, api.token(role), {"salesforce_user_id": user_id})


def _stream_status(api, headers) -> int:
    reply = api.client.get("/api/v1/events", headers=headers, buffered=False)
    reply.close()
    return reply.status_code


def test_a_stream_token_opens_its_agents_stream_only_until_it_expires(bridge):
    app, api = bridge
    reply = issue(api, "005000000000001")  # 15 characters match the agent's 18
    data = reply.get_json()
    assert reply.status_code == 200 and data["agent_id"] == "edred" and data["token"].startswith("pcs1.")
    assert data["events_url"] == "http://localhost/api/v1/events"
    assert data["report_url"] == "http://localhost/api/v1/agents/edred/omni-channel"
    assert data["expires_at"] == "2026-03-06T09:02:00Z" and data["expires_in"] == 120
    bearer = {"Authorization": f"Bearer {data['token']}"}
    assert _stream_status(api, bearer) == 200
    assert api.call("GET", "/api/v1/agents/edred/presence", bearer).status_code == 403  # not an agent credential
    assert api.call("GET", "/api/v1/logon-events", bearer).status_code == 403
    assert api.call("POST", TOKENS, bearer, {"salesforce_user_id": "005000000000002"}).status_code == 403
    get_parts(app).clock.advance(seconds=120)
    expired = api.client.get("/api/v1/events", headers=bearer)
    assert expired.status_code == 401 and expired.get_json()["error"]["field"] == "Authorization"
    assert data["token"] not in expired.get_data(as_text=True)


def test_a_stream_token_stops_working_when_its_agent_is_disabled_or_it_is_forged(bridge):
    app, api = bridge
    token = issue(api, "005000000000002AAA").get_json()["token"]
    body, signature = token.rsplit(".", 1)
    forged = {"Authorization": f"Bearer {body}.{signature[::-1]}"}
    assert api.client.get("/api/v1/events", headers=forged).status_code == 401
    accounts.set_agent_active(get_parts(app).store, "ann", False)
    assert api.client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_stream_tokens_are_refused_for_unknown_users_and_for_roles_other_than_integration_and_admin(bridge):
    app, api = bridge
    for user_id, status, field in (
        ("005000000000009AAA", 404, "salesforce_user_id"),
        ("005-bad", 422, "salesforce_user_id"),
        (None, 422, "salesforce_user_id"),
    ):
        reply = issue(api, user_id)
        assert (reply.status_code, reply.get_json()["error"]["field"]) == (status, field)
    assert "salesforce_user_id" in issue(api, "005000000000009").get_json()["error"]["message"]
    assert issue(api, role="admin").status_code == 200
    assert issue(api, role="supervisor").status_code == 403
    api.agent("twin", salesforce_user_id="005000000000001")
    assert issue(api).status_code == 409


def test_the_event_stream_takes_a_stream_token_in_the_query_and_nowhere_else(bridge):
    app, api = bridge
    token = issue(api).get_json()["token"]
    stream = api.client.get(f"/api/v1/events?stream_token={token}", buffered=False)
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    first = b""
    for chunk in stream.response:
        first += chunk
        if b"snapshot" in first:
            break
    stream.close()
    assert b'"id":"edred"' in first and b'"ann"' not in first
    assert api.client.get(f"/api/v1/events?stream_token={token[:-2]}xx").status_code == 401
    assert api.client.get(f"/api/v1/agents/edred/presence?stream_token={token}").status_code == 401


def test_cors_answers_the_console_origin_for_the_stream_and_the_omni_reports_only(bridge):
    app, api = bridge
    preflight = api.client.options(
        "/api/v1/agents/edred/omni-channel",
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    token = issue(api).get_json()["token"]
    reply = api.call(
        "POST",
        "/api/v1/agents/edred/omni-channel",
        {"Authorization": f"Bearer {token}", "Origin": CONSOLE},
        {"event": "typing"},
    )
    # the adapter is not enabled here: the component can still read why (the answer carries the CORS header)
    assert reply.status_code == 404 and reply.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "not enabled" in reply.get_json()["error"]["message"]
    for origin in (
        "https://evil.example",
        "https://lightning.force.com.evil.example",
        "http://acme.lightning.force.com",
    ):
        refused = api.client.options(
            "/api/v1/events", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
        )
        assert "Access-Control-Allow-Origin" not in refused.headers, origin
    other = api.client.options(
        "/api/v1/agents/edred/presence", headers={"Origin": CONSOLE, "Access-Control-Request-Method": "PUT"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    adapter_route = api.client.options(
        "/api/v1/adapters/omni-channel/agents/edred/events",
        headers={"Origin": CONSOLE, "Access-Control-Request-Method": "POST"},
    )
    assert adapter_route.headers["Access-Control-Allow-Origin"] == CONSOLE


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("https://acme.lightning.force.com", True),
        ("https://acme--uat.sandbox.lightning.force.com", True),
        ("https://ACME.Lightning.Force.com", True),
        ("https://lightning.force.com", False),
        ("https://acme.lightning.force.com:8443", False),
        ("http://acme.lightning.force.com", False),
        ("https://evil.com/x.lightning.force.com", False),
        ("https://acme.lightning.force.com.evil.com", False),
        ("https://acmelightning.force.com", False),
        ("https://acme.my.salesforce.com", True),
        ("https://other.my.salesforce.com", False),
        ("null", False),
        ("", False),
    ],
)
def test_origin_patterns_match_on_the_parsed_host(origin, allowed):
    patterns = parse_origin_patterns("https://*.lightning.force.com https://acme.my.salesforce.com", "X")
    assert origin_allowed(origin, patterns) is allowed


@pytest.mark.parametrize(
    "setting",
    [
        "https://*",
        "https://a.*.force.com",
        "https://acme.example/path",
        "ftp://acme.example",
        "acme.example",
        "https://*evil.example",
    ],
)
def test_bad_origin_settings_are_refused_at_start_naming_the_variable(make_app, setting):
    with pytest.raises(InvalidInput) as refused:
        make_app(CONNECTOR_CORS_ORIGINS=setting)
    assert refused.value.field == "CONNECTOR_CORS_ORIGINS" and setting in refused.value.message


@pytest.mark.parametrize("value", ["abc", "59", "86401"])
def test_bad_stream_token_lifetimes_are_refused_at_start(make_app, value):
    with pytest.raises(InvalidInput) as refused:
        make_app(CONNECTOR_STREAM_TOKEN_SECONDS=value)
    assert refused.value.field == "CONNECTOR_STREAM_TOKEN_SECONDS"


# -- the admin page's list of the org's Omni-Channel statuses ----------------------------------------


def test_the_admin_mapping_offers_the_orgs_omni_statuses_read_once_by_soql(make_app):
    import responses

    from tests.helpers.fakes.salesforce import DATA_URL, SF_ENV, FakeOrg
    from tests.helpers.signin import PASSWORD, sign_in

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeOrg(rsps)
        rsps.get(
            DATA_URL + "/query/",
            json={
                "done": True,
                "totalSize": 2,
                "records": [
                    {"Id": "0N5000000000001AAA", "DeveloperName": "Available", "MasterLabel": "Available"},
                    {"Id": "0N5000000000003AAA", "DeveloperName": "Break", "MasterLabel": "On break"},
                ],
            },
        )
        app = make_app(**SF_ENV)
        accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", get_parts(app).clock())
        client = app.test_client()
        sign_in(client, "ada")
        first = client.get("/admin/api/omni-channel/statuses").get_json()
        again = client.get("/admin/api/omni-channel/statuses").get_json()
        queries = [c.request for c in rsps.calls if "/query" in c.request.url]
    assert (
        first
        == again
        == {
            "configured": True,
            "error": None,
            "statuses": [
                {"id": "0N5000000000001AAA", "developer_name": "Available", "label": "Available"},
                {"id": "0N5000000000003AAA", "developer_name": "Break", "label": "On break"},
            ],
        }
    )
    assert len(queries) == 1 and "FROM+ServicePresenceStatus" in queries[0].url  # cached


def test_without_salesforce_the_admin_mapping_stays_free_text_and_only_admins_may_ask(make_app):
    from tests.helpers.signin import PASSWORD, sign_in

    app = make_app()
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", get_parts(app).clock())
    accounts.add_user(get_parts(app).store, "sue", PASSWORD, "supervisor", get_parts(app).clock())
    client = app.test_client()
    assert client.get("/admin/api/omni-channel/statuses").status_code == 401
    sign_in(client, "sue")
    assert client.get("/admin/api/omni-channel/statuses").status_code == 403
    admin = app.test_client()
    sign_in(admin, "ada")
    assert admin.get("/admin/api/omni-channel/statuses").get_json() == {
        "configured": False,
        "statuses": [],
        "error": None,
    }
