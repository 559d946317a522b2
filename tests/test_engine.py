"""The presence rules (docs/architecture.md, "The presence model"), through the pure engine with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.errors import Conflict, InvalidInput
from connector.presence.config import load_preset
from connector.presence.engine import (
    ACQUIRED,
    RELEASED,
    AgentSession,
    Counted,
    Engine,
    LogonEvent,
    LogonSource,
    StateChanged,
)

T0 = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def engine():
    return Engine(load_preset("default"))  # wrap-up 30 s, active call on


def logged_in(engine: Engine) -> AgentSession:
    """Logged in on a desk phone, which sends no heartbeats (so connection loss never applies)."""
    return engine.login(AgentSession("edred"), T0, LogonSource.PAIRED_DEVICE, "deskphone-3001").session


def states(decision) -> list[str | None]:
    return [e.current.id if e.current else None for e in decision.effects if isinstance(e, StateChanged)]


def counted(decision) -> list[str]:
    return [e.counter for e in decision.effects if isinstance(e, Counted)]


def test_login_starts_in_ready_and_records_an_acquired_event(engine):
    d = engine.login(AgentSession("edred"), T0, LogonSource.SOFTPHONE, "browser-1")
    assert d.session.state_id == "ready"
    assert [(e.action, e.logon_source, e.device) for e in d.effects if isinstance(e, LogonEvent)] == [
        (ACQUIRED, "Softphone", "browser-1")
    ]
    assert "logins" in counted(d)


def test_active_call_puts_agent_on_a_call_then_wrap_up_then_ready(engine):
    s = logged_in(engine)
    d = engine.call_started(s, at(10), "c1", "inbound")
    assert states(d) == ["on-a-call"]
    d = engine.call_ended(d.session, at(70), "c1", "inbound", 60)
    assert states(d) == ["wrap-up"]
    assert d.session.wrap_up_until == at(100)
    d = engine.settle(d.session, at(100))
    assert states(d) == ["ready"]
    assert d.effects[-1].at == at(100)  # back to Ready at the due time, not when someone looked
    assert "wrap_ups_completed" in counted(d)


def test_active_call_without_wrap_up_goes_back_to_ready(engine):
    config = load_preset("default")
    from dataclasses import replace

    engine = Engine(replace(config, options=replace(config.options, wrap_up_seconds=0)))
    s = engine.call_started(logged_in(engine), at(10), "c1", "inbound").session
    d = engine.call_ended(s, at(40), "c1", "inbound", 30)
    assert states(d) == ["ready"]


@pytest.mark.parametrize("direction,duration", [("inbound", 0), ("internal", 45)])
def test_wrap_up_is_skipped_for_ring_only_and_internal_calls(engine, direction, duration):
    s = engine.call_started(logged_in(engine), at(10), "c1", direction).session
    d = engine.call_ended(s, at(40), "c1", direction, duration)
    assert states(d) == ["ready"]
    assert d.session.wrap_up_until is None
    assert ("calls_ring_only" if duration == 0 else "calls_internal_answered") in counted(d)


def test_agent_can_extend_and_end_wrap_up(engine):
    s = engine.call_started(logged_in(engine), at(10), "c1", "outbound").session
    s = engine.call_ended(s, at(20), "c1", "outbound", 10).session
    d = engine.extend_wrap_up(s, at(25), 60)
    assert d.session.wrap_up_until == at(110)
    assert counted(d) == ["wrap_ups_extended"]
    assert states(engine.settle(d.session, at(60))) == []  # the original end passed: still in wrap-up
    d = engine.end_wrap_up(d.session, at(70))
    assert states(d) == ["ready"] and d.session.wrap_up_until is None


def test_dialling_while_dnd_returns_to_ready_first(engine):
    s = engine.set_state(logged_in(engine), at(5), "dnd").session
    d = engine.dial(s, at(6), "+4930123456")
    assert states(d) == ["ready"]
    assert type(d.effects[-1]).__name__ == "DialRequested"


def test_dialling_while_away_keeps_the_state(engine):
    s = engine.set_state(logged_in(engine), at(5), "break").session
    assert states(engine.dial(s, at(6), "100")) == []


def test_on_a_call_cannot_be_picked(engine):
    with pytest.raises(InvalidInput) as exc:
        engine.set_state(logged_in(engine), at(5), "On a Call")
    assert exc.value.field == "state" and exc.value.code == "state_not_selectable"


def test_state_can_be_picked_by_label_or_picklist_text(engine):
    s = logged_in(engine)
    assert engine.set_state(s, at(5), "Do Not Disturb").session.state_id == "dnd"
    assert engine.set_state(s, at(5), "Break (Away)").session.state_id == "break"


def test_unknown_state_names_the_field(engine):
    with pytest.raises(InvalidInput) as exc:
        engine.set_state(logged_in(engine), at(5), "Coffee")
    assert exc.value.field == "state" and "Coffee" in exc.value.message


def test_logout_records_released_with_its_source(engine):
    d = engine.logout(logged_in(engine), at(60), LogonSource.SUPERVISOR, "supervisor", actor="sam")
    events = [e for e in d.effects if isinstance(e, LogonEvent)]
    assert [(e.action, e.logon_source, e.actor) for e in events] == [(RELEASED, "Supervisor", "sam")]
    assert not d.session.logged_in and states(d) == [None]


def test_logout_is_refused_from_a_status_the_policy_does_not_allow(engine):
    s = engine.call_started(logged_in(engine), at(10), "c1", "inbound").session
    with pytest.raises(Conflict) as exc:
        engine.logout(s, at(20), LogonSource.SOFTPHONE)
    assert exc.value.code == "logout_not_allowed" and "On a Call" in exc.value.message


def test_setting_presence_requires_a_login(engine):
    with pytest.raises(Conflict) as exc:
        engine.set_state(AgentSession("edred"), T0, "dnd")
    assert exc.value.code == "not_logged_in"
