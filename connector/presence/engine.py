"""The agent state machine: the rules of docs/architecture.md ("The presence model") as plain Python.

No Flask, no SQL, no clock reads: every call receives the agent's current session and ``now``,
and returns a :class:`Decision` — the new session and the effects to record (state changes,
logon events, counters, notices). The store applies a decision in one transaction.

Timed rules (wrap-up end, connection loss, inactivity, a call whose end never came) are *due times*
kept in the session. Every call first settles whatever fell due before ``now``, at the moment it fell
due, so the result is the same whether a sweep ran on time, late, or after a restart. A rule never
applies before the configuration that holds it took effect (``PresenceConfig.effective_from``): an
inactivity logout switched on while an agent has been idle for an hour logs the agent out when it was
switched on, not an hour ago.

While a call is up, a state the agent (or a supervisor, or an integration) picks becomes the agent's
*next* state: it applies when the call and its wrap-up end, instead of Ready. A supervisor may force
a change at once; the change then says so ("forced").

The module is about 500 lines on purpose: the whole state machine reads top to bottom in
one place, as the rules do in docs/architecture.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from connector.errors import Conflict, InvalidInput
from connector.presence.inbound_rules import APPLY, Hold, InboundRule, Situation, Verdict, decide
from connector.presence.model import ChangeSource as ChangeSource  # the sources are the adapters' vocabulary
from connector.presence.model import LogonSource as LogonSource  # too: re-exported here (``X as X`` says so)
from connector.presence.model import PresenceConfig, PresenceState, Status

ACQUIRED = "Acquired"
RELEASED = "Released"
CALL_DIRECTIONS = ("inbound", "outbound", "internal")
DIAL_NUMBER_RE = re.compile(r"^[0-9*#+]{1,32}$")
#: what people paste around a number ("+44 20 7946 0000", "(030) 123-45.67"): dropped before dialling
DIAL_SEPARATORS_RE = re.compile(r"[\s\-.()\[\]]")
CALL_END_NOT_RECEIVED = "call end not received"


# ---------------------------------------------------------------------------------------------
# the agent's live session


@dataclass(frozen=True)
class Logon:
    source: str
    device: str
    since: datetime


@dataclass(frozen=True)
class AgentSession:
    """Everything the rules need to know about one agent right now."""

    agent_id: str
    logons: tuple[Logon, ...] = ()
    state_id: str | None = None
    state_since: datetime | None = None
    wrap_up_until: datetime | None = None
    call_id: str | None = None
    call_direction: str | None = None
    call_since: datetime | None = None
    next_state_id: str | None = None  # picked during a call: applies when the call and its wrap-up end
    next_state_source: str | None = None
    last_activity_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    connection_lost_at: datetime | None = None
    state_before_loss: str | None = None
    logoff_pending: bool = False
    #: who set the current state (softphone, supervisor, teams ...): the inbound rules ask
    state_source: str | None = None
    #: a remote condition in force (inbound_rules.Hold as a list): where to return when it ends
    inbound_hold: list[object] | None = None

    @property
    def logged_in(self) -> bool:
        return bool(self.logons)

    def changed(self, **changes: object) -> AgentSession:
        """A copy with ``changes``: ``dataclasses.replace`` without re-running the frozen ``__init__``
        field by field (a change makes two of these)."""
        unknown = changes.keys() - SESSION_FIELDS
        if unknown:
            raise TypeError(f"AgentSession has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(AgentSession)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    @property
    def last_change_at(self) -> datetime:
        """The latest login or state change (the earliest moment a log off may be dated)."""
        times = [lo.since for lo in self.logons] + ([self.state_since] if self.state_since else [])
        return max(times) if times else datetime.min.replace(tzinfo=UTC)

    def logon(self, source: str) -> Logon | None:
        return next((lo for lo in self.logons if lo.source == source), None)


SESSION_FIELDS = frozenset(f.name for f in fields(AgentSession))


# ---------------------------------------------------------------------------------------------
# effects


@dataclass(frozen=True)
class StateChanged:
    at: datetime
    previous: PresenceState | None  # None: the session starts
    current: PresenceState | None  # None: the session ends
    source: str  # who asked: softphone, api, supervisor, pbx, teams, omni-channel, system ...
    cause: str = ""  # why, in words (wrap-up ended, call started, connection lost ...)


@dataclass(frozen=True)
class LogonEvent:
    at: datetime
    action: str  # Acquired | Released
    logon_source: str
    device: str
    actor: str | None = None


@dataclass(frozen=True)
class Counted:
    at: datetime
    counter: str


@dataclass(frozen=True)
class SessionEnded:
    """Tell a device its session is over (e.g. taken over by another login) and why."""

    at: datetime
    device: str
    reason: str


@dataclass(frozen=True)
class DialRequested:
    at: datetime
    number: str


@dataclass(frozen=True)
class InboundDecided:
    """An adapter reported a change; the inbound rules applied or refused it (``verdict`` names the rule)."""

    at: datetime
    adapter: str
    remote: str | None
    verdict: Verdict
    #: the agent's state before and after the decision (the audit trail's before/after)
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class CallClosed:
    """A call closed without its "ended" event (the maximum call duration, a supervisor), and why."""

    at: datetime
    call_id: str
    cause: str


Effect = StateChanged | LogonEvent | Counted | SessionEnded | DialRequested | CallClosed | InboundDecided


@dataclass
class Decision:
    session: AgentSession
    effects: list[Effect] = field(default_factory=list)

    @property
    def state_changes(self) -> list[StateChanged]:
        return [e for e in self.effects if isinstance(e, StateChanged)]


COUNTERS = (
    "calls_inbound_answered",
    "calls_outbound_answered",
    "calls_internal_answered",
    "calls_ring_only",
    "wrap_ups_completed",
    "wrap_ups_extended",
    "logins",
)


# ---------------------------------------------------------------------------------------------
# the rules


class Engine:
    """Applies the rules of one presence configuration. Stateless between calls."""

    def __init__(self, config: PresenceConfig):
        self.config = config
        #: no timed rule of this configuration applies before it took effect
        self.rules_since: datetime | None = config.effective_from

    # -- helpers -----------------------------------------------------------------------------
    def state_of(self, session: AgentSession) -> PresenceState | None:
        if session.state_id is None:
            return None
        try:
            return self.config.state(session.state_id)
        except KeyError:
            # the admin removed the state the agent is in; treat it as Ready from now on
            return self.config.ready_state

    def _move(
        self, d: Decision, at: datetime, target: PresenceState, source: str, cause: str = "", **changes: object
    ) -> None:
        """Put the agent into ``target`` at ``at``; leaving wrap-up counts it as completed."""
        current = self.state_of(d.session)
        if self._in_wrap_up(d.session) and "wrap_up_until" not in changes:
            d.effects.append(Counted(at, "wrap_ups_completed"))
            changes["wrap_up_until"] = None
        if current is not None and current.id == target.id and d.session.state_id == target.id:
            d.session = d.session.changed(**changes)
            return
        d.session = d.session.changed(state_id=target.id, state_since=at, state_source=source, **changes)
        d.effects.append(StateChanged(at, current, target, source, cause))

    @staticmethod
    def _in_wrap_up(session: AgentSession) -> bool:
        return session.wrap_up_until is not None

    def _require_login(self, session: AgentSession) -> None:
        if not session.logged_in:
            raise Conflict(f"agent '{session.agent_id}' is not logged in", code="not_logged_in")

    def _touch(self, d: Decision, now: datetime, heartbeat: bool = True) -> None:
        changes: dict[str, object] = {"last_activity_at": now}
        if heartbeat:
            changes["last_heartbeat_at"] = now
        d.session = d.session.changed(**changes)

    # -- timed rules -------------------------------------------------------------------------
    def next_due(self, session: AgentSession) -> tuple[datetime, str] | None:
        """The earliest timed rule still to apply to this session, and which one."""
        if not session.logged_in:
            return None
        policy = self.config.options.session
        candidates: list[tuple[datetime, str]] = []
        if session.wrap_up_until is not None:
            candidates.append((session.wrap_up_until, "wrap_up_end"))
        if session.connection_lost_at is not None:
            candidates.append(
                (
                    session.connection_lost_at + timedelta(seconds=policy.reconnect_window_seconds),
                    "reconnect_window_end",
                )
            )
        elif (
            policy.heartbeat_grace_seconds
            and session.last_heartbeat_at is not None
            and session.logon(LogonSource.SOFTPHONE) is not None
            and session.call_id is None
        ):
            candidates.append(
                (session.last_heartbeat_at + timedelta(seconds=policy.heartbeat_grace_seconds), "connection_lost")
            )
        if policy.inactivity_logout_seconds and session.last_activity_at is not None and session.call_id is None:
            candidates.append(
                (session.last_activity_at + timedelta(seconds=policy.inactivity_logout_seconds), "inactivity")
            )
        max_call = self.config.options.max_call_seconds
        if max_call and session.call_id is not None and session.call_since is not None:
            candidates.append((session.call_since + timedelta(seconds=max_call), "call_end_not_received"))
        if not candidates:
            return None
        at, rule = min(candidates)
        if self.rules_since is not None and at < self.rules_since:
            at = self.rules_since  # the rule did not exist before: it applies from then
        return at, rule

    def settle(self, session: AgentSession, now: datetime) -> Decision:
        """Apply every timed rule that fell due up to ``now``, each at its own due time."""
        d = Decision(session)
        self._settle(d, now)
        return d

    def _settle(self, d: Decision, now: datetime) -> None:
        for _ in range(10):  # each step either ends the session or clears its timer
            due = self.next_due(d.session)
            if due is None or due[0] > now:
                return
            at, rule = due
            if rule == "wrap_up_end":
                self._leave_wrap_up(d, at, ChangeSource.SYSTEM, "wrap-up ended")
            elif rule == "connection_lost":
                offline = self.config.offline_state
                assert offline is not None  # validation requires it when a grace period is set
                before = d.session.state_id
                self._move(
                    d,
                    at,
                    offline,
                    ChangeSource.SYSTEM,
                    "connection lost",
                    connection_lost_at=at,
                    state_before_loss=before,
                )
            elif rule == "reconnect_window_end":
                self._end_session(d, at, LogonSource.CONNECTION_LOST, ChangeSource.SYSTEM, actor=None)
            elif rule == "inactivity":
                self._end_session(d, at, LogonSource.INACTIVITY, ChangeSource.SYSTEM, actor=None)
            elif rule == "call_end_not_received":
                self._close_call(d, at, CALL_END_NOT_RECEIVED)

    # -- login / logout ----------------------------------------------------------------------
    def login(
        self, session: AgentSession, now: datetime, logon_source: str, device: str, source: str = ChangeSource.SOFTPHONE
    ) -> Decision:
        """Acquire a logon. A second device for the same logon source follows the duplicate policy."""
        if logon_source not in LogonSource.ALL:
            raise InvalidInput(
                f"unknown logon source '{logon_source}'; use one of: " + ", ".join(LogonSource.ALL),
                field="logon_source",
            )
        d = self.settle(session, now)
        existing = d.session.logon(logon_source)
        if existing is not None and existing.device == device:
            self._touch(d, now)
            self._reconnect(d, now, source)
            return d  # the same device logging in again: nothing new to record
        if existing is not None:
            if self.config.options.session.duplicate_login == "reject":
                raise Conflict(
                    f"agent '{session.agent_id}' is already logged in on {existing.device} "
                    f"({existing.source}, since {existing.since.isoformat(timespec='seconds')}); "
                    "log out there first",
                    code="already_logged_in",
                    field="device",
                )
            d.effects.append(LogonEvent(now, RELEASED, LogonSource.DUPLICATE_LOGIN, existing.device))
            d.effects.append(
                SessionEnded(
                    now, existing.device, f"logged in on {device} ({logon_source}); this session was taken over"
                )
            )
            d.session = d.session.changed(logons=tuple(lo for lo in d.session.logons if lo is not existing))
        first = not d.session.logged_in
        d.session = d.session.changed(logons=d.session.logons + (Logon(logon_source, device, now),))
        d.effects.append(LogonEvent(now, ACQUIRED, logon_source, device))
        d.effects.append(Counted(now, "logins"))
        self._touch(d, now)
        if first:
            self._move(d, now, self.config.initial_state, source, "login")
        else:
            self._reconnect(d, now, source)
        return d

    def logout(
        self,
        session: AgentSession,
        now: datetime,
        logon_source: str,
        source: str = ChangeSource.SOFTPHONE,
        actor: str | None = None,
    ) -> Decision:
        """End the agent's session: every logon is released with ``logon_source``."""
        d = self.settle(session, now)
        self._require_login(d.session)
        current = self.state_of(d.session)
        allowed = self.config.options.session.logout_allowed_statuses
        if logon_source not in LogonSource.FORCED and current is not None and int(current.status) not in allowed:
            names = ", ".join(f"{s} ({Status(s).label})" for s in allowed)
            raise Conflict(
                f"logout is not allowed while '{current.display}'; change to one of these statuses first: {names}",
                code="logout_not_allowed",
                field="state",
            )
        self._end_session(d, now, logon_source, source, actor)
        return d

    def _end_session(self, d: Decision, at: datetime, logon_source: str, source: str, actor: str | None) -> None:
        current = self.state_of(d.session)
        if self._in_wrap_up(d.session):
            d.effects.append(Counted(at, "wrap_ups_completed"))
        for logon in d.session.logons:
            d.effects.append(LogonEvent(at, RELEASED, logon_source, logon.device, actor))
        d.effects.append(StateChanged(at, current, None, source, logon_source))
        d.session = AgentSession(agent_id=d.session.agent_id)

    def scheduled_logoff(self, session: AgentSession, at: datetime) -> Decision:
        """The organisation-wide log off; an agent on a call is logged off when the call ends."""
        d = self.settle(session, at)
        if not d.session.logged_in:
            return d
        if d.session.call_id is not None:
            d.session = d.session.changed(logoff_pending=True)
            return d
        self._end_session(d, at, LogonSource.SCHEDULED_LOG_OFF, ChangeSource.SYSTEM, actor=None)
        return d

    def heartbeat(self, session: AgentSession, now: datetime, source: str = ChangeSource.SOFTPHONE) -> Decision:
        d = self.settle(session, now)
        self._require_login(d.session)
        self._touch(d, now)
        self._reconnect(d, now, source)
        return d

    def _reconnect(self, d: Decision, now: datetime, source: str) -> None:
        """A softphone back within the reconnect window returns to the state it was in."""
        if d.session.connection_lost_at is None:
            return
        back = d.session.state_before_loss
        target = self.config.find(back) if back else None
        if target is not None and target == self.config.wrap_up_state:
            target = None  # the wrap-up timer is gone with the connection: back to Ready
        self._move(
            d,
            now,
            target or self.config.ready_state,
            source,
            "connection restored",
            connection_lost_at=None,
            state_before_loss=None,
        )

    # -- presence ----------------------------------------------------------------------------
    def resolve(self, ref: object) -> PresenceState:
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInput("state is required: a state id or label", field="state")
        state = self.config.find(ref)
        if state is None:
            known = ", ".join(s.id for s in self.config.states if s.selectable)
            raise InvalidInput(
                f"unknown state '{ref}'; selectable states: {known}", field="state", code="unknown_state"
            )
        return state

    def set_state(
        self,
        session: AgentSession,
        now: datetime,
        ref: object,
        source: str = ChangeSource.SOFTPHONE,
        system: bool = False,
        force: bool = False,
    ) -> Decision:
        """Change presence. Agents and supervisors may pick only selectable states.

        During a call the pick becomes the *next* state (applied when the call and its wrap-up end),
        unless the change is forced; a forced change is recorded with the cause "forced".
        """
        target = self.resolve(ref)
        if not target.selectable and not system:
            raise InvalidInput(
                f"'{target.display}' is set by the system and cannot be picked",
                field="state",
                code="state_not_selectable",
            )
        d = self.settle(session, now)
        self._require_login(d.session)
        self._touch(d, now, heartbeat=source == ChangeSource.SOFTPHONE)
        if d.session.call_id is not None and not (force or system):
            d.session = d.session.changed(next_state_id=target.id, next_state_source=source)
            return d
        if d.session.connection_lost_at is not None:
            d.session = d.session.changed(connection_lost_at=None, state_before_loss=None)
        self._move(d, now, target, source, "forced" if force else "", next_state_id=None, next_state_source=None)
        return d

    def inbound(
        self, session: AgentSession, now: datetime, rule: InboundRule, remote: str | None, proposed: str | None = None
    ) -> Decision:
        """A change another system reports (``remote``; None: its condition ended), under the adapter's
        inbound ``rule`` (connector.presence.inbound_rules). Applied like a pick from that source, with the
        rule that decided it as the cause; refused changes are recorded too (an :class:`InboundDecided`)."""
        d = self.settle(session, now)
        self._require_login(d.session)
        current = self.state_of(d.session)
        situation = Situation(
            state_id=d.session.state_id,
            status=int(current.status) if current is not None else None,
            state_source=d.session.state_source,
            state_since=d.session.state_since,
            on_call=d.session.call_id is not None,
            in_wrap_up=self._in_wrap_up(d.session),
            hold=Hold.from_list(d.session.inbound_hold),
        )
        labels = {s.id: s.label for s in self.config.states}
        before = d.session.state_id
        verdict = decide(rule, now, situation, remote, proposed, labels)
        if verdict.action == APPLY:
            assert verdict.target is not None  # an applied verdict always names its state
            target = self.resolve(verdict.target)
            if not target.selectable and not verdict.rule.endswith(".on_end"):
                raise InvalidInput(
                    f"'{target.display}' is set by the system and cannot be picked",
                    field="state",
                    code="state_not_selectable",
                )
            self._touch(d, now, heartbeat=False)
            if d.session.call_id is not None:
                d.session = d.session.changed(next_state_id=target.id, next_state_source=rule.adapter)
            else:
                if d.session.connection_lost_at is not None:
                    d.session = d.session.changed(connection_lost_at=None, state_before_loss=None)
                self._move(d, now, target, rule.adapter, verdict.cause, next_state_id=None, next_state_source=None)
        elif verdict.target is not None and verdict.target == d.session.state_id:
            self._touch(d, now, heartbeat=False)  # reported again: activity, as a pick of the same state is
        d.session = d.session.changed(inbound_hold=verdict.hold.as_list() if verdict.hold else None)
        d.effects.append(InboundDecided(now, rule.adapter, remote, verdict, before, d.session.state_id))
        return d

    def cancel_next_state(self, session: AgentSession, now: datetime, source: str = ChangeSource.SOFTPHONE) -> Decision:
        """Drop the state picked for after the call: the agent goes back to Ready as usual."""
        d = self.settle(session, now)
        self._require_login(d.session)
        self._touch(d, now, heartbeat=source == ChangeSource.SOFTPHONE)
        d.session = d.session.changed(next_state_id=None, next_state_source=None)
        return d

    # -- wrap-up -----------------------------------------------------------------------------
    def extend_wrap_up(self, session: AgentSession, now: datetime, seconds: object = None) -> Decision:
        if seconds is None:
            seconds = self.config.options.wrap_up_seconds or 30
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 999:
            raise InvalidInput("seconds must be a whole number from 1 to 999", field="seconds")
        d = self.settle(session, now)
        self._require_login(d.session)
        if d.session.wrap_up_until is None:
            raise Conflict("the agent is not in wrap-up", code="not_in_wrap_up")
        self._touch(d, now)
        d.session = d.session.changed(wrap_up_until=d.session.wrap_up_until + timedelta(seconds=seconds))
        d.effects.append(Counted(now, "wrap_ups_extended"))
        return d

    def end_wrap_up(self, session: AgentSession, now: datetime, source: str = ChangeSource.SOFTPHONE) -> Decision:
        d = self.settle(session, now)
        self._require_login(d.session)
        if d.session.wrap_up_until is None:
            raise Conflict("the agent is not in wrap-up", code="not_in_wrap_up")
        self._touch(d, now)
        self._leave_wrap_up(d, now, source, "wrap-up ended early")
        return d

    def _leave_wrap_up(self, d: Decision, at: datetime, source: str, cause: str) -> None:
        """Wrap-up is over: to the state picked during the call, else Ready."""
        if d.session.next_state_id is not None:
            self._to_next_state(d, at, cause)
        else:
            self._move(d, at, self.config.ready_state, source, cause)

    def _to_next_state(self, d: Decision, at: datetime, cause: str) -> None:
        next_state_id = d.session.next_state_id
        assert next_state_id is not None  # both callers go here only when a next state was picked
        target = self.config.find(next_state_id) or self.config.ready_state
        source = d.session.next_state_source or ChangeSource.SYSTEM
        self._move(d, at, target, source, f"{cause}: next state", next_state_id=None, next_state_source=None)

    # -- calls -------------------------------------------------------------------------------
    def call_started(
        self, session: AgentSession, now: datetime, call_id: str, direction: str, source: str = ChangeSource.PBX
    ) -> Decision:
        d = self.settle(session, now)
        if not d.session.logged_in or d.session.call_id is not None:
            return d  # a second line, or a call for an agent not logged in: nothing to change
        d.session = d.session.changed(call_id=call_id, call_direction=direction, call_since=now, last_activity_at=now)
        on_call = self.config.on_call_state
        if self.config.options.active_call and on_call is not None:
            self._move(d, now, on_call, source, "call started")
        return d

    def call_ended(
        self,
        session: AgentSession,
        now: datetime,
        call_id: str,
        direction: str,
        duration_seconds: int,
        source: str = ChangeSource.PBX,
    ) -> Decision:
        """Count the call; then a pending scheduled log off, wrap-up, the next state, or back to Ready."""
        d = self.settle(session, now)
        if duration_seconds == 0:
            d.effects.append(Counted(now, "calls_ring_only"))
        else:
            d.effects.append(Counted(now, f"calls_{direction}_answered"))
        if not d.session.logged_in or d.session.call_id not in (None, call_id):
            return d
        self._after_call(d, now, source, "call ended", wrap_up=duration_seconds > 0 and direction != "internal")
        return d

    def end_call(self, session: AgentSession, now: datetime, actor: str) -> Decision:
        """A supervisor closes a call whose end never came (the agent is stuck "on a call")."""
        d = self.settle(session, now)
        self._require_login(d.session)
        if d.session.call_id is None:
            raise Conflict(f"agent '{session.agent_id}' is not on a call", code="not_on_call")
        self._close_call(d, now, f"call ended by supervisor {actor}", ChangeSource.SUPERVISOR)
        return d

    def _close_call(self, d: Decision, at: datetime, cause: str, source: str = ChangeSource.SYSTEM) -> None:
        """Close the call without its end event: no wrap-up (when it really ended is unknown)."""
        d.effects.append(CallClosed(at, d.session.call_id or "", cause))
        self._after_call(d, at, source, cause, wrap_up=False)

    def _after_call(self, d: Decision, at: datetime, source: str, cause: str, wrap_up: bool) -> None:
        d.session = d.session.changed(call_id=None, call_direction=None, call_since=None, last_activity_at=at)
        if d.session.logoff_pending:
            self._end_session(d, at, LogonSource.SCHEDULED_LOG_OFF, ChangeSource.SYSTEM, actor=None)
            return
        opts = self.config.options
        wrap_up_state = self.config.wrap_up_state
        if wrap_up and opts.wrap_up_seconds and wrap_up_state is not None:
            until = at + timedelta(seconds=opts.wrap_up_seconds)
            self._move(d, at, wrap_up_state, source, f"{cause}: wrap-up", wrap_up_until=until)
        elif d.session.next_state_id is not None:
            self._to_next_state(d, at, cause)
        elif opts.active_call and self.state_of(d.session) == self.config.on_call_state:
            self._move(d, at, self.config.ready_state, source, cause)

    def dial(
        self, session: AgentSession, now: datetime, number: object, source: str = ChangeSource.SOFTPHONE
    ) -> Decision:
        """Dialling while DND puts the agent back to Ready first, then asks the PBX to dial.

        Spaces, dashes, dots and brackets people paste with a number are dropped first.
        """
        if isinstance(number, str):
            number = DIAL_SEPARATORS_RE.sub("", number)
        if not isinstance(number, str) or not DIAL_NUMBER_RE.match(number):
            raise InvalidInput(
                "number must be 1-32 dial characters (0-9 * # +); spaces, dashes, dots and brackets are ignored",
                field="number",
            )
        d = self.settle(session, now)
        self._require_login(d.session)
        self._touch(d, now)
        current = self.state_of(d.session)
        if current is not None and current.status == Status.DND:
            self._move(d, now, self.config.ready_state, source, "dialled while DND")
        d.effects.append(DialRequested(now, number))
        return d
