"""Skype for Business through UCWA, faked at the HTTP layer, delivered by the real dispatcher."""

from __future__ import annotations

import json

import pytest
import responses

from adapters.base import AdapterConfigError
from adapters.skype import SkypeAdapter
from connector.auth import accounts
from connector.parts import get_parts
from connector.version import USER_AGENT
from tests.helpers.fakes.ucwa import APP, APPS, DISCOVER, TICKET, USER, serve_sign_in
from tests.helpers.polling import wait_until


def skype(tmp_path) -> SkypeAdapter:
    creds = tmp_path / "skype.txt"
    creds.write_text("# agent sign-ins\nedred@example.com:Pa55word\n")
    return SkypeAdapter({"domain": "example.com", "credentials_file": str(creds), "credentials_dir": str(creds.parent)})


def ucwa(presence_status: int = 204):
    """The sign-in chain, challenged as a Skype for Business server does (a Bearer challenge beside the
    MsRtcOAuth one), and the presence POST answering ``presence_status``."""
    serve_sign_in(
        challenge=f'Bearer trusted_issuers="", client_id="00000004", MsRtcOAuth href="{TICKET}",grant_type="password"',
        presence_status=presence_status,
    )


@responses.activate
def test_states_become_ucwa_availability_after_one_sign_in(make_app, tmp_path):
    app = make_app(ADAPTERS=[skype(tmp_path)], CONNECTOR_PRESENCE_CONFIG="skype_for_business")
    parts, dispatcher = get_parts(app), get_parts(app).dispatcher
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, parts.clock())
    ucwa()
    parts.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    parts.service.set_state("edred", "dnd")
    dispatcher.drain()
    parts.service.logout("edred", "Softphone")
    dispatcher.drain()
    calls = [(c.request.method, c.request.url) for c in responses.calls]
    assert calls[:8] == [
        ("GET", DISCOVER),
        ("GET", USER),
        ("POST", TICKET),
        ("GET", USER),
        ("POST", APPS),
        ("POST", APP + "/me/makeMeAvailable"),
        ("GET", APP),
        ("POST", APP + "/me/presence"),
    ]
    ticket = responses.calls[2].request.body
    assert "grant_type=password" in ticket and "username=edred%40example.com" in ticket
    created = json.loads(responses.calls[4].request.body)
    assert created["UserAgent"] == USER_AGENT and created["Culture"] == "en-US" and created["EndpointId"]
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
    parts, dispatcher = get_parts(app), get_parts(app).dispatcher
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, parts.clock())
    responses.get(DISCOVER, json={"_links": {"user": {"href": USER}}})
    responses.get(USER, status=401, headers={"WWW-Authenticate": f'MsRtcOAuth href="{TICKET}",grant_type="password"'})
    responses.post(TICKET, status=400, json={"error": "invalid_grant"})
    parts.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    health = dispatcher.health()["skype"]
    assert health["parked"] == 1
    assert health["last_error"] == "Skype for Business refused the password of 'edred@example.com'"
    assert "Pa55word" not in json.dumps(health)


def test_a_bad_credentials_file_is_named(tmp_path):
    in_dir = {"domain": "example.com", "credentials_dir": str(tmp_path)}
    with pytest.raises(AdapterConfigError, match="SKYPE_CREDENTIALS_FILE: no readable credentials file"):
        SkypeAdapter({**in_dir, "credentials_file": "missing"})
    bad = tmp_path / "bad.txt"
    bad.write_text("edred@example.com\n")
    with pytest.raises(AdapterConfigError, match="line 1 is not 'upn:password'"):
        SkypeAdapter({**in_dir, "credentials_file": "bad.txt"})


# -- behaviour over time and pool topology, as UCWA documents it --------------------------------

POOL2_USER = "https://lync2.example.com/Autodiscover/AutodiscoverService.svc/root/oauth/user"
POOL2_TICKET = "https://lync2.example.com/WebTicket/oauthtoken"


def test_an_unquoted_msrtcoauth_href_as_in_the_ucwa_docs_is_understood(tmp_path):
    from adapters.base import AgentInfo, Change

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(DISCOVER, json={"_links": {"user": {"href": USER}}})
        # "WWW-Authenticate: MsRtcOAuth href=https://contoso.com/WebTicket/oauthtoken,grant_type=..." (Authentication in UCWA)
        rsps.get(
            USER,
            status=401,
            headers={
                "WWW-Authenticate": f"MsRtcOAuth href={TICKET},grant_type="
                '"urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"'
            },
        )
        rsps.post(TICKET, status=400, json={"error": "invalid_grant"})
        with pytest.raises(Exception) as caught:
            skype(tmp_path).push(
                AgentInfo("edred", email="edred@example.com"),
                Change("presence", at=None, state={"id": "ready", "status": 1, "adapters": {}}),
            )
        assert str(caught.value) == "Skype for Business refused the password of 'edred@example.com'"
        assert [c.request.url for c in rsps.calls][-1] == TICKET  # the web ticket service was found


