"""What admins use: sync status (CLI and API), not-configured mode, auth modes, agents from Salesforce,
the call-centre definition file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs

import jwt
import pytest
import responses
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from responses import matchers

from connector.cli import main
from connector.parts import get_parts
from connector.salesforce.status import sync_status
from connector.store.models import Agent
from tests.helpers.fakes.salesforce import DATA_URL, SF_ENV, TOKEN_URL, UPSERT_URL, FakeOrg, add_totals


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """The CLI on the test's store (it builds its own app from the environment, with the real clock)."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "CONNECTOR_INSTANCE_PATH": str(tmp_path / "instance"),
        "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'presence.db'}",
        "CONNECTOR_TIMEZONE": "UTC",
        "CONNECTOR_SECRET_KEY": "test-secret",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SF_LOGIN_URL", "SF_CLIENT_ID", "SF_CLIENT_SECRET", "SF_USERNAME", "SF_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def run(*args, sf: bool = True):
        if sf:
            for name, value in SF_ENV.items():
                monkeypatch.setenv(name, value)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


# -- not configured ----------------------------------------------------------------------------


def test_without_salesforce_settings_totals_stay_local_and_nothing_calls_out(app, api, clock):
    parts = get_parts(app)
    api.agent("edred")
    parts.service.login("edred", "Softphone", "softphone")
    clock.advance(120)
    with responses.RequestsMock() as rsps:  # any HTTP request would fail the test
        sync = get_parts(app).salesforce
        assert sync.tick() is None and sync.flush().configured is False
        status = api.call("GET", "/api/v1/sync/status", api.token("admin")).get_json()
        assert len(rsps.calls) == 0
    assert status["configured"] is False and status["message"] == "Salesforce not configured"
    assert status["detail"] == "SF_LOGIN_URL is not set"


def test_incomplete_credentials_are_named_in_the_status_and_nothing_calls_out(make_app):
    app = make_app(SF_LOGIN_URL="https://acme.my.salesforce.com", SF_CLIENT_ID="abc")
    status = sync_status(get_parts(app).salesforce)
    assert status["message"] == "Salesforce not configured" and "SF_CLIENT_SECRET" in status["detail"]


def test_sync_status_is_for_admins_and_documented(make_app):
    app = make_app(**SF_ENV)
    from tests.helpers.api import Api

    api = Api(app, app.test_client())
    api.agent("edred")
    assert api.call("GET", "/api/v1/sync/status", api.token("agent", "edred")).status_code == 403
    assert api.call("GET", "/api/v1/sync/status", api.token("supervisor")).status_code == 403
    response = api.call("GET", "/api/v1/sync/status", api.token("admin"))
    body = response.get_json()
    assert response.status_code == 200 and body["configured"] is True
    assert body["message"] == "configured; nothing written yet" and body["rows_pending"] == 0
    assert SF_ENV["SF_CLIENT_SECRET"] not in response.get_data(as_text=True)
    spec = api.client.get("/api/v1/openapi.json").get_json()
    assert "admin" in spec["paths"]["/api/v1/sync/status"]["get"]["description"]


# -- auth modes --------------------------------------------------------------------------------


def _form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_jwt_bearer_login_sends_an_rs256_assertion_for_the_integration_user(make_app, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "server.key"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    app = make_app(
        SF_LOGIN_URL=SF_ENV["SF_LOGIN_URL"],
        SF_CLIENT_ID="connected-app-id",
        SF_USERNAME="integration@acme.example",
        SF_PRIVATE_KEY_FILE=str(pem),
    )
    add_totals(get_parts(app), agents=1, states=("ready",))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps)
        assert get_parts(app).salesforce.flush().written == 1
    form = org.token_forms[0]
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert set(form) == {"grant_type", "assertion"}
    claims = jwt.decode(
        form["assertion"], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert (claims["iss"], claims["sub"]) == ("connected-app-id", "integration@acme.example")


def test_password_login_sends_the_password_with_the_security_token(make_app):
    app = make_app(**SF_ENV, SF_USERNAME="integration@acme.example", SF_PASSWORD="pw-123", SF_SECURITY_TOKEN="TOK")
    add_totals(get_parts(app), agents=1, states=("ready",))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps)
        get_parts(app).salesforce.flush()
    assert org.token_forms[0] == {
        "grant_type": "password",
        "client_id": "connected-app-id",
        "client_secret": SF_ENV["SF_CLIENT_SECRET"],
        "username": "integration@acme.example",
        "password": "pw-123TOK",
    }


