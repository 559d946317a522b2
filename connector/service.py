"""Agent operations: run the engine on the stored session and record its decision in one transaction.

The flow of one change (DESIGN.md section 3): lock the agent's session, let the engine decide,
then — in the same transaction — close the open interval, open the new one, update the session,
count, log logon events and write one outbox row per enabled adapter. Live subscribers hear of it
only after the commit.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounts import upgrade_pin_hash
from .bus import EventBus
from .clock import Clock, iso, utc_now
from .configs import ConfigRegistry
from .engine import (CALL_DIRECTIONS, AgentSession, CallClosed, ChangeSource, Counted, Decision, DialRequested,
                     Engine, LogonEvent, SessionEnded, StateChanged)
from .validation import one_line
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .presence_config import PresenceConfig
from .security import check_pin, seal, verify_secret
from .settings import Settings
from .store import Store
from .store.models import Agent, AgentSessionRow, Call, DailyCounter, DailyTotal, LogonEventRow, StateInterval
from .store.rows import logons_from_json, outbox_row, session_from_row, session_to_row
from .tracking import split_by_day
from .views import agent_view, presence_payload

#: ``pin_guard(account, check)``: run ``check`` under the guessing limits; None when the PIN was wrong
PinGuard = Callable[[str, Callable[[], "bool | None"]], "bool | None"]


#: which adapters get an outbox row for a change; the adapters package replaces the default
OutboxTargets = Callable[[PresenceConfig], list[str]]


@dataclass
class Outcome:
    decision: Decision
    view: dict


class PresenceService:
    """Every agent operation: logins, state changes, calls, timed rules, and the reads pages need."""

    def __init__(self, store: Store, settings: Settings, bus: EventBus, configs: ConfigRegistry,
                 clock: Clock = utc_now, outbox_targets: OutboxTargets | None = None,
                 dial_targets: OutboxTargets | None = None, outbox_written: Callable[[], None] | None = None,
                 pin_guard: PinGuard | None = None):
        self.store = store
        #: runs a PIN check under the guessing limits (connector/throttle.py); returns None when it failed
        self.pin_guard: PinGuard = pin_guard or (lambda account, check: check())
        self.settings = settings
        self.bus = bus
        self.configs = configs
        self.clock = clock
        self.outbox_targets: OutboxTargets = outbox_targets or (lambda config: [])
        #: the adapters that really dial a number under a configuration (a PBX in dial mode)
        self.dial_targets: OutboxTargets = dial_targets or (lambda config: [])
        #: called after a commit that may have written outbox rows (wakes the dispatcher)
        self.outbox_written = outbox_written or (lambda: None)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------
    def _lock(self, agent_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[agent_id]

    @contextmanager
    def _agent_tx(self, agent_id: str) -> Iterator[tuple[Session, Agent, AgentSessionRow, PresenceConfig, datetime]]:
        """The agent's session row, locked for this transaction (in-process and in the database)."""
        with self._lock(agent_id), self.store.write() as s:
            agent = s.get(Agent, agent_id)
            if agent is None or not agent.active:
                raise NotFound(f"no agent '{agent_id}'", field="agent_id", code="unknown_agent")
            row = s.execute(select(AgentSessionRow).where(AgentSessionRow.agent_id == agent_id)
                            .with_for_update()).scalar_one_or_none()
            if row is None:
                row = AgentSessionRow(agent_id=agent_id, logons=[], version=0, logoff_pending=False)
                s.add(row)
            yield s, agent, row, self.configs.active(s), self.clock()

    def _run(self, agent_id: str, decide: Callable[[Engine, AgentSession, datetime, Session], Decision],
             pin: str | None = None) -> Outcome:
        published: list[tuple[str, dict]] = []
        with self._agent_tx(agent_id) as (s, agent, row, config, now):
            engine = Engine(config)
            decision = decide(engine, session_from_row(row), now, s)
            self._record(s, agent, row, decision, engine, published, pin)
            view = agent_view(agent, decision.session, config, now)
        if any(isinstance(e, (StateChanged, DialRequested)) for e in decision.effects):
            self.outbox_written()
        for kind, data in published:
            self.bus.publish(kind, data)
        if any(isinstance(e, StateChanged) for e in decision.effects):
            self.bus.publish("agent", view)
        return Outcome(decision, view)

    def _record(self, s: Session, agent: Agent, row: AgentSessionRow, decision: Decision, engine: Engine,
                published: list, pin: str | None = None) -> None:
        tz = self.settings.tz
        config = engine.config
        for effect in decision.effects:
            if isinstance(effect, StateChanged):
                if effect.previous is None:  # the PBX login code goes before the first state's code
                    self._pbx_code(s, agent, config, "login", effect, pin)
                self._close_interval(s, agent.id, effect.at)
                if effect.current is not None:
                    s.add(StateInterval(agent_id=agent.id, state_id=effect.current.id,
                                        status=int(effect.current.status), reason_code=effect.current.reason_code,
                                        source=effect.source, cause=effect.cause or None, started_at=effect.at))
                for adapter in self.outbox_targets(config):
                    if adapter != effect.source:  # never echo a change back where it came from
                        s.add(outbox_row(agent.id, adapter, "presence", presence_payload(effect), effect.source,
                                         effect.at))
                published.append(("presence", {"agent_id": agent.id, **presence_payload(effect)}))
                if effect.current is None:
                    self._pbx_code(s, agent, config, "logout", effect, None)
            elif isinstance(effect, LogonEvent):
                s.add(LogonEventRow(at=effect.at, agent_id=agent.id, action=effect.action,
                                    logon_source=effect.logon_source, device=effect.device, actor=effect.actor))
                published.append(("logon", {"agent_id": agent.id, "action": effect.action,
                                            "logon_source": effect.logon_source, "device": effect.device,
                                            "at": iso(effect.at)}))
            elif isinstance(effect, Counted):
                self._count(s, agent.id, effect.at.astimezone(tz).date(), effect.counter)
            elif isinstance(effect, SessionEnded):
                published.append(("session_ended", {"agent_id": agent.id, "device": effect.device,
                                                     "reason": effect.reason, "at": iso(effect.at)}))
            elif isinstance(effect, DialRequested):
                for adapter in self.outbox_targets(config):
                    s.add(outbox_row(agent.id, adapter, "dial", {"number": effect.number, "at": iso(effect.at)},
                                     ChangeSource.SOFTPHONE, effect.at))
            elif isinstance(effect, CallClosed):
                call = s.get(Call, (agent.id, effect.call_id))
                if call is not None and call.ended_at is None:  # a late "ended" event is then a repeat
                    call.ended_at, call.end_cause = effect.at, effect.cause
                    if call.started_at is not None:
                        call.duration_seconds = int((effect.at - call.started_at).total_seconds())
        session_to_row(decision.session, row)
        self._set_due(row, engine, decision.session)
        row.version = (row.version or 0) + 1

    @staticmethod
    def _set_due(row: AgentSessionRow, engine: Engine, session: AgentSession) -> None:
        due = engine.next_due(session)
        row.next_due_at = due[0] if due else None

    def _pbx_code(self, s: Session, agent: Agent, config: PresenceConfig, kind: str, effect: StateChanged,
                  pin: str | None) -> None:
        """Queue the PBX login/logout short code (PBX mode dial); a PIN travels sealed, never in clear.

        Not for a login or logout the PBX itself reported (no echo).
        """
        at = effect.at
        code = config.options.login_code if kind == "login" else config.options.logout_code
        if config.options.pbx_mode != "dial" or not code:
            return
        payload: dict = {"extension": agent.extension, "at": iso(at)}
        if "{pin}" in code:
            if not pin:
                return  # an agent without a PIN has no PBX login code to send
            payload["pin_sealed"] = seal(pin, self.settings.secret_key)
        for adapter in self.outbox_targets(config):
            if adapter != effect.source:
                s.add(outbox_row(agent.id, adapter, kind, dict(payload), effect.source, at))

    def _close_interval(self, s: Session, agent_id: str, at: datetime) -> None:
        open_rows = s.execute(select(StateInterval).where(StateInterval.agent_id == agent_id,
                                                          StateInterval.ended_at.is_(None))).scalars().all()
        for interval in open_rows:
            interval.ended_at = max(at, interval.started_at)
            for day, seconds in split_by_day(interval.started_at, interval.ended_at, self.settings.tz):
                self._add_total(s, interval, day, seconds, at)

    @staticmethod
    def _add_total(s: Session, interval: StateInterval, day, seconds: float, at: datetime) -> None:
        total = s.execute(select(DailyTotal).where(DailyTotal.agent_id == interval.agent_id, DailyTotal.day == day,
                                                   DailyTotal.state_id == interval.state_id)).scalar_one_or_none()
        if total is None:
            total = DailyTotal(agent_id=interval.agent_id, day=day, state_id=interval.state_id, seconds=0.0)
            s.add(total)
        total.status = interval.status
        total.reason_code = interval.reason_code
        total.seconds = (total.seconds or 0.0) + seconds
        total.updated_at = at

    @staticmethod
    def _count(s: Session, agent_id: str, day, counter: str) -> None:
        row = s.execute(select(DailyCounter).where(DailyCounter.agent_id == agent_id, DailyCounter.day == day,
                                                   DailyCounter.counter == counter)).scalar_one_or_none()
        if row is None:
            s.add(DailyCounter(agent_id=agent_id, day=day, counter=counter, count=1))
        else:
            row.count += 1

    # -- operations --------------------------------------------------------------------------
    def login(self, agent_id: str, logon_source: str, device: str, source: str = ChangeSource.SOFTPHONE,
              pin: str | None = None) -> Outcome:
        """Log in on a device. With a PIN (PBX short-code login) the PIN is checked against its hash."""
        device = one_line(device or logon_source, "device", 100)
        if pin is not None:
            check_pin(pin)
            # checked before the change's transaction: a slow hash must not hold the write lock
            if self.pin_guard(f"agent:{agent_id}", lambda: self._pin_matches(agent_id, pin)) is None:
                raise Forbidden("the PIN does not match this agent's PIN", field="pin", code="wrong_pin")

        def decide(engine: Engine, sess: AgentSession, now: datetime, s: Session) -> Decision:
            agent = s.get(Agent, agent_id)
            code = engine.config.options.login_code
            if (pin is None and agent.pin_hash and engine.config.options.pbx_mode == "dial" and "{pin}" in code
                    and not sess.logged_in):
                raise InvalidInput("the PBX login code needs the agent's PIN: send 'pin'", field="pin")
            return engine.login(sess, now, logon_source, device, source)

        return self._run(agent_id, decide, pin=pin)

    def logout(self, agent_id: str, logon_source: str, source: str = ChangeSource.SOFTPHONE, actor: str | None = None) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.logout(sess, now, logon_source, source, actor))

    def set_state(self, agent_id: str, ref: object, source: str = ChangeSource.SOFTPHONE, system: bool = False,
                  force: bool = False) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.set_state(sess, now, ref, source, system, force))

    def cancel_next_state(self, agent_id: str, source: str = ChangeSource.SOFTPHONE) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.cancel_next_state(sess, now, source))

    def end_call(self, agent_id: str, actor: str) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.end_call(sess, now, actor))

    def heartbeat(self, agent_id: str, source: str = ChangeSource.SOFTPHONE) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.heartbeat(sess, now, source))

    def extend_wrap_up(self, agent_id: str, seconds: object = None) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.extend_wrap_up(sess, now, seconds))

    def end_wrap_up(self, agent_id: str, source: str = ChangeSource.SOFTPHONE) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.end_wrap_up(sess, now, source))

    def _pin_matches(self, agent_id: str, pin: str) -> bool | None:
        with self.store.read() as s:
            agent = s.get(Agent, agent_id)
            if agent is None:
                raise NotFound(f"no agent '{agent_id}'", field="agent_id")
            stored = agent.pin_hash
        if not verify_secret(stored, pin, self.store.pepper):
            return None
        upgrade_pin_hash(self.store, agent_id, stored, pin)
        return True

    def dial(self, agent_id: str, number: object) -> tuple[Outcome, dict]:
        """Dial; also says what really happened: which adapters dial it, or why nothing does."""
        pbx_mode, dialling = "none", []

        def decide(engine: Engine, sess: AgentSession, now: datetime, s: Session) -> Decision:
            nonlocal pbx_mode, dialling
            pbx_mode, dialling = engine.config.options.pbx_mode, self.dial_targets(engine.config)
            return engine.dial(sess, now, number)

        outcome = self._run(agent_id, decide)
        dialled = next(e.number for e in outcome.decision.effects if isinstance(e, DialRequested))
        if dialling:
            message = f"sent to {', '.join(dialling)}"
        elif pbx_mode != "dial":
            message = f"not sent: PBX mode is {pbx_mode}"
        else:
            message = "not sent: no PBX adapter is enabled"
        return outcome, {"number": dialled, "sent": bool(dialling), "sent_to": dialling, "message": message}

    def call_event(self, agent_id: str, call_id: object, event: object, direction: object,
                   duration_seconds: object = None, source: str = ChangeSource.PBX) -> tuple[Outcome, bool]:
        """Record a call started/ended. Returns the outcome and whether it repeated a known event."""
        call_id = one_line(call_id, "call_id", 128, required=True)
        if event not in ("started", "ended"):
            raise InvalidInput("event must be 'started' or 'ended'", field="event")
        if direction not in CALL_DIRECTIONS:
            raise InvalidInput("direction must be one of: inbound, outbound, internal", field="direction")
        if event == "ended":
            if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int) \
                    or not 0 <= duration_seconds <= 86400:
                raise InvalidInput("duration_seconds must be a whole number of seconds from 0 to 86400 "
                                   "(0 = rang but not answered)", field="duration_seconds")
        elif duration_seconds is not None:
            raise InvalidInput("duration_seconds belongs to the 'ended' event", field="duration_seconds")
        repeated = False

        def decide(engine: Engine, sess: AgentSession, now: datetime, s: Session) -> Decision:
            nonlocal repeated
            call = s.get(Call, (agent_id, call_id))
            if call is None:
                call = Call(agent_id=agent_id, call_id=call_id, direction=direction)
                s.add(call)
            elif call.direction != direction:
                raise Conflict(f"call '{call_id}' was reported as {call.direction}", field="direction",
                               code="call_mismatch")
            if event == "started":
                if call.started_at is not None or call.ended_at is not None:
                    repeated = True
                    return engine.settle(sess, now)
                call.started_at = now
                return engine.call_started(sess, now, call_id, direction, source)
            if call.ended_at is not None:
                repeated = True
                return engine.settle(sess, now)
            call.ended_at = now
            call.duration_seconds = duration_seconds
            return engine.call_ended(sess, now, call_id, direction, duration_seconds, source)

        return self._run(agent_id, decide), repeated

    # -- timed rules -------------------------------------------------------------------------
    def retime_sessions(self, s: Session, old: PresenceConfig, new: PresenceConfig,
                        now: datetime) -> Callable[[], None]:
        """A new configuration, inside the transaction that applies it: every open session first settles
        what fell due under the old rules, then gets its due time under the new ones (switched on, off or
        changed). Returns what to publish once that transaction has committed."""
        published: list[tuple[str, dict]] = []
        views: list[dict] = []
        old_engine, new_engine = Engine(old), Engine(new)
        rows = s.execute(select(AgentSessionRow).where(AgentSessionRow.state_id.is_not(None))
                         .order_by(AgentSessionRow.agent_id).with_for_update()).scalars().all()
        for row in rows:
            agent = s.get(Agent, row.agent_id)
            decision = old_engine.settle(session_from_row(row), now)
            if decision.effects:
                self._record(s, agent, row, decision, old_engine, published)
                if decision.state_changes:
                    views.append(agent_view(agent, decision.session, new, now))
            self._set_due(row, new_engine, decision.session)

        def publish() -> None:
            for kind, data in published:
                self.bus.publish(kind, data)
            for view in views:
                self.bus.publish("agent", view)
        return publish

    def settle_due(self) -> int:
        """Apply the timed rules (wrap-up end, connection loss, inactivity) that fell due."""
        now = self.clock()
        with self.store.read() as s:
            due = s.execute(select(AgentSessionRow.agent_id).where(AgentSessionRow.next_due_at <= now)).scalars().all()
        for agent_id in due:
            try:
                self._run(agent_id, lambda e, sess, at, s: e.settle(sess, at))
            except NotFound:
                continue
        return len(due)

    def scheduled_logoff(self) -> int:
        """The organisation-wide daily log off; returns how many agents it logged off."""
        config = self.configs.active()
        logoff_time = config.options.session.scheduled_logoff
        if logoff_time is None:
            return 0
        now = self.clock()
        tz = self.settings.tz
        local_now = now.astimezone(tz)
        scheduled = datetime.combine(local_now.date(), logoff_time, tzinfo=tz)
        if scheduled > local_now:
            scheduled -= timedelta(days=1)
        scheduled = scheduled.astimezone(timezone.utc)
        with self.store.read() as s:
            candidates = s.execute(select(AgentSessionRow)).scalars().all()
        count = 0
        for row in candidates:
            logons = logons_from_json(row.logons)
            # only sessions that were open at the scheduled time; later logins stay (also after a restart)
            if not logons or min(lo.since for lo in logons) >= scheduled:
                continue
            if row.logoff_pending:
                continue
            outcome = self._run(row.agent_id, lambda e, sess, at, s: e.scheduled_logoff(sess, max(scheduled, sess.last_change_at)))
            count += 1 if not outcome.decision.session.logged_in else 0
        return count

    # -- reads -------------------------------------------------------------------------------
    def presence(self, agent_id: str) -> dict:
        with self.store.read() as s:
            agent = s.get(Agent, agent_id)
            if agent is None or not agent.active:
                raise NotFound(f"no agent '{agent_id}'", field="agent_id", code="unknown_agent")
            row = s.get(AgentSessionRow, agent_id)
            config = self.configs.active(s)
            now = self.clock()
            session = session_from_row(row) if row else AgentSession(agent_id)
            return agent_view(agent, Engine(config).settle(session, now).session, config, now)

    def agents(self, agent_ids: list[str] | None = None) -> list[dict]:
        with self.store.read() as s:
            query = select(Agent, AgentSessionRow).outerjoin(AgentSessionRow, AgentSessionRow.agent_id == Agent.id) \
                .where(Agent.active.is_(True)).order_by(Agent.team, Agent.name)
            if agent_ids is not None:
                query = query.where(Agent.id.in_(agent_ids))
            config = self.configs.active(s)
            engine = Engine(config)
            now = self.clock()
            views = []
            for agent, row in s.execute(query).all():
                session = session_from_row(row) if row else AgentSession(agent.id)
                views.append(agent_view(agent, engine.settle(session, now).session, config, now))
            return views

