"""Inbound presence rules: whether a change another system reports (Teams, Omni-Channel, the PBX, a
third-party adapter) may change the agent's state, and what happens when the remote condition ends.

Pure, like :mod:`connector.presence.engine`: no Flask, no SQL, no clock reads. :func:`decide` receives the
adapter's :class:`InboundRule`, the agent's :class:`Situation` and what the remote side reports, and returns
a :class:`Verdict` naming the rule that decided it (``inbound.teams.over_call`` ...). The engine applies a
verdict (:meth:`Engine.inbound`), so the interval's cause, the live event and the log all name that rule.

A rule, per adapter, in the presence configuration's ``inbound:`` section (docs: README "Two-way presence"):

* ``apply`` — whether inbound changes from that adapter apply at all;
* ``map`` — remote presence -> state id (``InAMeeting: meeting``); without it the adapter's own mapping
  decides (the state whose ``adapters:`` value matches, as before). With a ``map``, a remote presence it
  does not list ends the condition;
* ``from_statuses`` — only from these statuses (``[1, 3]``: Ready or Away); empty: from any;
* ``over_call`` — ``next`` (as an agent's pick: during a call it becomes the next state, applied when the
  call ends; in wrap-up it applies at once), or ``never`` (refused while on a call or in wrap-up);
* ``after_own_pick_seconds`` — refused within N seconds of the agent's own pick;
* ``over_supervisor`` — whether it may replace a state a supervisor set;
* ``on_end`` — ``return`` (back to the state before the condition, if nothing else changed since) or ``stay``;
* ``leads`` — the conflict policy when both sides change at once (within ``conflict_seconds``):
  ``remote`` (the inbound change applies) or ``connector`` (the connector's own change stands).

An adapter without an ``inbound:`` entry gets :func:`default_rule`: it applies from any state, during a call
as the next state, and stays — what the Omni-Channel and PBX listeners always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

OVER_CALL = ("next", "never")
ON_END = ("return", "stay")
LEADS = ("remote", "connector")
APPLY, REFUSE, NOTHING = "apply", "refuse", "nothing"

#: how adapters' sources read in causes and on the dashboard ("Meeting (from Teams)")
SOURCE_NAMES = {"teams": "Teams", "omni-channel": "Omni-Channel", "pbx": "PBX", "skype": "Skype"}
#: the sources of a supervisor's and of the agent's own picks (model.ChangeSource; not imported: the model imports us)
SUPERVISOR, SOFTPHONE = "supervisor", "softphone"


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


@dataclass(frozen=True)
class InboundRule:
    """One adapter's inbound rule (see the module docstring); the defaults are today's behaviour."""

    adapter: str
    apply: bool = True
    map: Mapping[str, str] = field(default_factory=dict)
    from_statuses: tuple[int, ...] = ()
    over_call: str = "next"
    after_own_pick_seconds: int = 0
    over_supervisor: bool = True
    on_end: str = "stay"
    leads: str = "remote"
    conflict_seconds: int = 5

    def as_dict(self) -> dict:
        body: dict = {"apply": self.apply}
        if self.map:
            body["map"] = dict(self.map)
        if self.from_statuses:
            body["from_statuses"] = list(self.from_statuses)
        body.update(
            over_call=self.over_call,
            after_own_pick_seconds=self.after_own_pick_seconds,
            over_supervisor=self.over_supervisor,
            on_end=self.on_end,
            leads=self.leads,
            conflict_seconds=self.conflict_seconds,
        )
        return body


def default_rule(adapter: str) -> InboundRule:
    """The rule of an adapter the configuration says nothing about: as the listeners always behaved."""
    return InboundRule(adapter)


@dataclass(frozen=True)
class Hold:
    """A remote condition in force: which adapter, what it reported, the state before it, the state it set."""

    adapter: str
    remote: str
    before: str | None
    applied: str

    def as_list(self) -> list:
        return [self.adapter, self.remote, self.before, self.applied]

    @classmethod
    def from_list(cls, value: object) -> Hold | None:
        if isinstance(value, (list, tuple)) and len(value) == 4:
            return cls(str(value[0]), str(value[1]), value[2], str(value[3]))
        return None


@dataclass(frozen=True)
class Situation:
    """What the rules need to know of the agent right now."""

    state_id: str | None
    status: int | None
    state_source: str | None
    state_since: datetime | None
    on_call: bool = False
    in_wrap_up: bool = False
    hold: Hold | None = None


@dataclass(frozen=True)
class Verdict:
    """``action``: apply (move to ``target``), refuse (a rule forbids it) or nothing (nothing to do).

    ``rule`` names the rule that decided (``inbound.<adapter>.<rule>``), ``reason`` says why in words, ``hold``
    is the condition in force afterwards (None: none)."""

    action: str
    rule: str
    reason: str
    target: str | None = None
    hold: Hold | None = None

    @property
    def cause(self) -> str:
        return f"{self.rule}: {self.reason}"[:200]


def decide(
    rule: InboundRule,
    now: datetime,
    situation: Situation,
    remote: str | None,
    proposed: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Verdict:
    """The verdict on ``remote`` (what the adapter reports; None: its condition ended) for one agent.

    ``proposed`` is the state the adapter's own mapping gives (used when the rule has no ``map``);
    ``labels`` state id -> label, for the reasons' words.
    """
    name = f"inbound.{rule.adapter}"
    who = source_name(rule.adapter)
    label = (labels or {}).get
    hold = situation.hold if situation.hold is not None and situation.hold.adapter == rule.adapter else None
    other_hold = situation.hold if hold is None else None
    target = rule.map.get(remote) if (rule.map and remote is not None) else (proposed if remote is not None else None)
    if remote is None or (rule.map and target is None):
        return _ended(rule, situation, hold, other_hold, remote, name, who, label)
    if not rule.apply:
        return Verdict(REFUSE, f"{name}.apply", f"inbound changes from {who} are off", target, situation.hold)
    if target is None:
        return Verdict(REFUSE, f"{name}.map", f"no state maps to {who} '{remote}'", None, situation.hold)
    said = f"{who} {remote}"
    if situation.state_id == target:
        # already there (a second instance, a repeated report): nothing changes, the condition is remembered
        kept = Hold(rule.adapter, remote, hold.before, target) if hold is not None else other_hold
        return Verdict(NOTHING, f"{name}.map", f"{said}: already {label(target, target)}", target, kept)
    ours = hold is not None and situation.state_id == hold.applied and situation.state_source == rule.adapter
    if (situation.on_call or situation.in_wrap_up) and rule.over_call == "never":
        where = "on a call" if situation.on_call else "in wrap-up"
        return Verdict(
            REFUSE, f"{name}.over_call", f"{said}: never over a call or wrap-up ({where})", target, situation.hold
        )
    if not ours:
        if not rule.over_supervisor and situation.state_source == SUPERVISOR:
            return Verdict(
                REFUSE, f"{name}.over_supervisor", f"{said}: never over a supervisor's state", target, situation.hold
            )
        since = (now - situation.state_since).total_seconds() if situation.state_since else None
        if (
            rule.after_own_pick_seconds
            and situation.state_source == SOFTPHONE
            and since is not None
            and since < rule.after_own_pick_seconds
        ):
            return Verdict(
                REFUSE,
                f"{name}.after_own_pick_seconds",
                f"{said}: the agent picked {label(situation.state_id or '', situation.state_id or '')} "
                f"{int(since)} s ago (less than {rule.after_own_pick_seconds} s)",
                target,
                situation.hold,
            )
        if (
            rule.leads == "connector"
            and situation.state_source not in (None, rule.adapter)
            and since is not None
            and since < rule.conflict_seconds
        ):
            return Verdict(
                REFUSE,
                f"{name}.leads",
                f"{said}: the connector leads and changed the state {int(since)} s ago",
                target,
                situation.hold,
            )
        if rule.from_statuses and situation.status not in rule.from_statuses:
            allowed = ", ".join(str(s) for s in rule.from_statuses)
            return Verdict(
                REFUSE,
                f"{name}.from_statuses",
                f"{said}: only from statuses {allowed} (now {label(situation.state_id or '', situation.state_id or '')})",
                target,
                situation.hold,
            )
    new_hold = None
    if _holds(rule):
        new_hold = Hold(rule.adapter, remote, hold.before if ours and hold else situation.state_id, target)
    if situation.on_call:  # (in wrap-up, as a pick, it applies at once and ends the wrap-up)
        return Verdict(APPLY, f"{name}.over_call", f"{said}: {label(target, target)} after the call", target, new_hold)
    return Verdict(APPLY, f"{name}.map", f"{said} -> {label(target, target)}", target, new_hold)


def _holds(rule: InboundRule) -> bool:
    return rule.on_end == "return"


def _ended(rule, situation: Situation, hold, other_hold, remote, name, who, label) -> Verdict:
    """The remote condition ended (nothing reported, or a presence the rule's map does not list)."""
    said = f"{who} {remote}" if remote else f"{who}: condition ended"
    if hold is None:
        return Verdict(NOTHING, f"{name}.on_end", f"{said}: no condition in force", None, other_hold)
    if rule.on_end != "return":
        return Verdict(NOTHING, f"{name}.on_end", f"{said}: the agent stays", None, None)
    if situation.state_id != hold.applied or situation.state_source != rule.adapter:
        return Verdict(
            NOTHING, f"{name}.on_end", f"{said}: the state changed since {hold.remote}: it stays", None, None
        )
    if hold.before is None:
        return Verdict(NOTHING, f"{name}.on_end", f"{said}: nothing to return to", None, None)
    if situation.on_call or situation.in_wrap_up:
        # the call's own end decides where the agent goes; the condition is over
        return Verdict(NOTHING, f"{name}.on_end", f"{said}: on a call, the call's end decides", None, None)
    back = hold.before
    return Verdict(APPLY, f"{name}.on_end", f"{who} {hold.remote} ended -> back to {label(back, back)}", back, None)
