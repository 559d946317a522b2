"""Teams presence change notifications (issue 26): subscriptions on /communications/presences against a fake Graph
that behaves as Microsoft documents (tests/helpers/fakes/graph.py): the validationToken handshake, clientState,
basic notifications without resource data, lifecycle notifications, renewal and an expired subscription."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses

from adapters.base import AdapterConfigError, AdapterError
from adapters.teams import TeamsAdapter
from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.fakes.graph import FakeGraph

APP_ID = "11111111-2222-3333-4444-555555555555"
EDRED = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"
URL = "https://connector.example.com/api/v1/adapters/teams/notifications"


def teams(**extra) -> TeamsAdapter:
    return TeamsAdapter(
        {
            "tenant_id": "tenant-1",
            "client_id": APP_ID,
            "client_secret": "very-secret",
            "user_key": "agent_id",
            "notification_url": URL,
            "delegated_refresh_token": "refresh-1",
            **extra,
        }
    )


@pytest.fixture
def floor(make_app, clock):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        graph = FakeGraph(rsps, clock)
        adapter = teams()
        app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
        graph.client = app.test_client()
        parts = get_parts(app)
        accounts.add_agent(parts.store, {"id": EDRED, "name": "Edred"}, parts.clock())
        parts.service.login(EDRED, "Paired Device", "deskphone")
        parts.dispatcher.drain()
        yield graph, adapter, parts


def state(parts) -> str:
    return parts.service.presence(EDRED)["state"]["id"]


def test_a_subscription_is_validated_and_a_notification_moves_the_agent_within_a_second(floor):
    graph, adapter, parts = floor
    assert [job.id for job in adapter.jobs()] == ["teams-presence-read", "teams-presence-subscriptions"]
    adapter.maintain_subscriptions()
    [(sub_id, sub)] = graph.subscriptions.items()  # created: both URLs answered the handshake
    assert sub["ids"] == [EDRED] and sub["changeType"] == "updated"
    graph.user[EDRED] = ("Busy", "InAMeeting")
    answer = graph.notify(EDRED)
    assert answer.status_code == 202
    assert state(parts) == "meeting"  # read (the notification carries no presence) and applied at once
    assert graph.reads[-1] == [EDRED]
    del graph.user[EDRED]
    graph.notify(EDRED)
    assert state(parts) == "ready"


def test_a_notification_with_another_client_state_changes_nothing(floor):
    graph, adapter, parts = floor
    adapter.maintain_subscriptions()
    graph.user[EDRED] = ("Busy", "InAMeeting")
    reads = len(graph.reads)
    answer = graph.notify(EDRED, client_state="guessed")
    assert answer.status_code == 202
    assert state(parts) == "ready" and len(graph.reads) == reads
    assert adapter.health()["notifications_refused"] == 1


def test_subscriptions_are_renewed_before_they_expire_and_created_again_once_expired(floor, clock):
    graph, adapter, parts = floor
    adapter.maintain_subscriptions()
    [sub_id] = graph.subscriptions
    clock.advance(minutes=45)  # less than 20 minutes left: renewed
    adapter.maintain_subscriptions()
    assert ("PATCH", f"/subscriptions/{sub_id}") in graph.calls
    assert graph.subscriptions[sub_id]["expires"] > clock() + timedelta(minutes=50)
    clock.advance(hours=2)  # the connector was down: Graph deleted the expired subscription
    adapter.maintain_subscriptions()
    [new_id] = graph.live()
    assert new_id != sub_id
    graph.user[EDRED] = ("Busy", "Presenting")
    graph.notify(EDRED)
    assert state(parts) == "meeting"


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_lifecycle_notifications_keep_the_flow_and_read_the_presence_again(floor, event):
    graph, adapter, parts = floor
    adapter.maintain_subscriptions()
    [sub_id] = graph.subscriptions
    graph.user[EDRED] = ("Busy", "InAConferenceCall")  # changed while notifications were not coming
    answer = graph.lifecycle(sub_id, event)
    assert answer.status_code == 202
    assert state(parts) == "meeting"
    if event == "reauthorizationRequired":
        assert ("PATCH", f"/subscriptions/{sub_id}") in graph.calls
    if event == "subscriptionRemoved":
        assert len(graph.subscriptions) == 1 and sub_id not in graph.subscriptions  # created again
    assert adapter.health()["lifecycle_notifications"] == {event: 1}


def test_the_handshake_is_refused_without_a_subscription_setting(make_app):
    adapter = TeamsAdapter({"tenant_id": "tenant-1", "client_id": APP_ID, "client_secret": "very-secret"})
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    answer = app.test_client().post("/api/v1/adapters/teams/notifications?validationToken=abc")
    assert answer.status_code == 422 and answer.json["error"]["field"] == "validationToken"
    assert app.test_client().post("/api/v1/adapters/nope/notifications").status_code == 404


def test_the_notification_url_must_be_https():
    with pytest.raises(AdapterConfigError) as refused:
        teams(notification_url="http://connector.example.com/api/v1/adapters/teams/notifications")
    assert "TEAMS_NOTIFICATION_URL" in str(refused.value)


def test_the_connection_check_gets_the_delegated_token_and_a_refused_one_is_named_without_the_secret(floor):
    graph, adapter, parts = floor
    assert "delegated token (Presence.Read.All) issued" in adapter.check()
    stale = teams(delegated_refresh_token="stale-token-value")
    with pytest.raises(AdapterError) as refused:
        stale.check()
    assert "TEAMS_DELEGATED_REFRESH_TOKEN" in str(refused.value) and "stale-token-value" not in str(refused.value)