def test_client_credentials_is_the_default_login(make_app):
    app = make_app(**SF_ENV)
    add_totals(get_parts(app), agents=1, states=("ready",))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps)
        get_parts(app).salesforce.flush()
    assert org.token_forms[0] == {
        "grant_type": "client_credentials",
        "client_id": "connected-app-id",
        "client_secret": SF_ENV["SF_CLIENT_SECRET"],
    }


def test_object_and_field_names_are_configurable_and_a_field_can_be_left_out(make_app):
    app = make_app(
        **SF_ENV,
        SF_OBJECT_NAME="Agent_Time__c",
        SF_FIELD_KEY="External_Key__c",
        SF_FIELD_SECONDS="Duration__c",
        SF_FIELD_REASON_CODE="-",
    )
    add_totals(get_parts(app), agents=1, states=("ready",))
    url = DATA_URL + "/composite/sobjects/Agent_Time__c/External_Key__c"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps, upsert_url=url, key_field="External_Key__c")
        assert get_parts(app).salesforce.flush().written == 1
        record = json.loads(org.upsert_calls()[0].request.body)["records"][0]
    assert record["attributes"] == {"type": "Agent_Time__c"} and record["Duration__c"] == 600
    assert "Reason_Code__c" not in record and "Seconds__c" not in record


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_sync_status_says_not_configured(cli_env):
    result = cli_env("sync", "status", sf=False)
    assert result.exit_code == 0 and result.output.startswith("Salesforce not configured")


def test_cli_sync_now_and_status_show_parked_rows_and_api_usage(make_app, cli_env):
    add_totals(get_parts(make_app()), agents=2)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps)
        org.reject["agent00001|2026-03-06|dnd"] = ("INVALID_FIELD", "No such column 'Reason_Code__c'")
        now = cli_env("sync", "now")
        status = cli_env("sync", "status")
        as_json = json.loads(cli_env("sync", "status", "--json").output)
    assert now.exit_code == 0
    assert "10 totals pending, 1 API calls: 9 written, 1 parked, 0 to retry" in now.output
    assert "rows parked      : 1" in status.output and "API usage (org)  : 1001/100000" in status.output
    assert "parked agent00001|2026-03-06|dnd: INVALID_FIELD: No such column" in status.output
    assert as_json["rows_parked"] == 1 and as_json["rows_pending"] == 0


def test_cli_resync_sends_the_range_again_with_a_progress_bar(make_app, cli_env):
    app = make_app(**SF_ENV)
    keys = add_totals(get_parts(app), agents=50)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps)
        get_parts(app).salesforce.flush()
        result = cli_env("sync", "resync", "--from", "2026-03-06", "--to", "2026-03-06")
    assert result.exit_code == 0, result.output
    assert "re-sending totals" in result.output and "250 totals pending, 2 API calls: 250 written" in result.output
    assert all(org.accepted[k] == 2 for k in keys)


def test_cli_resync_refuses_a_reversed_range(cli_env):
    result = cli_env("sync", "resync", "--from", "2026-03-07", "--to", "2026-03-06")
    assert result.exit_code == 2 and "--to is before --from" in result.output


