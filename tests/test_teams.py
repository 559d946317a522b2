"""Teams through Microsoft Graph, faked at the HTTP layer, delivered by the real dispatcher."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from sqlalchemy import select

from adapters.base import AdapterError
from adapters.teams import TeamsAdapter
from connector.auth import accounts
from connector.parts import get_parts
from connector.store.models import OutboxRow

TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
GRAPH = "https://graph.microsoft.com/v1.0/users/edred@example.com/presence"
APP_ID = "11111111-2222-3333-4444-555555555555"


def teams(**extra) -> TeamsAdapter:
    return TeamsAdapter({"tenant_id": "tenant-1", "client_id": APP_ID, "client_secret": "very-secret", **extra})


@pytest.fixture
def setup(make_app):
    adapter = teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, parts.clock())
    return app, parts.service, get_parts(app).dispatcher


def graph_calls(rsps) -> list[tuple[str, dict | None]]:
    return [
        (c.request.url.rsplit("/", 1)[1], json.loads(c.request.body) if c.request.body else None)
        for c in rsps.calls
        if c.request.url.startswith(GRAPH)
    ]


@responses.activate
def test_states_become_graph_presence_with_dnd_as_preferred_presence_and_logout_clearing(setup):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-1"})
    for action in ("setPresence", "setUserPreferredPresence", "clearUserPreferredPresence", "clearPresence"):
        responses.post(f"{GRAPH}/{action}", status=200)
    for step in (
        lambda: service.login("edred", "Softphone", "browser"),
        lambda: service.set_state("edred", "dnd"),
        lambda: service.set_state("edred", "busy"),
        lambda: service.logout("edred", "Softphone"),
    ):
        step()
        dispatcher.drain()
    session = {"sessionId": APP_ID, "expirationDuration": "PT60M"}
    assert graph_calls(responses) == [
        ("setPresence", {**session, "availability": "Available", "activity": "Available"}),
        ("setPresence", {**session, "availability": "Away", "activity": "Away"}),  # the session DND needs
        (
            "setUserPreferredPresence",
            {"availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT60M"},
        ),
        ("clearUserPreferredPresence", None),
        ("setPresence", {**session, "availability": "Busy", "activity": "InACall"}),
        ("clearPresence", {"sessionId": APP_ID}),
    ]
    token_call = responses.calls[0].request
    assert token_call.url == TOKEN_URL
    assert (
        "grant_type=client_credentials" in token_call.body
        and "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in token_call.body
    )
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


class FakeGraphPresence:
    """Graph's presence over time, as "Manage presence state" documents it: sessions aggregate with
    preferred presence first, then DoNotDisturb > Busy > Available > Away; an Available session fades to
    AvailableInactive after 5 minutes and to Away after 10; a session expires after expirationDuration;
    preferred presence shows only while at least one session exists (else Offline); pairs outside the
    documented ones are answered 400."""

    RANK = {"DoNotDisturb": 4, "Busy": 3, "Available": 2, "AvailableInactive": 2, "Away": 1}

    def __init__(self, clock):
        self.clock, self.sessions, self.preferred = clock, {}, None
        for action in ("setPresence", "setUserPreferredPresence", "clearUserPreferredPresence", "clearPresence"):
            responses.add_callback(responses.POST, f"{GRAPH}/{action}", callback=getattr(self, action))

    def client_session(self, availability: str) -> None:
        """The user's own Teams client (its session does not fade: the user is at the desk)."""
        self.sessions["teams-client"] = (availability, self.clock(), None)

    @staticmethod
    def _minutes(duration: str) -> int:
        return int(duration[2:-1]) * (60 if duration.endswith("H") else 1)

    def setPresence(self, request):
        body = json.loads(request.body)
        if (body["availability"], body["activity"]) not in (
            ("Available", "Available"),
            ("Busy", "InACall"),
            ("Busy", "InAConferenceCall"),
            ("Away", "Away"),
        ):
            return 400, {}, json.dumps({"error": {"code": "BadRequest", "message": "Invalid activity"}})
        expires = self.clock() + timedelta(minutes=self._minutes(body.get("expirationDuration", "PT5M")))
        self.sessions[body["sessionId"]] = (body["availability"], self.clock(), expires)
        return 200, {}, ""

    def setUserPreferredPresence(self, request):
        body = json.loads(request.body)
        self.preferred = body["availability"]
        return 200, {}, ""

    def clearUserPreferredPresence(self, request):
        self.preferred = None
        return 200, {}, ""

    def clearPresence(self, request):
        self.sessions.pop(json.loads(request.body)["sessionId"], None)
        return 200, {}, ""

    def shown(self) -> str:
        now, states = self.clock(), []
        for availability, since, expires in self.sessions.values():
            if expires is not None and now >= expires:
                continue  # expired: the session is gone
            if availability == "Available" and expires is not None:
                idle = (now - since).total_seconds()
                availability = "Away" if idle >= 600 else "AvailableInactive" if idle >= 300 else availability
            states.append(availability)
        if not states:
            return "Offline"
        if self.preferred:
            return self.preferred
        return max(states, key=lambda a: self.RANK[a])


