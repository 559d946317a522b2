"""The inbound rules (connector/presence/inbound_rules.py): one table of cases per rule, through the pure
``decide``, then through the engine with the shipped presets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.errors import ConfigError
from connector.presence.config import load_preset, parse_config
from connector.presence.engine import AgentSession, Engine, InboundDecided, LogonSource, StateChanged
from connector.presence.inbound_rules import APPLY, NOTHING, REFUSE, Hold, InboundRule, Situation, decide

T0 = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
MEETING = {"InAMeeting": "meeting", "Presenting": "meeting", "InAConferenceCall": "meeting"}
TEAMS = InboundRule("teams", map=MEETING, from_statuses=(1, 3), over_call="never", on_end="return")


def ready(**changes) -> Situation:
    values = dict(state_id="ready", status=1, state_source="softphone", state_since=T0 - timedelta(minutes=5))
    values.update(changes)
    return Situation(**values)


def in_meeting(**changes) -> Situation:
    hold = Hold("teams", "InAMeeting", "ready", "meeting")
    values = dict(state_id="meeting", status=5, state_source="teams", state_since=T0 - timedelta(minutes=1), hold=hold)
    values.update(changes)
    return Situation(**values)


def verdict(rule: InboundRule, situation: Situation, remote: str | None, proposed: str | None = None):
    v = decide(rule, T0, situation, remote, proposed)
    return v.action, v.rule, v.target


# -- map: what a remote presence becomes ------------------------------------------------------------
@pytest.mark.parametrize(
    "situation, remote, expected",
    [
        (ready(), "InAMeeting", (APPLY, "inbound.teams.map", "meeting")),
        (ready(), "Presenting", (APPLY, "inbound.teams.map", "meeting")),
        (ready(), "InAConferenceCall", (APPLY, "inbound.teams.map", "meeting")),
        (ready(), "Available", (NOTHING, "inbound.teams.on_end", None)),  # not mapped: no condition
        (in_meeting(), "Presenting", (NOTHING, "inbound.teams.map", "meeting")),  # already there
    ],
)
def test_map(situation, remote, expected):
    assert verdict(TEAMS, situation, remote) == expected


# -- apply: inbound changes switched off ---------------------------------------------------------
@pytest.mark.parametrize(
    "rule, expected",
    [
        (InboundRule("omni-channel"), (APPLY, "inbound.omni-channel.map", "break")),
        (InboundRule("omni-channel", apply=False), (REFUSE, "inbound.omni-channel.apply", "break")),
    ],
)
def test_apply(rule, expected):
    assert verdict(rule, ready(), "Break", proposed="break") == expected


# -- from_statuses: only from Ready or Away ------------------------------------------------------
@pytest.mark.parametrize(
    "situation, expected",
    [
        (ready(), APPLY),
        (ready(state_id="away", status=3), APPLY),
        (ready(state_id="dnd", status=4), REFUSE),
        (ready(state_id="busy", status=5), REFUSE),
    ],
)
def test_from_statuses(situation, expected):
    action, rule, _ = verdict(TEAMS, situation, "InAMeeting")
    assert action == expected
    assert rule == ("inbound.teams.map" if expected == APPLY else "inbound.teams.from_statuses")


# -- over_call: never over a call or wrap-up (never), or as the next state (next) -------------------
@pytest.mark.parametrize(
    "rule, situation, expected",
    [
        (TEAMS, ready(state_id="on-a-call", status=6, on_call=True), (REFUSE, "inbound.teams.over_call")),
        (TEAMS, ready(state_id="dnd", status=4, in_wrap_up=True), (REFUSE, "inbound.teams.over_call")),
        (InboundRule("teams", map=MEETING), ready(on_call=True), (APPLY, "inbound.teams.over_call")),
        (InboundRule("teams", map=MEETING), ready(in_wrap_up=True), (APPLY, "inbound.teams.map")),
    ],
)
def test_over_call(rule, situation, expected):
    assert verdict(rule, situation, "InAMeeting")[:2] == expected


# -- after_own_pick_seconds: never within N s of the agent's own pick ------------------------------
@pytest.mark.parametrize(
    "source, seconds_ago, expected",
    [
        ("softphone", 10, (REFUSE, "inbound.teams.after_own_pick_seconds")),
        ("softphone", 120, (APPLY, "inbound.teams.map")),
        ("system", 10, (APPLY, "inbound.teams.map")),  # wrap-up ended: not the agent's pick
    ],
)
def test_after_own_pick_seconds(source, seconds_ago, expected):
    rule = InboundRule("teams", map=MEETING, after_own_pick_seconds=60)
    situation = ready(state_source=source, state_since=T0 - timedelta(seconds=seconds_ago))
    assert verdict(rule, situation, "InAMeeting")[:2] == expected


# -- over_supervisor: never over a supervisor's state --------------------------------------------
@pytest.mark.parametrize(
    "over_supervisor, expected",
    [(False, (REFUSE, "inbound.pbx.over_supervisor")), (True, (APPLY, "inbound.pbx.map"))],
)
def test_over_supervisor(over_supervisor, expected):
    rule = InboundRule("pbx", over_supervisor=over_supervisor)
    assert verdict(rule, ready(state_source="supervisor"), "Break", proposed="break")[:2] == expected


# -- on_end: back to the state before the condition, if nothing changed since ----------------------
@pytest.mark.parametrize(
    "rule, situation, expected",
    [
        (TEAMS, in_meeting(), (APPLY, "inbound.teams.on_end", "ready")),
        (
            TEAMS,
            in_meeting(hold=Hold("teams", "InAMeeting", "away", "meeting")),
            (APPLY, "inbound.teams.on_end", "away"),
        ),
        # the agent picked another state during the meeting: it stays
        (
            TEAMS,
            in_meeting(state_id="dnd", status=4, state_source="softphone"),
            (NOTHING, "inbound.teams.on_end", None),
        ),
        (InboundRule("teams", map=MEETING, on_end="stay"), in_meeting(), (NOTHING, "inbound.teams.on_end", None)),
        (TEAMS, ready(), (NOTHING, "inbound.teams.on_end", None)),  # no condition in force
    ],
)
def test_on_end(rule, situation, expected):
    assert verdict(rule, situation, None) == expected


def test_on_end_forgets_the_condition_and_a_new_one_remembers_the_state_before():
    ended = decide(TEAMS, T0, in_meeting(), None)
    assert ended.hold is None
    started = decide(TEAMS, T0, ready(state_id="away", status=3), "InAMeeting")
    assert started.hold == Hold("teams", "InAMeeting", "away", "meeting")
    # another mapped presence during the same condition keeps where to return
    moved = decide(TEAMS, T0, in_meeting(hold=started.hold), "Presenting")
    assert moved.hold == Hold("teams", "Presenting", "away", "meeting")


# -- leads: which side wins when both change at once ------------------------------------------------
@pytest.mark.parametrize(
    "leads, seconds_ago, expected",
    [
        ("connector", 2, (REFUSE, "inbound.omni-channel.leads")),
        ("connector", 30, (APPLY, "inbound.omni-channel.map")),
        ("remote", 2, (APPLY, "inbound.omni-channel.map")),
    ],
)
def test_leads(leads, seconds_ago, expected):
    rule = InboundRule("omni-channel", leads=leads, conflict_seconds=5)
    situation = ready(state_source="supervisor", state_since=T0 - timedelta(seconds=seconds_ago))
    assert verdict(rule, situation, "Break", proposed="break")[:2] == expected


def test_each_verdict_names_its_rule_in_the_cause():
    v = decide(
        TEAMS, T0, ready(state_id="on-a-call", status=6, on_call=True), "InAMeeting", labels={"meeting": "Meeting"}
    )
    assert v.cause.startswith("inbound.teams.over_call: Teams InAMeeting")


# -- through the engine ------------------------------------------------------------------------------
def logged_in(engine: Engine) -> AgentSession:
    return engine.login(AgentSession("edred"), T0, LogonSource.PAIRED_DEVICE, "deskphone").session


def test_teams_preset_meeting_then_back_to_ready_with_the_rule_as_cause():
    engine = Engine(load_preset("teams"))
    s = logged_in(engine)
    d = engine.inbound(s, T0 + timedelta(seconds=60), engine.config.inbound_rule("teams"), "InAMeeting")
    [change] = [e for e in d.effects if isinstance(e, StateChanged)]
    assert (change.current.id, change.source) == ("meeting", "teams")
    assert change.cause == "inbound.teams.map: Teams InAMeeting -> Meeting"
    # the same report again (a second instance): nothing changes
    again = engine.inbound(d.session, T0 + timedelta(seconds=61), engine.config.inbound_rule("teams"), "InAMeeting")
    assert not [e for e in again.effects if isinstance(e, StateChanged)]
    end = engine.inbound(again.session, T0 + timedelta(seconds=900), engine.config.inbound_rule("teams"), None)
    [back] = [e for e in end.effects if isinstance(e, StateChanged)]
    assert back.current.id == "ready" and back.cause.startswith("inbound.teams.on_end")


def test_a_refused_change_is_recorded_with_its_rule_and_changes_nothing():
    engine = Engine(load_preset("teams"))
    s = engine.call_started(logged_in(engine), T0 + timedelta(seconds=5), "c1", "inbound").session
    d = engine.inbound(s, T0 + timedelta(seconds=10), engine.config.inbound_rule("teams"), "InAMeeting")
    assert not [e for e in d.effects if isinstance(e, StateChanged)]
    [decided] = [e for e in d.effects if isinstance(e, InboundDecided)]
    assert (decided.verdict.action, decided.verdict.rule) == (REFUSE, "inbound.teams.over_call")
    assert d.session.state_id == "on-a-call" and d.session.next_state_id is None


# -- today's presets: Omni-Channel and PBX changes come out as before --------------------------------
#: ("set", n): the preset's n-th selectable state, as Omni-Channel or the PBX report it
STEPS = [("set", 1), ("call_started",), ("set", 2), ("call_ended",), ("set", 0), ("set", 0), ("set", 3)]


def _run(engine: Engine, inbound: str | None) -> list[tuple]:
    s = logged_in(engine)
    picks = [state for state in engine.config.states if state.selectable]
    seen: list[tuple] = []
    for i, step in enumerate(STEPS):
        now = T0 + timedelta(seconds=30 * (i + 1))
        if step[0] == "call_started":
            d = engine.call_started(s, now, "c1", "inbound")
        elif step[0] == "call_ended":
            d = engine.call_ended(s, now, "c1", "inbound", 20)
        else:
            state = picks[step[1] % len(picks)]
            if inbound is None:
                d = engine.set_state(s, now, state.id, source="omni-channel")
            else:
                d = engine.inbound(s, now, engine.config.inbound_rule(inbound), state.label, proposed=state.id)
        s = d.session
        seen.append((s.state_id, s.next_state_id, s.wrap_up_until))
    return seen


@pytest.mark.parametrize("preset", ["default", "asterisk", "avaya_ip_office", "skype_for_business", "teams"])
@pytest.mark.parametrize("source", ["omni-channel", "pbx"])
def test_todays_presets_give_the_same_outcomes_for_omni_channel_and_pbx(preset, source):
    config = load_preset(preset)
    assert config.inbound_rule(source) == InboundRule(source)  # the default rule: as before
    assert _run(Engine(config), source) == _run(Engine(config), None)


# -- configuration ------------------------------------------------------------------------------------
def test_config_validate_names_the_inbound_field():
    text = load_preset("teams").to_yaml().replace("over_call: never", "over_call: sometimes")
    text = text.replace("InAMeeting: meeting", "InAMeeting: no-such-state")
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    fields = {p.field for p in refused.value.problems}
    assert {"inbound.teams.over_call", "inbound.teams.map.InAMeeting"} <= fields


def test_the_inbound_section_survives_a_round_trip():
    config = load_preset("teams")
    assert parse_config(config.to_yaml()).inbound == config.inbound
    assert config.inbound_rule("teams").map["Presenting"] == "meeting"


def test_a_refusal_keeps_the_condition_another_adapter_has_in_force():
    omni_hold = Hold("omni-channel", "Break", "ready", "break")
    on_call = ready(state_id="on-a-call", status=6, on_call=True, hold=omni_hold)
    assert decide(TEAMS, T0, on_call, "InAMeeting").hold == omni_hold
    assert decide(TEAMS, T0, ready(state_id="dnd", status=4, hold=omni_hold), "InAMeeting").hold == omni_hold
