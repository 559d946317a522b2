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
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, select
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
from .store import statements
from .store.models import Agent, AgentSessionRow, Call
from .store.rows import logons_from_json, outbox_values, session_from_row, session_values
from .store.statements import AgentRecord
from .tracking import split_by_day
from .grid import agent_grid
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

    def _run(self, agent_id: str, decide: Callable[[Engine, AgentSession, datetime, Session], Decision],
             pin: str | None = None) -> Outcome:
        """Decide on the agent's stored session and write the decision in one transaction.

        Decided first on a read snapshot, then written under the store's write lock with a guard
        (the session row's version, the configuration's version, the agent still active), so the
        write lock covers only the statements; if another writer got there first it is decided
        again. A decision that reads or writes ORM rows (a PIN check, a call record) is decided
        inside the write transaction instead, on the row locked there.
        """
        published: list[tuple[str, dict]] = []
        with self._lock(agent_id):
            for _ in range(3):
                done = self._decide_then_write(agent_id, decide, pin, published)
                if done is not None:
                    break
                published.clear()
            else:
                done = self._decide_in_transaction(agent_id, decide, pin, published)
        agent, decision, config, now = done
        view = agent_view(agent, decision.session, config, now)
        for kind, data in published:
            self.bus.publish(kind, data)
        if any(isinstance(e, StateChanged) for e in decision.effects):
            self.bus.publish("agent", view)
        return Outcome(decision, view)

    def _loaded(self, conn, agent_id: str, lock: bool) -> tuple[AgentRecord, Any, int | None, PresenceConfig]:
        loaded = statements.load_agent_session(conn, agent_id, lock=lock)
        if loaded is None or not loaded[0].active:
            raise NotFound(f"no agent '{agent_id}'", field="agent_id", code="unknown_agent")
        agent, row, config_version = loaded
        return agent, row, config_version, self.configs.at_version(config_version, conn)

    def _decide_then_write(self, agent_id: str, decide, pin: str | None, published: list) -> tuple | None:
        """None when the decision needs the transaction, or another writer changed the session first."""
        with self.store.reader.connect() as conn:
            loaded = statements.load_agent_session(conn, agent_id, lock=False)
            config = self.configs.at_version(loaded[2], conn) if loaded else None
        if loaded is None or not loaded[0].active:  # unknown, disabled or without a session row yet
            return self._decide_in_transaction(agent_id, decide, pin, published)
        agent, row, config_version = loaded
        now = self.clock()
        engine = Engine(config)
        try:
            decision = decide(engine, session_from_row(row), now, _NoSession())
        except _NeedsTransaction:
            return self._decide_in_transaction(agent_id, decide, pin, published)
        with self.store.write_connection() as conn:
            if not statements.claim_session(conn, agent_id, row.version, config_version):
                return None
            self._record(conn, agent, decision, engine, published, pin)
        return agent, decision, config, now

    def _decide_in_transaction(self, agent_id: str, decide, pin: str | None, published: list) -> tuple:
        with self.store.write_connection() as conn:
            agent, row, _, config = self._loaded(conn, agent_id, lock=True)
            now = self.clock()
            engine = Engine(config)
            s = Session(bind=conn, expire_on_commit=False)
            try:
                decision = decide(engine, session_from_row(row), now, s)
                s.flush()
            finally:
                s.close()
            statements.claim_session(conn, agent_id, row.version, None)
            self._record(conn, agent, decision, engine, published, pin)
        return agent, decision, config, now

    def _record(self, conn: Connection, agent: AgentRecord, decision: Decision, engine: Engine, published: list,
                pin: str | None = None) -> None:
        """Write what the decision says, in the caller's transaction (Core statements, see store/statements.py)."""
        tz = self.settings.tz
        config = engine.config
        targets = self.outbox_targets(config)
        outbox: list[dict] = []
        for effect in decision.effects:
            if isinstance(effect, StateChanged):
                if effect.previous is None:  # the PBX login code goes before the first state's code
                    self._pbx_code(outbox, agent, config, targets, "login", effect, pin)
                self._close_interval(conn, agent.id, effect.at)
                if effect.current is not None:
                    statements.open_interval(conn, agent.id, effect.current.id, int(effect.current.status),
                                             effect.current.reason_code, effect.source, effect.at)
                payload = presence_payload(effect)
                for adapter in targets:
                    if adapter != effect.source:  # never echo a change back where it came from
                        outbox.append(outbox_values(agent.id, adapter, "presence", payload, effect.source,
                                                    effect.at))
                published.append(("presence", {"agent_id": agent.id, **payload}))
                if effect.current is None:
                    self._pbx_code(outbox, agent, config, targets, "logout", effect, None)
            elif isinstance(effect, LogonEvent):
                statements.add_logon_event(conn, {"at": effect.at, "agent_id": agent.id, "action": effect.action,
                                                  "logon_source": effect.logon_source, "device": effect.device,
                                                  "actor": effect.actor})
                published.append(("logon", {"agent_id": agent.id, "action": effect.action,
                                            "logon_source": effect.logon_source, "device": effect.device,
                                            "at": iso(effect.at)}))
            elif isinstance(effect, Counted):
                statements.count(conn, agent.id, effect.at.astimezone(tz).date(), effect.counter)
            elif isinstance(effect, SessionEnded):
                published.append(("session_ended", {"agent_id": agent.id, "device": effect.device,
                                                     "reason": effect.reason, "at": iso(effect.at)}))
            elif isinstance(effect, DialRequested):
                for adapter in targets:
                    outbox.append(outbox_values(agent.id, adapter, "dial", {"number": effect.number,
                                                                           "at": iso(effect.at)},
                                                ChangeSource.SOFTPHONE, effect.at))
        statements.add_outbox_rows(conn, outbox)
        due = engine.next_due(decision.session)
        statements.update_session(conn, agent.id, {**session_values(decision.session),
                                                   "next_due_at": due[0] if due else None})

    def _pbx_code(self, outbox: list[dict], agent: AgentRecord, config: PresenceConfig, targets: list[str],
                  kind: str, effect: StateChanged, pin: str | None) -> None:
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
        for adapter in targets:
            if adapter != effect.source:
                outbox.append(outbox_values(agent.id, adapter, kind, dict(payload), effect.source, at))

    def _close_interval(self, conn, agent_id: str, at: datetime) -> None:
        """End the open interval at ``at`` and add its seconds to the daily totals, split at local midnight."""
        for closed in statements.close_open_interval(conn, agent_id, at):
            for day, seconds in split_by_day(closed.started_at, closed.ended_at, self.settings.tz):
                statements.add_to_daily_total(conn, agent_id, day, closed.state_id, closed.status,
                                              closed.reason_code, seconds, at)

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


    def agent_grid(self, agent_ids: list[str] | None = None) -> list[dict]:
        """Every active agent as the dashboard grid shows it (see connector/grid.py)."""
        return agent_grid(self.store, self.configs, self.clock(), self.agents, agent_ids)


class _NeedsTransaction(Exception):
    """A decision asked for the ORM session: decide it again inside the write transaction."""


class _NoSession:
    """Stands in for the ORM session while deciding on a read snapshot; any use means 'decide in the transaction'."""

    def __getattr__(self, name: str):
        raise _NeedsTransaction(name)


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
