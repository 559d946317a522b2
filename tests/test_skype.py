"""Skype for Business through UCWA, faked at the HTTP layer, delivered by the real dispatcher."""
from __future__ import annotations

import json

import pytest
import responses

from adapters.base import AdapterConfigError
from adapters.skype import SkypeAdapter
from connector import accounts
from connector.parts import get_parts

DISCOVER = "https://lyncdiscover.example.com/"
USER = "https://lync.example.com/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=example.com"
TICKET = "https://lync.example.com/WebTicket/oauthtoken"
APPS = "https://lyncpool.example.com/ucwa/oauth/v1/applications"
APP = APPS + "/101"


def skype(tmp_path) -> SkypeAdapter:
    creds = tmp_path / "skype.txt"
    creds.write_text("# agent sign-ins\nedred@example.com:Pa55word\n")
    return SkypeAdapter({"domain": "example.com", "credentials_file": str(creds)})


def ucwa(presence_status: int = 204):
    responses.get(DISCOVER, json={"_links": {"self": {"href": DISCOVER}, "user": {"href": USER}}})
    responses.get(USER, status=401, headers={"WWW-Authenticate": f'Bearer trusted_issuers="", client_id="00000004", '
                                                                 f'MsRtcOAuth href="{TICKET}",grant_type="password"'})
    responses.post(TICKET, json={"access_token": "cwt=AAEB", "expires_in": 28800, "token_type": "Bearer"})
    responses.get(USER, json={"_links": {"applications": {"href": APPS}}})
    responses.post(APPS, status=201, json={"_links": {"self": {"href": "/ucwa/oauth/v1/applications/101"}},
                                           "_embedded": {"me": {"_links": {"makeMeAvailable": {
                                               "href": "/ucwa/oauth/v1/applications/101/me/makeMeAvailable"}}}}})
    responses.post(APP + "/me/makeMeAvailable", status=204)
    responses.get(APP, json={"_embedded": {"me": {"_links": {"presence": {
        "href": "/ucwa/oauth/v1/applications/101/me/presence"}}}}})
    responses.post(APP + "/me/presence", status=presence_status)


@responses.activate
def test_states_become_ucwa_availability_after_one_sign_in(make_app, tmp_path):
    app = make_app(ADAPTERS=[skype(tmp_path)], CONNECTOR_PRESENCE_CONFIG="skype_for_business")
    ext, dispatcher = get_parts(app), get_parts(app).dispatcher
    accounts.add_agent(ext.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, ext.clock())
    ucwa()
    ext.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    ext.service.set_state("edred", "dnd")
    dispatcher.drain()
    ext.service.logout("edred", "Softphone")
    dispatcher.drain()
    calls = [(c.request.method, c.request.url) for c in responses.calls]
    assert calls[:8] == [("GET", DISCOVER), ("GET", USER), ("POST", TICKET), ("GET", USER), ("POST", APPS),
                         ("POST", APP + "/me/makeMeAvailable"), ("GET", APP), ("POST", APP + "/me/presence")]
    ticket = responses.calls[2].request.body
    assert "grant_type=password" in ticket and "username=edred%40example.com" in ticket
    created = json.loads(responses.calls[4].request.body)
    assert created["UserAgent"] == "PresenceConnector/1.0" and created["Culture"] == "en-US" and created["EndpointId"]
    assert json.loads(responses.calls[5].request.body) == {"SupportedModalities": ["Messaging"]}
    presence = [json.loads(c.request.body) for c in responses.calls if c.request.url == APP + "/me/presence"]
    assert presence == [{"availability": "Online"}, {"availability": "DoNotDisturb"}, {"availability": "Offwork"}]
    assert all(c.request.headers["Authorization"] == "Bearer cwt=AAEB" for c in responses.calls[3:])
    assert len(calls) == 10  # signed in once, then one POST per change


@responses.activate
def test_an_expired_application_is_created_again(tmp_path):
    from adapters.base import AgentInfo, Change
    adapter = skype(tmp_path)
    ucwa()
    agent = AgentInfo("edred", email="edred@example.com")
    adapter.push(agent, Change("presence", at=None, state={"id": "away", "status": 3, "adapters": {}}))
    responses.reset()
    ucwa(presence_status=404)  # the server dropped the application ...
    responses.post(APP + "/me/presence", status=204)
    adapter.push(agent, Change("presence", at=None, state={"id": "busy", "status": 5, "adapters": {"skype": "Busy"}}))
    calls = [(c.request.method, c.request.url) for c in responses.calls]
    assert calls[0] == ("POST", APP + "/me/presence") and calls.count(("POST", APPS)) == 1  # ... so it is re-created
    assert json.loads(responses.calls[-1].request.body) == {"availability": "Busy"}


@responses.activate
def test_a_refused_password_is_parked_without_the_password(make_app, tmp_path):
    app = make_app(ADAPTERS=[skype(tmp_path)], CONNECTOR_PRESENCE_CONFIG="skype_for_business")
    ext, dispatcher = get_parts(app), get_parts(app).dispatcher
    accounts.add_agent(ext.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, ext.clock())
    responses.get(DISCOVER, json={"_links": {"user": {"href": USER}}})
    responses.get(USER, status=401, headers={"WWW-Authenticate": f'MsRtcOAuth href="{TICKET}",grant_type="password"'})
    responses.post(TICKET, status=400, json={"error": "invalid_grant"})
    ext.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    health = dispatcher.health()["skype"]
    assert health["parked"] == 1
    assert health["last_error"] == "Skype for Business refused the password of 'edred@example.com'"
    assert "Pa55word" not in json.dumps(health)


def test_a_bad_credentials_file_is_named(tmp_path):
    with pytest.raises(AdapterConfigError, match="SKYPE_CREDENTIALS_FILE: no file"):
        SkypeAdapter({"domain": "example.com", "credentials_file": str(tmp_path / "missing")})
    bad = tmp_path / "bad.txt"
    bad.write_text("edred@example.com\n")
    with pytest.raises(AdapterConfigError, match="line 1 is not 'upn:password'"):
        SkypeAdapter({"domain": "example.com", "credentials_file": str(bad)})
