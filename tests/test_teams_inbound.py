"""Teams presence read back (issue 26): a fake Graph at the HTTP layer (``responses``: nothing leaves the
machine) answering getPresencesByUserId as Microsoft documents it, the teams preset's meeting rule, the real
app and dispatcher."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.teams import TeamsAdapter
from connector.auth import accounts
from connector.parts import get_parts
from connector.store.models import EventRow, StateInterval

APP_ID = "11111111-2222-3333-4444-555555555555"
EDRED = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"  # a user object id; the agent id with TEAMS_USER_KEY=agent_id


def teams(**extra) -> TeamsAdapter:
    return TeamsAdapter(
        {"tenant_id": "tenant-1", "client_id": APP_ID, "client_secret": "very-secret", "user_key": "agent_id", **extra}
    )


def teams_floor(make_app):
    """The teams preset and adapter, Edred logged in on a desk phone and Available in Teams (the connector's session)."""
    adapter = teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": EDRED, "name": "Edred", "email": "edred@example.com"}, parts.clock())
    parts.service.login(EDRED, "Paired Device", "deskphone")  # no heartbeats: no connection loss
    parts.dispatcher.drain()  # the connector's session: Available
    return app, adapter, parts


def state(parts) -> str:
    return parts.service.presence(EDRED)["state"]["id"]


def events(parts, kind: str) -> list[dict]:
    with parts.store.read() as s:
        return [
            r.data for r in s.execute(select(EventRow).where(EventRow.kind == kind).order_by(EventRow.id)).scalars()
        ]


def test_a_ready_agent_in_a_teams_meeting_becomes_meeting_and_returns_to_ready_when_it_ends(make_app, graph, clock):
    app, adapter, parts = teams_floor(make_app)
    assert [(job.id, job.seconds) for job in adapter.jobs()] == [("teams-presence-read", 30)]  # TEAMS_POLL_SECONDS
    adapter.poll()
    assert state(parts) == "ready"  # Teams shows the connector's own Available: nothing to do

    graph.user[EDRED] = ("Busy", "InAMeeting")
    clock.advance(30)
    adapter.poll()
    view = parts.service.presence(EDRED)
    assert (view["state"]["id"], view["state_from"]) == ("meeting", "Teams")  # the row: "Meeting (from Teams)"
    grid = {row["id"]: row for row in parts.service.agent_grid()}
    assert grid[EDRED]["state_from"] == "Teams"
    with parts.store.read() as s:
        interval = s.execute(select(StateInterval).where(StateInterval.state_id == "meeting")).scalar_one()
    assert (interval.source, interval.cause) == ("teams", "inbound.teams.map: Teams InAMeeting -> Meeting")
    [applied] = events(parts, "inbound")
    assert (applied["action"], applied["rule"], applied["remote"]) == ("apply", "inbound.teams.map", "InAMeeting")

    graph.user[EDRED] = ("Busy", "Presenting")  # still the meeting: nothing changes
    clock.advance(30)
    adapter.poll()
    assert state(parts) == "meeting"

    del graph.user[EDRED]  # the meeting ended: Teams shows the connector's session again
    clock.advance(30)
    adapter.poll()
    view = parts.service.presence(EDRED)
    assert (view["state"]["id"], view["state_from"]) == ("ready", "Teams")
    assert events(parts, "inbound")[-1]["rule"] == "inbound.teams.on_end"


def test_an_agent_on_a_call_or_in_wrap_up_is_not_touched_and_the_refusal_names_the_rule(make_app, graph, clock):
    app, adapter, parts = teams_floor(make_app)
    parts.service.call_event(EDRED, "c1", "started", "inbound")
    graph.user[EDRED] = ("Busy", "InAMeeting")
    adapter.poll()
    assert state(parts) == "on-a-call"
    [refused] = events(parts, "inbound")
    assert (refused["action"], refused["rule"]) == ("refuse", "inbound.teams.over_call")
    adapter.poll()
    assert len(events(parts, "inbound")) == 1  # nothing changed on either side: not reported again
    clock.advance(60)
    parts.service.call_event(EDRED, "c1", "ended", "inbound", 60)
    assert state(parts) == "dnd"  # wrap-up
    adapter.poll()
    assert state(parts) == "dnd"
    assert events(parts, "inbound")[-1]["rule"] == "inbound.teams.over_call"
    clock.advance(31)  # wrap-up over: Ready, and the meeting still on
    parts.service.heartbeat(EDRED)
    adapter.poll()
    assert state(parts) == "meeting"


def test_the_connectors_own_session_never_triggers_a_change(make_app, graph, clock):
    app, adapter, parts = teams_floor(make_app)
    for pick in ("dnd", "away", "busy", "ready"):
        parts.service.set_state(EDRED, pick)
        parts.dispatcher.drain()  # Teams now shows what the connector set (DoNotDisturb, Away, Busy/InACall ...)
        clock.advance(30)
        adapter.poll()
        assert state(parts) == pick
    assert events(parts, "inbound") == []
    assert graph.reads  # it did read


def test_two_instances_never_apply_the_same_change_twice(make_app, graph):
    app, adapter, parts = teams_floor(make_app)
    other_adapter = teams()
    other = get_parts(make_app(ADAPTERS=[other_adapter], CONNECTOR_PRESENCE_CONFIG="teams"))
    graph.user[EDRED] = ("Busy", "InAMeeting")
    adapter.poll()
    other_adapter.poll()  # the lease moved, or both read at once: the second finds Meeting already set
    with parts.store.read() as s:
        intervals = s.execute(select(StateInterval.state_id).order_by(StateInterval.id)).scalars().all()
    assert intervals == ["ready", "meeting"]
    assert [e["action"] for e in events(other, "inbound")] == ["apply"]


@pytest.mark.slow
def test_a_thousand_agents_are_read_in_two_calls_within_the_shared_budget(make_app, graph):
    adapter = teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    parts = get_parts(app)
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(1000)]
    for n, agent_id in enumerate(ids):
        accounts.add_agent(parts.store, {"id": agent_id, "name": f"Agent {n}"}, parts.clock())
        parts.service.login(agent_id, "Softphone", f"browser-{n}")
    adapter.poll()
    assert [len(batch) for batch in graph.reads] == [650, 350]
    assert adapter.health()["graph_presence_calls_last_30s"] == 2


def test_without_an_inbound_teams_rule_nothing_is_read(make_app, graph):
    adapter = teams()
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="default")
    adapter.poll()
    assert graph.reads == []
    assert get_parts(app).service  # the app runs as before
