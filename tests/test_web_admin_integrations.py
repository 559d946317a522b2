"""The admin page's Salesforce and Adapters tabs (test client; Salesforce and Microsoft faked with responses)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import responses

from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.fakes.salesforce import SF_ENV, FakeOrg, add_totals
from tests.helpers.fakes.salesforce import TOKEN_URL as SF_TOKEN_URL
from tests.helpers.signin import PASSWORD, pin_sign_in, sign_in

TEAMS_SECRET = "teams-client-secret-xyz-987"
TEAMS_TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
SECRETS = (SF_ENV["SF_CLIENT_SECRET"], TEAMS_SECRET, "sf-password-456")
ENV = {
    **SF_ENV,
    "SF_USERNAME": "integration@acme.example",
    "SF_PASSWORD": "sf-password-456",
    "CONNECTOR_ADAPTERS": "teams",
}
#: adapters read their prefixed settings from the process environment (only CONNECTOR_* and SF_* can be overrides)
TEAMS_ENV = {
    "TEAMS_TENANT_ID": "tenant-1",
    "TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "TEAMS_CLIENT_SECRET": TEAMS_SECRET,
}
PAGES = ("/admin", "/admin/api/salesforce", "/admin/api/adapters")


@pytest.fixture
def site(make_app, monkeypatch):
    for name, value in TEAMS_ENV.items():
        monkeypatch.setenv(name, value)
    app = make_app(**ENV)
    parts = get_parts(app)
    now = parts.clock()
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", now)
    accounts.add_user(parts.store, "sue", PASSWORD, "supervisor", now)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "pin": "1234"}, now)
    return app


@pytest.fixture
def admin(site):
    client = site.test_client()
    token = sign_in(client, "ada")

    def call(method: str, path: str, json=None, csrf: bool = True):
        return client.open(path, method=method, json=json, headers={"X-CSRF-Token": token} if csrf else {})

    return call


def assert_no_secret(body: str) -> None:
    for secret in SECRETS:
        assert secret not in body


@pytest.mark.parametrize("who", ["supervisor", "agent"])
def test_agents_and_supervisors_get_403_on_the_integration_tabs_and_actions(site, who):
    client = site.test_client()
    token = sign_in(client, "sue") if who == "supervisor" else pin_sign_in(client, "edred")
    for path in (*PAGES, "/admin/callcenter.xml?url=https://x.example/softphone"):
        assert client.get(path).status_code == 403, path
    for path in ("/admin/api/salesforce/sync", "/admin/api/adapters/teams/test"):
        assert client.post(path, json={}, headers={"X-CSRF-Token": token}).status_code == 403, path


def test_no_secret_appears_in_the_admin_page_or_its_json(admin):
    for path in PAGES:
        res = admin("GET", path)
        assert res.status_code == 200
        assert_no_secret(res.get_data(as_text=True))
    teams = next(a for a in admin("GET", "/admin/api/adapters").get_json()["adapters"] if a["name"] == "teams")
    secret = next(s for s in teams["settings"] if s["env"] == "TEAMS_CLIENT_SECRET")
    assert secret == {
        "env": "TEAMS_CLIENT_SECRET",
        "label": "Client secret",
        "required": True,
        "secret": True,
        "help": "",
        "set": True,
        "source": "environment",
    }


def test_salesforce_tab_shows_the_connection_without_secrets_and_the_sync_health(admin, site):
    add_totals(get_parts(site), agents=1, states=("ready", "dnd"))
    status = admin("GET", "/admin/api/salesforce").get_json()
    assert status["configured"] is True
    assert status["connection"]["login_host"] == "login.example.test"
    assert status["connection"]["auth_mode"] == "password"
    assert status["rows_pending"] == 2 and status["last_success_at"] is None
    assert status["softphone_url"] == "https://localhost/softphone"


def test_salesforce_tab_says_not_configured_without_settings(make_app):
    app = make_app()
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", get_parts(app).clock())
    client = app.test_client()
    sign_in(client, "ada")
    status = client.get("/admin/api/salesforce").get_json()
    assert (status["configured"], status["message"]) == (False, "Salesforce not configured")


def test_sync_now_needs_the_csrf_token_and_then_upserts_the_pending_totals(admin, site):
    keys = add_totals(get_parts(site), agents=1, states=("ready", "dnd"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:  # FakeOrg answers more than a sync uses
        org = FakeOrg(rsps)
        refused = admin("POST", "/admin/api/salesforce/sync", {}, csrf=False)
        assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "X-CSRF-Token"
        assert org.upsert_calls() == []
        res = admin("POST", "/admin/api/salesforce/sync", {})
        assert [c.request.url for c in rsps.calls][0] == SF_TOKEN_URL and len(org.upsert_calls()) == 1
    body = res.get_json()
    assert res.status_code == 200 and body["ok"] is True
    assert body["summary"].startswith("2 totals pending, 1 API calls: 2 written")
    assert sorted(org.records) == sorted(keys) and org.seconds(keys[0]) == 600
    assert body["status"]["rows_pending"] == 0 and body["status"]["last_success_at"]
    assert body["status"]["connection"]["login_host"] == "login.example.test"
    assert_no_secret(res.get_data(as_text=True))


def test_call_centre_download_is_valid_xml_with_the_given_url(admin):
    res = admin("GET", "/admin/callcenter.xml?url=https%3A%2F%2Fpresence.acme.example%2Fsoftphone")
    assert res.status_code == 200
    assert res.headers["Content-Disposition"].startswith("attachment;")
    root = ET.fromstring(res.get_data())
    items = {i.get("name"): i.text for i in root.iter("item")}
    assert items["reqAdapterUrl"] == "https://presence.acme.example/softphone"
    assert items["reqSalesforceCompatibilityMode"] == "Lightning"


def test_call_centre_download_with_a_bad_url_names_the_field(admin):
    res = admin(
        "GET",
        "/admin/callcenter.xml?url=http%3A%2F%2Fplain.example%2Fsoftphone",
    )
    assert res.status_code == 422
    error = res.get_json()["error"]
    assert error["field"] == "url" and "https://" in error["message"]


def test_test_connection_needs_csrf_and_reports_the_remotes_refusal_without_the_secret(admin):
    with responses.RequestsMock() as rsps:
        rsps.post(TEAMS_TOKEN_URL, status=401, json={"error": "invalid_client"})
        refused = admin("POST", "/admin/api/adapters/teams/test", {}, csrf=False)
        assert refused.status_code == 403
        assert len(rsps.calls) == 0
        res = admin("POST", "/admin/api/adapters/teams/test", {})
        assert len(rsps.calls) == 1
    body = res.get_json()
    assert body["ok"] is False
    assert "refused the client credentials (HTTP 401, invalid_client)" in body["message"]
    assert_no_secret(res.get_data(as_text=True))


def test_test_connection_reports_success_and_an_adapter_that_is_not_enabled(admin):
    with responses.RequestsMock() as rsps:
        rsps.post(TEAMS_TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
        ok = admin("POST", "/admin/api/adapters/teams/test", {}).get_json()
    assert ok == {"name": "teams", "ok": True, "message": "client-credentials token issued for tenant tenant-1"}
    missing = admin("POST", "/admin/api/adapters/skype/test", {})
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "name"


def test_adapters_tab_lists_every_known_adapter_with_its_settings_and_health(admin):
    data = admin("GET", "/admin/api/adapters").get_json()
    by_name = {a["name"]: a for a in data["adapters"]}
    assert {"teams", "skype", "pbx_http", "asterisk_ami", "omni-channel", "webhook"} <= set(by_name)
    assert data["connector_adapters"] == "teams"
    teams, skype = by_name["teams"], by_name["skype"]
    assert teams["enabled"] is True and skype["enabled"] is False and skype["health"] is None
    assert teams["health"]["queue_depth"] == 0 and teams["health"]["last_error"] is None
    tenant = next(s for s in teams["settings"] if s["env"] == "TEAMS_TENANT_ID")
    assert tenant["value"] == "tenant-1" and tenant["from_default"] is False
    timeout = next(s for s in teams["settings"] if s["env"] == "TEAMS_TIMEOUT")
    assert timeout["value"] == 10.0 and timeout["from_default"] is True


def test_a_check_that_hangs_is_reported_after_the_time_limit(make_app):
    import threading

    from adapters.base import Adapter

    release = threading.Event()

    class Hanging(Adapter):
        name = "hanging"

        def check(self) -> str:
            release.wait(5)
            return "late"

    app = make_app(ADAPTERS=[Hanging()], ADAPTER_TEST_TIMEOUT=0.2)
    parts = get_parts(app)
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    client = app.test_client()
    token = sign_in(client, "ada")
    try:
        res = client.post("/admin/api/adapters/hanging/test", json={}, headers={"X-CSRF-Token": token})
    finally:
        release.set()
    assert res.get_json() == {"name": "hanging", "ok": False, "message": "no answer within 0.2 s"}
