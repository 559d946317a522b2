"""The Omni-Channel bridge: statuses resolved by SOQL, sent to the softphone, reported back, drift."""
from __future__ import annotations

import pytest
import responses

from adapters.omni_channel import OmniChannelAdapter
from connector import accounts
from connector.presence_config import build_config, load_preset
from connector.parts import get_parts

INSTANCE = "https://acme.my.salesforce.com"
QUERY = f"{INSTANCE}/services/data/v61.0/query"
STATUSES = {"records": [{"Id": "0N5000000000001AAA", "DeveloperName": "Available"},
                        {"Id": "0N5000000000002AAA", "DeveloperName": "Busy"},
                        {"Id": "0N5000000000003AAA", "DeveloperName": "Break"}], "done": True}


def omni_config():
    data = load_preset("default").to_dict()
    data["options"]["omni_channel_sync"] = True
    mapping = {"ready": "Available", "dnd": "Busy", "break": "Break", "lunch": "Break",
               "on-a-call": {"developer_name": "Busy", "id": "0N5000000000002"}}
    for state in data["states"]:
        if state["id"] in mapping:
            state["adapters"] = {"omni_channel": mapping[state["id"]]}
    return build_config(data, "test")


@pytest.fixture
def omni(make_app):
    adapter = OmniChannelAdapter({"instance_url": INSTANCE, "access_token": "00Dxx!session"})
    app = make_app(ADAPTERS=[adapter])
    ext = get_parts(app)
    ext.configs.apply(omni_config(), "test", "test")
    accounts.add_agent(ext.store, {"id": "edred", "name": "Edred", "salesforce_user_id": "005000000000001AAA"},
                       ext.clock())
    sub = ext.bus.subscribe()
    yield app, ext, adapter, sub
    sub.close()


def omni_events(sub):
    events = []
    while (event := sub.get(0.01)) is not None:
        if event["event"] == "omni_channel":
            events.append(event["data"])
    return events


@responses.activate
def test_states_are_sent_to_the_softphone_as_resolved_omni_statuses(omni):
    app, ext, adapter, sub = omni
    responses.get(QUERY, json=STATUSES)
    ext.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    ext.service.set_state("edred", "break")
    get_parts(app).dispatcher.drain()
    ext.service.set_state("edred", "lunch")
    get_parts(app).dispatcher.drain()
    ext.service.logout("edred", "Softphone")
    get_parts(app).dispatcher.drain()
    assert omni_events(sub) == [
        {"agent_id": "edred", "action": "set_status", "service_presence_status_id": "0N5000000000001AAA",
         "developer_name": "Available"},
        {"agent_id": "edred", "action": "set_status", "service_presence_status_id": "0N5000000000003AAA",
         "developer_name": "Break"},
        {"agent_id": "edred", "action": "set_status", "service_presence_status_id": "0N5000000000003AAA",
         "developer_name": "Break"},
        {"agent_id": "edred", "action": "logout"}]
    assert len(responses.calls) == 1  # the statuses are cached
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Bearer 00Dxx!session"
    assert "SELECT+Id%2C+DeveloperName+FROM+ServicePresenceStatus" in request.url


@responses.activate
def test_a_status_missing_in_salesforce_is_parked_naming_it(omni):
    app, ext, adapter, sub = omni
    responses.get(QUERY, json={"records": [], "done": True})
    ext.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    health = get_parts(app).dispatcher.health()["omni-channel"]
    assert health["parked"] == 1 and health["last_error"] == "Salesforce has no ServicePresenceStatus 'Available'"
    from connector.integrations import adapters_health
    [shown] = adapters_health(app)["adapters"]
    assert shown["settings"]["OMNI_ACCESS_TOKEN"] == "(set)" and "00Dxx" not in str(shown)


@responses.activate
def test_omni_changes_made_in_the_console_reach_the_engine_and_confirmations_do_not(omni):
    app, ext, adapter, sub = omni
    responses.get(QUERY, json=STATUSES)
    from tests.conftest import Api
    api = Api(app, app.test_client())
    agent = api.token("agent", agent_id="edred")
    ext.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()  # we asked Omni for Available
    reply = api.call("POST", "/api/v1/agents/edred/omni-channel", agent,
                     {"event": "statusChanged", "developer_name": "Available"})
    assert reply.status_code == 200 and reply.get_json()["state"]["id"] == "ready"
    reply = api.call("POST", "/api/v1/agents/edred/omni-channel", agent,
                     {"event": "statusChanged", "service_presence_status_id": "0N5000000000003AAA"})
    assert reply.status_code == 200 and reply.get_json()["state"]["id"] == "break"
    get_parts(app).dispatcher.drain()
    assert [e.get("developer_name") for e in omni_events(sub)] == ["Available"]  # not echoed back to Omni
    bad = api.call("POST", "/api/v1/agents/edred/omni-channel", agent,
                   {"event": "statusChanged", "developer_name": "Training"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "developer_name"
    other = api.call("POST", "/api/v1/agents/ann/omni-channel", agent, {"event": "logout"})
    assert other.status_code == 403
    out = api.call("POST", "/api/v1/agents/edred/omni-channel", api.token("integration"), {"event": "logout"})
    assert out.status_code == 200 and out.get_json()["logged_in"] is False
    assert not ext.service.presence("edred")["logged_in"]


@responses.activate
def test_reconciliation_reports_agents_whose_omni_status_drifted(omni):
    app, ext, adapter, sub = omni
    accounts.add_agent(ext.store, {"id": "ann", "name": "Ann", "salesforce_user_id": "005000000000002AAA"},
                       ext.clock())
    ext.service.login("edred", "Softphone", "browser")
    ext.service.login("ann", "Softphone", "browser")
    ext.service.set_state("ann", "break")
    responses.get(QUERY, json={"records": [
        {"UserId": "005000000000001AAA", "ServicePresenceStatus": {"DeveloperName": "Available"}},
        {"UserId": "005000000000002AAA", "ServicePresenceStatus": {"DeveloperName": "Available"}}], "done": True})
    [(job_id, job, seconds)] = [j for j in ext.jobs if j[0] == "omni-channel-reconcile"]
    assert job() == [{"agent_id": "ann", "expected": "Break", "omni_channel": "Available"}]
    assert "IsCurrentState+%3D+true" in responses.calls[0].request.url
    assert get_parts(app).dispatcher.health()["omni-channel"]["drift"][0]["agent_id"] == "ann"


@responses.activate
def test_without_omni_settings_statuses_are_read_through_the_shared_salesforce_connection(make_app):
    from tests.sf_fake import DATA_URL, SF_ENV, FakeOrg
    FakeOrg(responses.mock)
    responses.get(DATA_URL + "/query/", json=STATUSES)
    adapter = OmniChannelAdapter({})
    app = make_app(ADAPTERS=[adapter], **SF_ENV)
    ext = get_parts(app)
    ext.configs.apply(omni_config(), "test", "test")
    accounts.add_agent(ext.store, {"id": "edred", "name": "Edred"}, ext.clock())
    sub = ext.bus.subscribe()
    ext.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    assert omni_events(sub)[0]["service_presence_status_id"] == "0N5000000000001AAA"
    [query] = [c.request for c in responses.calls if "/query" in c.request.url]
    assert "ServicePresenceStatus" in query.url and query.headers["Authorization"].startswith("Bearer 00Dxx!token-")
    sub.close()