@responses.activate
def test_a_user_homed_on_another_pool_is_followed_through_the_redirect(tmp_path):
    from adapters.base import AgentInfo, Change

    responses.get(DISCOVER, json={"_links": {"user": {"href": USER}}})
    responses.get(USER, status=401, headers={"WWW-Authenticate": f'MsRtcOAuth href="{TICKET}",grant_type="password"'})
    responses.post(TICKET, json={"access_token": "cwt=POOL1", "expires_in": 28800})
    # MS-OCDISCWS 3.1.5.3: the user resource of a pool that is not the user's home names only a redirect
    responses.get(USER, json={"_links": {"self": {"href": USER}, "redirect": {"href": POOL2_USER}}})
    responses.get(POOL2_USER, status=401, headers={"WWW-Authenticate": f'MsRtcOAuth href="{POOL2_TICKET}"'})
    responses.post(POOL2_TICKET, json={"access_token": "cwt=AAEB", "expires_in": 28800})
    responses.get(POOL2_USER, json={"_links": {"applications": {"href": APPS}}})
    responses.post(
        APPS,
        status=201,
        json={
            "_links": {"self": {"href": "/ucwa/oauth/v1/applications/101"}},
            "_embedded": {
                "me": {"_links": {"makeMeAvailable": {"href": "/ucwa/oauth/v1/applications/101/me/makeMeAvailable"}}}
            },
        },
    )
    responses.post(APP + "/me/makeMeAvailable", status=204)
    responses.get(
        APP,
        json={"_embedded": {"me": {"_links": {"presence": {"href": "/ucwa/oauth/v1/applications/101/me/presence"}}}}},
    )
    responses.post(APP + "/me/presence", status=204)
    skype(tmp_path).push(
        AgentInfo("edred", email="edred@example.com"),
        Change("presence", at=None, state={"id": "ready", "status": 1, "adapters": {}}),
    )
    presence = [c for c in responses.calls if c.request.url == APP + "/me/presence"]
    assert len(presence) == 1 and presence[0].request.headers["Authorization"] == "Bearer cwt=AAEB"


@responses.activate
def test_a_user_resource_without_applications_or_redirect_parks_naming_the_user(make_app, tmp_path):
    app = make_app(ADAPTERS=[skype(tmp_path)], CONNECTOR_PRESENCE_CONFIG="skype_for_business")
    parts, dispatcher = get_parts(app), get_parts(app).dispatcher
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, parts.clock())
    responses.get(DISCOVER, json={"_links": {"user": {"href": USER}}})
    responses.get(USER, status=401, headers={"WWW-Authenticate": f'MsRtcOAuth href="{TICKET}"'})
    responses.post(TICKET, json={"access_token": "cwt=AAEB"})
    responses.get(USER, json={"_links": {"self": {"href": USER}}})
    parts.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    health = dispatcher.health()["skype"]
    assert health["parked"] == 1
    assert health["last_error"].startswith("Skype for Business named no applications resource for 'edred@example.com'")


class FakeUcwaActivity:
    """UCWA's rule over time: without reportMyActivity for 4 minutes the user decays to a less available
    status (reportMyActivity reference); the fake records what the user would show."""

    def __init__(self, clock):
        self.clock, self.last_activity, self.shown, self.reports = clock, None, None, 0
        responses.add_callback(responses.POST, APP + "/me/presence", callback=self._presence)
        responses.add_callback(responses.POST, APP + "/me/reportMyActivity", callback=self._activity)

    def _check(self):
        if self.last_activity is not None and (self.clock() - self.last_activity).total_seconds() > 240:
            self.shown = "Away"  # decayed: the application was idle for more than four minutes

    def _presence(self, request):
        self._check()
        self.shown, self.last_activity = json.loads(request.body)["availability"], self.clock()
        return 204, {}, ""

    def _activity(self, request):
        self._check()
        self.reports += 1
        self.last_activity = self.clock()
        return 204, {}, ""


@responses.activate
def test_a_signed_in_agent_stays_online_through_activity_reports(make_app, tmp_path, clock):
    adapter = SkypeAdapter(
        {
            "domain": "example.com",
            "credentials_file": str(_creds(tmp_path)),
            "credentials_dir": str(tmp_path),
            "event_channel": "off",
        }
    )
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="skype_for_business")
    parts, dispatcher = get_parts(app), get_parts(app).dispatcher
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, parts.clock())
    serve_sign_in(me_extra={"reportMyActivity": {"href": "/ucwa/oauth/v1/applications/101/me/reportMyActivity"}})
    fake = FakeUcwaActivity(clock)
    parts.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    for _minute in range(20):
        clock.advance(minutes=1)
        parts.service.heartbeat("edred")
        dispatcher.drain()
        fake._check()
        assert fake.shown == "Online"
    assert fake.reports >= 5  # one at least every four minutes
    assert sum(1 for c in responses.calls if c.request.url == APP + "/me/presence") == 1


def test_the_event_channel_is_held_and_followed_while_the_agent_is_signed_in(tmp_path):
    import threading

    from adapters.base import AgentInfo, Change

    adapter = skype(tmp_path)
    events_url = APP + "/events"
    held = threading.Event()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_sign_in(rsps, app_links={"events": {"href": "/ucwa/oauth/v1/applications/101/events?ack=1"}})
        rsps.add_callback(
            responses.GET,
            events_url,
            callback=lambda r: (
                held.set(),
                (200, {}, json.dumps({"_links": {"next": {"href": "/ucwa/oauth/v1/applications/101/events?ack=2"}}})),
            )[1],
        )
        rsps.post(APP + "/me/presence", status=204)
        adapter.push(
            AgentInfo("edred", email="edred@example.com"),
            Change("presence", at=None, state={"id": "ready", "status": 1, "adapters": {}}),
        )
        assert held.wait(3)
        wait_until(lambda: any("ack=2" in c.request.url for c in rsps.calls), 3, "the event channel's next link")
        adapter.stop()
        urls = [c.request.url for c in rsps.calls if c.request.url.startswith(events_url)]
    assert "ack=1" in urls[0] and "timeout=180" in urls[0] and any("ack=2" in u for u in urls)


def _creds(tmp_path):
    creds = tmp_path / "skype.txt"
    creds.write_text("edred@example.com:Pa55word\n")
    return creds