@responses.activate
def test_a_ready_agent_stays_available_in_teams_without_fading(setup, clock):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    graph = FakeGraphPresence(clock)
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    for _second in range(0, 30 * 60, 30):  # half an hour in the dispatcher's 30-second steps
        clock.advance(30)
        if _second % 60 == 0:
            service.heartbeat("edred")
        dispatcher.drain()
        assert graph.shown() == "Available", f"after {_second + 30} s"
    calls = graph_calls(responses)
    assert len(calls) <= 30 * 60 / 240 + 1  # one keep-alive per 4 minutes: renewals are budgeted
    assert dispatcher.health()["teams"]["graph_presence_calls_last_30s"] <= 1


@responses.activate
def test_away_and_dnd_win_over_the_agents_own_client_and_outlast_the_session_expiry(setup, clock):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    graph = FakeGraphPresence(clock)
    graph.client_session("Available")  # the agent's Teams desktop client
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    service.set_state("edred", "away")
    dispatcher.drain()
    assert graph.shown() == "Away"  # a session Away would lose to the client's Available
    service.set_state("edred", "dnd")
    dispatcher.drain()
    graph.sessions.pop("teams-client")  # the agent closes the Teams client
    for minute in range(90):  # past the 60-minute expirationDuration
        clock.advance(minutes=1)
        service.heartbeat("edred")
        dispatcher.drain()
        assert graph.shown() == "DoNotDisturb", f"after {minute + 1} min"
    service.set_state("edred", "busy")
    dispatcher.drain()
    assert graph.shown() == "Busy" and graph.preferred is None


def test_invalid_teams_pairs_are_refused_by_config_validate_naming_state_and_field(tmp_path):
    from click.testing import CliRunner

    from connector.cli import main

    bad = tmp_path / "teams-bad.yaml"
    bad.write_text(
        (Path(__file__).parent.parent / "presence_configs" / "teams.yaml")
        .read_text()
        .replace("adapters: {teams: Busy}}", "adapters: {teams: {availability: Busy, activity: Busy}}}", 1)
    )
    result = CliRunner().invoke(main, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {bad}: state 'busy', adapters.teams: ")
    assert "activity 'Busy' is refused by Microsoft Graph; use activity InACall or InAConferenceCall" in line


@responses.activate
def test_an_invalid_pair_never_reaches_graph(clock):
    from adapters.base import AgentInfo, Change

    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    graph = FakeGraphPresence(clock)
    with pytest.raises(AdapterError) as caught:
        teams().push(
            AgentInfo("e", email="edred@example.com"),
            Change(
                "presence",
                at=None,
                state={"id": "busy", "status": 5, "adapters": {"teams": {"availability": "Busy", "activity": "Busy"}}},
            ),
        )
    assert not caught.value.retryable and graph.sessions == {}
    assert graph_calls(responses) == []


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

    adapter.push(
        AgentInfo("0f1e2d3c-aaaa"),
        Change("presence", at=None, state={"id": "busy", "status": 5, "adapters": {"teams": "Busy"}}),
    )
    assert json.loads(responses.calls[1].request.body)["activity"] == "InACall"


def test_an_unknown_teams_presence_is_refused_naming_the_state():
    from adapters.base import AgentInfo, Change

    with pytest.raises(AdapterError, match="state 'lunch' adapters.teams: Teams has no presence 'Lunch'"):
        teams().push(
            AgentInfo("e", email="e@x"),
            Change("presence", at=None, state={"id": "lunch", "status": 3, "adapters": {"teams": "Lunch"}}),
        )


@responses.activate
def test_a_change_that_maps_to_what_teams_already_shows_costs_no_graph_call(setup):
    app, service, dispatcher = setup
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    responses.post(f"{GRAPH}/setPresence", status=200)
    service.login("edred", "Softphone", "browser")
    service.set_state("edred", "busy")
    dispatcher.drain()
    calls = len(graph_calls(responses))
    service.call_event("edred", "c1", "started", "inbound")  # On a Call maps to Busy as well
    dispatcher.drain()
    assert len(graph_calls(responses)) == calls
    assert dispatcher.health()["teams"]["graph_calls_skipped_unchanged"] == 1
    assert dispatcher.health()["teams"]["queue_depth"] == 0


@responses.activate
def test_the_graph_budget_is_shared_with_other_instances_and_a_deferred_change_shows_in_health(make_app, clock):
    adapter, other = teams(), teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    second = make_app(ADAPTERS=[other], CONNECTOR_PRESENCE_CONFIG="teams")  # another instance, same store
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "email": "edred@example.com"}, parts.clock())
    responses.post(TOKEN_URL, json={"expires_in": 3599, "access_token": "tok"})
    responses.post(f"{GRAPH}/setPresence", status=200)
    assert other.host.spend(other._budget(), 1500, 30, 1500).granted  # the other instance used the whole budget
    parts.service.login("edred", "Softphone", "browser")
    parts.dispatcher.drain()
    assert graph_calls(responses) == []
    health = parts.dispatcher.health()["teams"]
    assert (health["graph_calls_deferred"], health["graph_presence_calls_last_30s"], health["queue_depth"]) == (
        1,
        1500,
        1,
    )
    clock.advance(30)
    parts.dispatcher.drain()
    assert len(graph_calls(responses)) == 1
    assert get_parts(second).dispatcher.health()["teams"]["graph_presence_calls_last_30s"] == 1
