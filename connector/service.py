"""Agent operations: run the engine on the stored session and record its decision in one transaction.

The flow of one change (DESIGN.md section 3): lock the agent's session, let the engine decide,
then — in the same transaction — close the open interval, open the new one, update the session,
count, log logon events, write one outbox row per enabled adapter and the live events. Live
subscribers hear of it only after the commit.
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

from .bus import EventBus
from .clock import Clock, iso, utc_now
from .configs import ConfigRegistry
from .engine import (CALL_DIRECTIONS, AgentSession, ChangeSource, Counted, Decision, DialRequested, Engine,
                     LogonEvent, SessionEnded, StateChanged)
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .presence_config import PresenceConfig
from .security import check_pin, seal, verify_secret
from .settings import Settings
from .store import Store
from .store.models import Agent, AgentSessionRow, Call, DailyCounter, DailyTotal, LogonEventRow, StateInterval
from .store.rows import logons_from_json, outbox_row, session_from_row, session_to_row
from .tracking import split_by_day
from .views import agent_view, presence_payload


#: which adapters get an outbox row for a change; the adapters package replaces the default
OutboxTargets = Callable[[PresenceConfig], list[str]]


@dataclass
class Outcome:
    decision: Decision
    view: dict


class PresenceService:
    """Every agent operation: logins, state changes, calls, timed rules, and the reads pages need."""

    def __init__(self, store: Store, settings: Settings, bus: EventBus, configs: ConfigRegistry,
                 clock: Clock = utc_now, outbox_targets: OutboxTargets | None = None):
        self.store = store
        self.settings = settings
        self.bus = bus
        self.configs = configs
        self.clock = clock
        self.outbox_targets: OutboxTargets = outbox_targets or (lambda config: [])
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
            if any(isinstance(e, StateChanged) for e in decision.effects):
                published.append(("agent", view))
            for kind, data in published:  # live events commit with the change (connector.bus)
                self.bus.record(s, kind, data)
        if published:
            self.bus.wake()
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
                                        source=effect.source, started_at=effect.at))
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
        session_to_row(decision.session, row)
        due = engine.next_due(decision.session)
        row.next_due_at = due[0] if due else None
        row.version = (row.version or 0) + 1

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
        device = _text(device or logon_source, "device", 100)
        if pin is not None:
            check_pin(pin)

        def decide(engine: Engine, sess: AgentSession, now: datetime, s: Session) -> Decision:
            agent = s.get(Agent, agent_id)
            if pin is not None and not verify_secret(agent.pin_hash, pin):
                raise Forbidden("the PIN does not match this agent's PIN", field="pin", code="wrong_pin")
            code = engine.config.options.login_code
            if (pin is None and agent.pin_hash and engine.config.options.pbx_mode == "dial" and "{pin}" in code
                    and not sess.logged_in):
                raise InvalidInput("the PBX login code needs the agent's PIN: send 'pin'", field="pin")
            return engine.login(sess, now, logon_source, device, source)

        return self._run(agent_id, decide, pin=pin)

    def agent_for_extension(self, extension: object) -> str:
        """The agent whose extension this is (a PBX short-code login names the extension, not the agent)."""
        extension = _text(extension, "extension", 32, required=True)
        with self.store.read() as s:
            agent_id = s.execute(select(Agent.id).where(Agent.extension == extension, Agent.active.is_(True))
                                 ).scalars().first()
        if agent_id is None:
            raise NotFound(f"no agent has extension {extension}", field="extension", code="unknown_extension")
        return agent_id

    def logout(self, agent_id: str, logon_source: str, source: str = ChangeSource.SOFTPHONE, actor: str | None = None) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.logout(sess, now, logon_source, source, actor))

    def set_state(self, agent_id: str, ref: object, source: str = ChangeSource.SOFTPHONE, system: bool = False) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.set_state(sess, now, ref, source, system))

    def heartbeat(self, agent_id: str, source: str = ChangeSource.SOFTPHONE) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.heartbeat(sess, now, source))

    def extend_wrap_up(self, agent_id: str, seconds: object = None) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.extend_wrap_up(sess, now, seconds))

    def end_wrap_up(self, agent_id: str, source: str = ChangeSource.SOFTPHONE) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.end_wrap_up(sess, now, source))

    def dial(self, agent_id: str, number: object) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.dial(sess, now, number))

    def call_event(self, agent_id: str, call_id: object, event: object, direction: object,
                   duration_seconds: object = None, source: str = ChangeSource.PBX) -> tuple[Outcome, bool]:
        """Record a call started/ended. Returns the outcome and whether it repeated a known event."""
        call_id = _text(call_id, "call_id", 128, required=True)
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
            outcome = self._run(row.agent_id, lambda e, sess, at, s: e.scheduled_logoff(sess, max(scheduled, _latest(sess))))
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


def _latest(session: AgentSession) -> datetime:
    times = [lo.since for lo in session.logons]
    if session.state_since:
        times.append(session.state_since)
    return max(times) if times else datetime.min.replace(tzinfo=timezone.utc)


def _text(value: object, field: str, limit: int, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{field} must be text", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return value.strip()
