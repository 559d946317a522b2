"""Teams through Microsoft Graph, faked at the HTTP layer, delivered by the real dispatcher."""
from __future__ import annotations

import json

import pytest
import responses
from sqlalchemy import select

from adapters.base import AdapterError
from adapters.teams import TeamsAdapter
from connector import accounts
from connector.store.models import OutboxRow
from connector.parts import get_parts

TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
GRAPH = "https://graph.microsoft.com/v1.0/users/edred@example.com/presence"
APP_ID = "11111111-2222-3333-4444-555555555555"


def teams(**extra) -> TeamsAdapter:
    return TeamsAdapter({"tenant_id": "tenant-1", "client_id": APP_ID, "client_secret": "very-secret", **extra})


@pytest.fixture
def setup(make_app):
    adapter = teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    ext = get_parts(app)
    accounts.add_agent(ext.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, ext.clock())
    return app, ext.service, get_parts(app).dispatcher


def graph_calls(rsps) -> list[tuple[str, dict | None]]:
    return [(c.request.url.rsplit("/", 1)[1], json.loads(c.request.body) if c.request.body else None)
            for c in rsps.calls if c.request.url.startswith(GRAPH)]


@responses.activate
def test_states_become_graph_presence_with_dnd_as_preferred_presence_and_logout_clearing(setup):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-1"})
    for action in ("setPresence", "setUserPreferredPresence", "clearUserPreferredPresence", "clearPresence"):
        responses.post(f"{GRAPH}/{action}", status=200)
    for step in (lambda: service.login("edred", "Softphone", "browser"), lambda: service.set_state("edred", "dnd"),
                 lambda: service.set_state("edred", "busy"), lambda: service.logout("edred", "Softphone")):
        step()
        dispatcher.drain()
    session = {"sessionId": APP_ID, "expirationDuration": "PT60M"}
    assert graph_calls(responses) == [
        ("setPresence", {**session, "availability": "Available", "activity": "Available"}),
        ("setUserPreferredPresence", {"availability": "DoNotDisturb", "activity": "DoNotDisturb",
                                      "expirationDuration": "PT60M"}),
        ("clearUserPreferredPresence", None),
        ("setPresence", {**session, "availability": "Busy", "activity": "InACall"}),
        ("clearPresence", {"sessionId": APP_ID}),
    ]
    token_call = responses.calls[0].request
    assert token_call.url == TOKEN_URL
    assert "grant_type=client_credentials" in token_call.body and "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in token_call.body
    assert sum(1 for c in responses.calls if c.request.url == TOKEN_URL) == 1  # the token is reused
    assert all(c.request.headers["Authorization"] == "Bearer tok-1" for c in responses.calls[1:])


@responses.activate
def test_throttling_is_retried_after_graphs_retry_after(setup, clock):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    responses.post(f"{GRAPH}/setPresence", status=429, headers={"Retry-After": "17"})
    responses.post(f"{GRAPH}/setPresence", status=200)
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    with get_parts(app).store.read() as s:
        row = s.execute(select(OutboxRow)).scalar_one()
        assert (row.next_attempt_at - clock()).total_seconds() == 17
        assert row.last_error == "Microsoft Graph setPresence: HTTP 429"
    clock.advance(16)
    dispatcher.drain()
    assert len(graph_calls(responses)) == 1
    clock.advance(1)
    dispatcher.drain()
    assert len(graph_calls(responses)) == 2


@responses.activate
def test_presence_is_renewed_before_it_lapses_while_the_agent_stays(setup, clock):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    responses.post(f"{GRAPH}/setPresence", status=200)
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    for minute in range(55):  # the softphone keeps beating; Teams hears nothing new ...
        assert len(graph_calls(responses)) == 1
        clock.advance(minutes=1)
        service.heartbeat("edred")
        dispatcher.drain()
    # ... until 55 minutes into the 60-minute session presence, when it is renewed
    calls = graph_calls(responses)
    assert len(calls) == 2 and calls[1] == calls[0]
    service.logout("edred", "Softphone")
    responses.post(f"{GRAPH}/clearPresence", status=200)
    dispatcher.drain()
    clock.advance(minutes=120)
    dispatcher.drain()
    assert [a for a, _ in graph_calls(responses)] == ["setPresence", "setPresence", "clearPresence"]


@responses.activate
def test_refused_credentials_park_the_row_without_showing_the_secret(setup):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    health = dispatcher.health()["teams"]
    assert health["parked"] == 1
    assert health["last_error"].startswith("Microsoft login refused the client credentials (HTTP 401, invalid_client)")
    assert "very-secret" not in json.dumps(health)


@responses.activate
def test_users_can_be_addressed_by_object_id():
    adapter = teams(user_key="agent_id")
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    responses.post("https://graph.microsoft.com/v1.0/users/0f1e2d3c-aaaa/presence/setPresence", status=200)
    from adapters.base import AgentInfo, Change
    adapter.push(AgentInfo("0f1e2d3c-aaaa"), Change("presence", at=None,
                                                    state={"id": "away", "status": 3, "adapters": {"teams": "Away"}}))
    assert json.loads(responses.calls[1].request.body)["availability"] == "Away"


def test_an_unknown_teams_presence_is_refused_naming_the_state():
    from adapters.base import AgentInfo, Change
    with pytest.raises(AdapterError, match="Teams has no presence 'Lunch' \\(state 'lunch'\\)"):
        teams().push(AgentInfo("e", email="e@x"), Change("presence", at=None,
                                                          state={"id": "lunch", "status": 3, "adapters": {"teams": "Lunch"}}))
