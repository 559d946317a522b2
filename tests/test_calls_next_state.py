"""A state picked during a call becomes the next state (supervisors may force a
change at once); a call whose "ended" event never comes is closed after the maximum call duration, or by a
supervisor, with the cause recorded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connector.presence.config import load_preset
from connector.presence.engine import AgentSession, CallClosed, Engine, LogonSource, StateChanged
from connector.store.models import Call, StateInterval

T0 = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def engine_with(**options) -> Engine:
    config = load_preset("default")  # wrap-up 30 s, active call on
    return Engine(replace(config, options=replace(config.options, **options)))


def on_call(engine: Engine) -> AgentSession:
    s = engine.login(AgentSession("edred"), T0, LogonSource.PAIRED_DEVICE, "desk").session
    return engine.call_started(s, at(10), "c1", "inbound").session


def states(decision) -> list[tuple[str | None, str]]:
    return [(e.current.id if e.current else None, e.cause) for e in decision.effects if isinstance(e, StateChanged)]


# -- the engine ---------------------------------------------------------------------------------


def test_a_pick_during_a_call_is_the_next_state_applied_after_wrap_up():
    engine = engine_with()
    d = engine.set_state(on_call(engine), at(20), "break")
    assert states(d) == [] and d.session.state_id == "on-a-call" and d.session.next_state_id == "break"
    d = engine.call_ended(d.session, at(70), "c1", "inbound", 60)
    assert states(d) == [("wrap-up", "call ended: wrap-up")]
    d = engine.settle(d.session, at(200))
    assert states(d) == [("break", "wrap-up ended: next state")]
    assert d.state_changes[0].at == at(100) and d.state_changes[0].source == "softphone"
    assert d.session.next_state_id is None


def test_without_wrap_up_the_next_state_follows_the_call_and_can_be_cancelled():
    engine = engine_with(wrap_up_seconds=0)
    s = engine.set_state(on_call(engine), at(20), "lunch").session
    assert states(engine.call_ended(s, at(40), "c1", "inbound", 30)) == [("lunch", "call ended: next state")]
    s = engine.cancel_next_state(s, at(30)).session
    assert states(engine.call_ended(s, at(40), "c1", "inbound", 30)) == [("ready", "call ended")]


def test_a_forced_change_during_a_call_applies_at_once_and_says_forced():
    engine = engine_with()
    s = engine.set_state(on_call(engine), at(15), "break").session
    d = engine.set_state(s, at(20), "lunch", source="supervisor", force=True)
    assert states(d) == [("lunch", "forced")] and d.session.next_state_id is None
    assert d.session.call_id == "c1"  # the call itself is still up


def test_a_call_whose_end_never_comes_is_closed_after_the_maximum_duration():
    engine = engine_with(max_call_seconds=3600)
    s = engine.set_state(on_call(engine), at(20), "break").session
    assert engine.next_due(s) == (at(3610), "call_end_not_received")
    d = engine.settle(s, at(5000))
    assert [e for e in d.effects if isinstance(e, CallClosed)] == [CallClosed(at(3610), "c1", "call end not received")]
    assert states(d) == [("break", "call end not received: next state")]  # no wrap-up: the end time is unknown
    assert d.session.call_id is None
    later = engine.call_started(d.session, at(5001), "c2", "inbound")
    assert later.session.call_id == "c2"  # the next call is no longer ignored as a second line


def test_max_call_seconds_is_validated_with_its_range():
    from connector.errors import ConfigError
    from connector.presence.config import build_config

    data = load_preset("default").to_dict()
    data["options"]["max_call_seconds"] = 100000
    with pytest.raises(ConfigError) as exc:
        build_config(data, "x.yaml")
    assert "options.max_call_seconds" in str(exc.value) and "0-86400" in str(exc.value)


# -- through the API ----------------------------------------------------------------------------


def test_api_pick_during_a_call_shows_next_state_and_time_on_the_call_counts_as_on_a_call(api, on_call_agent, clock):
    clock.advance(20)
    r = api.call("PUT", "/api/v1/agents/edred/presence", on_call_agent, {"state": "break"})
    assert r.status_code == 200
    assert (r.json["state"]["id"], r.json["on_call"], r.json["next_state"]["id"]) == ("on-a-call", True, "break")
    clock.advance(40)
    api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        api.token("integration"),
        {"call_id": "c1", "event": "ended", "direction": "inbound", "duration_seconds": 60},
    )
    clock.advance(31)  # wrap-up over
    view = api.call("GET", "/api/v1/agents/edred/presence", on_call_agent).json
    assert view["state"]["id"] == "break" and view["next_state"] is None
    stats = api.call("GET", "/api/v1/agents/edred/stats", on_call_agent).json["time_per_state"]
    assert stats == {"on-a-call": 60, "wrap-up": 30, "break": 1}  # Break only from the end of wrap-up


def test_api_cancel_next_state(api, on_call_agent):
    api.call("PUT", "/api/v1/agents/edred/presence", on_call_agent, {"state": "lunch"})
    r = api.call("DELETE", "/api/v1/agents/edred/next-state", on_call_agent)
    assert r.status_code == 200 and r.json["next_state"] is None


def test_api_only_supervisors_force_and_the_interval_records_it(api, on_call_agent, parts):
    r = api.call("PUT", "/api/v1/agents/edred/presence", on_call_agent, {"state": "lunch", "force": True})
    assert r.status_code == 403 and r.json["error"]["field"] == "force"
    r = api.call("PUT", "/api/v1/agents/edred/presence", api.token("supervisor"), {"state": "lunch", "force": "yes"})
    assert r.status_code == 422 and r.json["error"]["field"] == "force"
    sup = api.token("supervisor")
    r = api.call("PUT", "/api/v1/agents/edred/presence", sup, {"state": "break"})
    assert r.json["state"]["id"] == "on-a-call" and r.json["next_state"]["id"] == "break"  # same rule as agents
    r = api.call("PUT", "/api/v1/agents/edred/presence", sup, {"state": "lunch", "force": True})
    assert r.json["state"]["id"] == "lunch"
    with parts.store.read() as s:
        lunch = s.execute(select(StateInterval).where(StateInterval.state_id == "lunch")).scalar_one()
    assert (lunch.source, lunch.cause) == ("supervisor", "forced")


def test_a_lost_call_end_is_closed_by_the_sweep_with_its_cause(api, on_call_agent, parts, clock):
    clock.advance(4 * 3600 + 11)  # the default maximum call duration is 4 h
    assert parts.sweeper.settle_due() == 1
    view = parts.service.presence("edred")
    assert (view["on_call"], view["state"]["id"]) == (False, "ready")
    with parts.store.read() as s:
        call = s.get(Call, ("edred", "c1"))
        ready = (
            s.execute(select(StateInterval).where(StateInterval.state_id == "ready").order_by(StateInterval.id.desc()))
            .scalars()
            .first()
        )
    assert (call.end_cause, call.duration_seconds) == ("call end not received", 4 * 3600)
    assert ready.cause == "call end not received"
    # the "ended" event arriving late is a repeat, not a new wrap-up
    r = api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        api.token("integration"),
        {"call_id": "c1", "event": "ended", "direction": "inbound", "duration_seconds": 9000},
    )
    assert r.json["repeated"] is True and r.json["state"]["id"] == "ready"


def test_a_supervisor_ends_a_stuck_call(api, on_call_agent, parts):
    assert api.call("POST", "/api/v1/agents/edred/calls/end", on_call_agent).status_code == 403
    sup = api.token("supervisor")
    r = api.call("POST", "/api/v1/agents/edred/calls/end", sup)
    assert r.status_code == 200 and r.json["on_call"] is False and r.json["state"]["id"] == "ready"
    with parts.store.read() as s:
        assert s.get(Call, ("edred", "c1")).end_cause.startswith("call ended by supervisor")
    r = api.call("POST", "/api/v1/agents/edred/calls/end", sup)
    assert r.status_code == 409 and r.json["error"]["code"] == "not_on_call"


def test_the_new_endpoints_are_described_in_openapi(api):
    paths = api.client.get("/api/v1/openapi.json").json["paths"]
    assert "delete" in paths["/api/v1/agents/{agent_id}/next-state"]
    assert "post" in paths["/api/v1/agents/{agent_id}/calls/end"]
    assert (
        "force"
        in paths["/api/v1/agents/{agent_id}/presence"]["put"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"
        ]
    )