def test_agents_sync_salesforce_imports_call_centre_users_idempotently(make_app, cli_env):
    app = make_app()
    soql = (
        "SELECT Id, Name, Username, Email, Extension, CallCenter.Name FROM User WHERE IsActive = true "
        "AND CallCenterId != null AND CallCenter.Name = 'Tier 1 \\'EU\\'' ORDER BY Username"
    )
    users = [
        {
            "Id": "005000000000001AAA",
            "Name": "Edred Smith",
            "Username": "edred@acme.example",
            "Email": "edred@acme.example",
            "Extension": "201",
        },
        {
            "Id": "005000000000002AAA",
            "Name": "Mia Jones",
            "Username": "mia+cc@acme.example",
            "Email": None,
            "Extension": "x202",
        },
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeOrg(rsps)
        query = rsps.add(
            responses.GET,
            DATA_URL + "/query/",
            match=[matchers.query_param_matcher({"q": soql})],
            json={"totalSize": 2, "done": True, "records": users},
        )
        first = cli_env("agents", "sync-salesforce", "--call-center", "Tier 1 'EU'")
        users[0]["Name"] = "Edred Smith-Jones"
        rsps.remove(query)
        rsps.add(
            responses.GET,
            DATA_URL + "/query/",
            match=[matchers.query_param_matcher({"q": soql})],
            json={"totalSize": 2, "done": True, "records": users},
        )
        second = cli_env("agents", "sync-salesforce", "--call-center", "Tier 1 'EU'")
    assert first.exit_code == 0 and "2 agents created, 0 updated, 0 skipped" in first.output
    assert "extension 'x202' is not dial characters" in first.output
    assert "0 agents created, 2 updated, 0 skipped" in second.output
    with get_parts(app).store.read() as s:
        agents = {a.id: a for a in s.query(Agent).all()}
    assert set(agents) == {"edred@acme.example", "mia-cc@acme.example"}
    assert agents["edred@acme.example"].name == "Edred Smith-Jones" and agents["edred@acme.example"].extension == "201"
    assert agents["mia-cc@acme.example"].salesforce_user_id == "005000000000002AAA"


def test_agents_sync_salesforce_without_settings_says_so(cli_env):
    result = cli_env("agents", "sync-salesforce", sf=False)
    assert result.exit_code == 2 and "Salesforce not configured" in result.output


def test_callcenter_xml_is_a_valid_open_cti_definition(cli_env, tmp_path):
    out = tmp_path / "callcenter.xml"
    result = cli_env("callcenter-xml", "--url", "https://pc.acme.example/softphone", "-o", str(out), sf=False)
    assert result.exit_code == 0
    root = ET.parse(out).getroot()
    assert root.tag == "callCenter"
    section = root.find("section")
    assert section.get("name") == "reqGeneralInfo" and section.get("sortOrder") == "0"
    items = {i.get("name"): (i.get("sortOrder"), i.text) for i in section.findall("item")}
    assert items["reqInternalName"] == ("0", "PresenceConnector")
    assert items["reqDisplayName"] == ("1", "Presence Connector")
    assert items["reqAdapterUrl"][1] == "https://pc.acme.example/softphone"
    assert items["reqUseApi"][1] == "true" and items["reqSalesforceCompatibilityMode"][1] == "Lightning"
    assert items["reqSoftphoneHeight"][1] == "600" and items["reqSoftphoneWidth"][1] == "400"


@pytest.mark.parametrize(
    "args, field",
    [
        (["--url", "http://pc.acme.example/softphone"], "--url"),
        (["--url", "https://pc.acme.example/", "--internal-name", "9lives"], "--internal-name"),
        (["--url", "https://pc.acme.example/", "--internal-name", "Presence-Connector"], "--internal-name"),
        (["--url", "https://pc.acme.example/", "--height", "100"], "--height"),
        (["--url", "https://pc.acme.example/", "--width", "5000"], "--width"),
    ],
)
def test_callcenter_xml_refuses_bad_values_naming_the_option(cli_env, args, field):
    result = cli_env("callcenter-xml", *args, sf=False)
    assert result.exit_code == 2 and f"error ({field})" in result.output


def test_the_upsert_url_uses_the_configured_api_version(make_app):
    app = make_app(**SF_ENV, SF_API_VERSION="v60.0")
    add_totals(get_parts(app), agents=1, states=("ready",))
    url = UPSERT_URL.replace("v62.0", "v60.0")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        org = FakeOrg(rsps, upsert_url=url)
        get_parts(app).salesforce.flush()
        assert [c.request.url for c in rsps.calls] == [TOKEN_URL, url] and len(org.records) == 1
