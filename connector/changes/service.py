"""Agent operations: run the engine on the stored session and record its decision in one transaction.

The flow of one change (docs/architecture.md, "The change path"): lock the agent's session, let the engine decide,
then — in the same transaction — close the open interval, open the new one, update the session,
count, log logon events, write one outbox row per enabled adapter and the live events. Live
subscribers hear of it only after the commit.

It is a little over 500 lines on purpose: each operation an agent, a supervisor, the PBX or an inbound rule
asks for (login, logout, set state, calls, dial, next state, inbound changes) is a short method around the same
lock-decide-record step, and keeping them beside that step is what makes the change path readable in one place.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.audit import trail
from connector.auth.accounts import upgrade_pin_hash
from connector.auth.hashing import check_pin, verify_secret
from connector.changes.configs import ConfigRegistry
from connector.changes.grid import agent_grid
from connector.changes.recording import DecisionWriter
from connector.changes.views import agent_view
from connector.clock import Clock, utc_now
from connector.errors import Conflict, ConnectorError, Forbidden, InvalidInput, NotFound
from connector.live.bus import EventBus
from connector.live.subscriptions import Encoded
from connector.observe import metrics
from connector.presence.engine import (
    CALL_DIRECTIONS,
    AgentSession,
    ChangeSource,
    Decision,
    DialRequested,
    Engine,
    InboundDecided,
    StateChanged,
)
from connector.presence.model import PresenceConfig
from connector.settings import Settings
from connector.store import Store, statements
from connector.store.models import Agent, AgentSessionRow, Call, zone_name_of
from connector.store.rows import logons_from_json, session_from_row
from connector.store.statements import AgentRecord
from connector.validation import one_line

log = logging.getLogger(__name__)

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

    def __init__(
        self,
        store: Store,
        settings: Settings,
        bus: EventBus,
        configs: ConfigRegistry,
        clock: Clock = utc_now,
        outbox_targets: OutboxTargets | None = None,
        dial_targets: OutboxTargets | None = None,
        outbox_written: Callable[[], None] | None = None,
        pin_guard: PinGuard | None = None,
    ):
        self.store = store
        #: runs a PIN check under the guessing limits (connector/auth/limits.py); returns None when it failed
        self.pin_guard: PinGuard = pin_guard or (lambda account, check: check())
        self.settings = settings
        self.bus = bus
        self.configs = configs
        self.clock = clock
        self.outbox_targets: OutboxTargets = outbox_targets or (lambda config: [])
        self._writer = DecisionWriter(settings, lambda config: self.outbox_targets(config))
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

    def _run(
        self,
        agent_id: str,
        decide: Callable[[Engine, AgentSession, datetime, Session], Decision],
        pin: str | None = None,
        audit: trail.Entry | None = None,
    ) -> Outcome:
        """Decide on the agent's stored session and write the decision in one transaction (with ``audit``, the
        audit trail's row of a supervisor's or admin's change: it commits with the change or not at all).

        Decided first on a read snapshot, then written under the store's write lock with a guard
        (the session row's version, the configuration's version, the agent still active), so the
        write lock covers only the statements; if another writer got there first it is decided
        again. A decision that reads or writes ORM rows (a PIN check, a call record) is decided
        inside the write transaction instead, on the row locked there.
        """
        published: list[tuple[str, dict]] = []
        with self._lock(agent_id):
            for _ in range(3):
                done = self._decide_then_write(agent_id, decide, pin, published, audit)
                if done is not None:
                    break
                published.clear()
            else:
                done = self._decide_in_transaction(agent_id, decide, pin, published, audit)
        decision, view, outbox_rows = done
        for effect in decision.state_changes:  # committed
            metrics.changed(effect.source)
        if outbox_rows:
            self.outbox_written()
        if published:
            self.bus.wake()  # the live events committed with the change (connector.live.bus)
        return Outcome(decision, view)

    def _loaded(self, conn, agent_id: str, lock: bool) -> tuple[AgentRecord, Any, int | None, PresenceConfig]:
        loaded = statements.load_agent_session(conn, agent_id, lock=lock)
        if loaded is None or not loaded[0].active:
            raise NotFound(f"no agent '{agent_id}'", field="agent_id", code="unknown_agent")
        agent, row, config_version = loaded
        return agent, row, config_version, self.configs.at_version(config_version, conn)

    def _decide_then_write(
        self, agent_id: str, decide, pin: str | None, published: list, audit: trail.Entry | None
    ) -> tuple | None:
        """None when the decision needs the transaction, or another writer changed the session first."""
        with self.store.quick_read() as conn:
            loaded = statements.load_agent_session(conn, agent_id, lock=False)
        if loaded is None:  # unknown, or without a session row yet
            return self._decide_in_transaction(agent_id, decide, pin, published, audit)
        config = self.configs.at_version(loaded[2])
        if not loaded[0].active:  # disabled
            return self._decide_in_transaction(agent_id, decide, pin, published, audit)
        agent, row, config_version = loaded
        now = self.clock()
        engine = Engine(config)
        try:
            decision = decide(engine, session_from_row(row), now, _NoSession())
        except _NeedsTransaction:
            return self._decide_in_transaction(agent_id, decide, pin, published, audit)

        def write(conn) -> tuple:
            mine: list = []
            guard: tuple[int | None, int | None] = (row.version, config_version)
            # the session row's guarded update is the claim; StaleSession rolls the change back. On SQLite (one
            # writer) it is the last statement. On PostgreSQL it is the first, so the session row's lock is the
            # change's first and two writers of one agent queue there (no deadlock); its answer is read after the
            # other statements went out (no wait of its own in pipeline mode), and the change's inserts and
            # upserts go out as one statement (statements.PendingWrites)
            pending = None if self.store.is_sqlite else statements.PendingWrites()
            done = self._write(conn, agent, decision, engine, mine, pin, now, guard=guard, audit=audit, pending=pending)
            if pending is not None and not pending.claimed():
                raise statements.StaleSession(agent_id)  # the statements above are rolled back with it
            published.extend(mine)  # only once its savepoint holds (store.write_shared)
            return done

        try:
            return self.store.write_shared(write, pipelined=True)
        except Exception as exc:
            if statements.must_retry(exc):
                return None  # another writer got there first (or PostgreSQL broke a lock cycle): decided again
            raise

    def _decide_in_transaction(
        self, agent_id: str, decide, pin: str | None, published: list, audit: trail.Entry | None
    ) -> tuple:
        with self.store.write_connection() as conn:
            return self.decide_on(conn, agent_id, decide, pin, published, audit=audit)

    def decide_on(
        self,
        conn,
        agent_id: str,
        decide,
        pin: str | None,
        published: list,
        record_events: bool = True,
        audit: trail.Entry | None = None,
    ) -> tuple[Decision, dict, int]:
        """Decide on the session row locked in the caller's write transaction and write the decision there
        (also the timed-rule sweep's path, connector/changes/sweep.py); returns what ``_write`` returns."""
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
        return self._write(conn, agent, decision, engine, published, pin, now, record_events=record_events, audit=audit)

    def _write(
        self,
        conn,
        agent: AgentRecord,
        decision: Decision,
        engine: Engine,
        published: list,
        pin: str | None,
        now: datetime,
        guard: tuple | None = None,
        record_events: bool = True,
        audit: trail.Entry | None = None,
        pending: statements.PendingWrites | None = None,
    ) -> tuple[Decision, dict, int]:
        """The decision's rows and its live events, in the caller's transaction (they commit together).

        Returns the decision, the agent's view and how many outbox rows were written. Without
        ``record_events`` the events are only collected in ``published``: the caller stores them. With
        ``pending`` (PostgreSQL's change path) the inserts and upserts go out together at the end.
        """
        outbox_rows = self._writer.record(conn, agent, decision, engine, published, pin, guard, pending)
        view = agent_view(agent, decision.session, engine.config, now)
        if any(isinstance(e, StateChanged) for e in decision.effects):
            view = Encoded(view)  # its JSON text serves the live event and the API answer
            published.append(("agent", view))
        if record_events:
            self.bus.record_all(conn, published, pending)
        if pending is not None:
            pending.flush(conn)
        if audit is not None:  # after the change's own statements: an error of theirs stays theirs
            trail.write(conn, _with_states(audit, decision) if audit.states else audit)
        return decision, view, outbox_rows

    # -- operations --------------------------------------------------------------------------
    def login(
        self,
        agent_id: str,
        logon_source: str,
        device: str,
        source: str = ChangeSource.SOFTPHONE,
        pin: str | None = None,
        audit: trail.Entry | None = None,
    ) -> Outcome:
        """Log in on a device. With a PIN (PBX short-code login) the PIN is checked against its hash."""
        device = one_line(device or logon_source, "device", 100)
        if pin is not None:
            check_pin(pin)
            # checked before the change's transaction: a slow hash must not hold the write lock
            if self.pin_guard(f"agent:{agent_id}", lambda: self._pin_matches(agent_id, pin)) is None:
                raise Forbidden("the PIN does not match this agent's PIN", field="pin", code="wrong_pin")

        def decide(engine: Engine, sess: AgentSession, now: datetime, s: Session) -> Decision:
            agent = s.get(Agent, agent_id)
            assert agent is not None  # decisions run on a session the agent's row was loaded with (_loaded)
            code = engine.config.options.login_code
            if (
                pin is None
                and agent.pin_hash
                and engine.config.options.pbx_mode == "dial"
                and "{pin}" in code
                and not sess.logged_in
            ):
                raise InvalidInput("the PBX login code needs the agent's PIN: send 'pin'", field="pin")
            return engine.login(sess, now, logon_source, device, source)

        return self._run(agent_id, decide, pin=pin, audit=audit)

    def logout(
        self,
        agent_id: str,
        logon_source: str,
        source: str = ChangeSource.SOFTPHONE,
        actor: str | None = None,
        audit: trail.Entry | None = None,
    ) -> Outcome:
        return self._run(
            agent_id, lambda e, sess, now, s: e.logout(sess, now, logon_source, source, actor), audit=audit
        )

    def set_state(
        self,
        agent_id: str,
        ref: object,
        source: str = ChangeSource.SOFTPHONE,
        system: bool = False,
        force: bool = False,
        count_refusal: bool = True,
        audit: trail.Entry | None = None,
    ) -> Outcome:
        """``count_refusal`` False: a refusal is not counted in the metrics (serve's fast path, which hands a
        refused change to the Flask route, where it is refused again and counted once)."""
        try:
            return self._run(
                agent_id, lambda e, sess, now, s: e.set_state(sess, now, ref, source, system, force), audit=audit
            )
        except ConnectorError:
            if count_refusal:
                metrics.refused(source)
            raise

    def inbound(self, agent_id: str, source: str, remote: str | None, proposed: str | None = None) -> Outcome:
        """A change an adapter reports, decided by the configuration's inbound rule for ``source`` on the stored
        session (under its version guard: the same report reaching two instances is applied once)."""
        outcome = self._run(
            agent_id, lambda e, sess, now, s: e.inbound(sess, now, e.config.inbound_rule(source), remote, proposed)
        )
        for v in (e.verdict for e in outcome.decision.effects if isinstance(e, InboundDecided)):
            if v.action != "nothing":
                log.info("inbound %s for %s: %s (%s)", v.action, agent_id, v.reason, v.rule)
        return outcome

    def cancel_next_state(self, agent_id: str, source: str = ChangeSource.SOFTPHONE) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.cancel_next_state(sess, now, source))

    def end_call(self, agent_id: str, actor: str, audit: trail.Entry | None = None) -> Outcome:
        return self._run(agent_id, lambda e, sess, now, s: e.end_call(sess, now, actor), audit=audit)

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

    def call_event(
        self,
        agent_id: str,
        call_id: object,
        event: object,
        direction: object,
        duration_seconds: object = None,
        source: str = ChangeSource.PBX,
    ) -> tuple[Outcome, bool]:
        """Record a call started/ended. Returns the outcome and whether it repeated a known event."""
        call_id = one_line(call_id, "call_id", 128, required=True)
        if event not in ("started", "ended"):
            raise InvalidInput("event must be 'started' or 'ended'", field="event")
        if direction not in CALL_DIRECTIONS:
            raise InvalidInput("direction must be one of: inbound, outbound, internal", field="direction")
        if event == "ended":
            if (
                isinstance(duration_seconds, bool)
                or not isinstance(duration_seconds, int)
                or not 0 <= duration_seconds <= 86400
            ):
                raise InvalidInput(
                    "duration_seconds must be a whole number of seconds from 0 to 86400 (0 = rang but not answered)",
                    field="duration_seconds",
                )
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
                raise Conflict(
                    f"call '{call_id}' was reported as {call.direction}", field="direction", code="call_mismatch"
                )
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
            assert isinstance(duration_seconds, int)  # checked above for an "ended" event
            call.duration_seconds = duration_seconds
            return engine.call_ended(sess, now, call_id, direction, duration_seconds, source)

        return self._run(agent_id, decide), repeated

    # -- timed rules -------------------------------------------------------------------------
    def retime_sessions(
        self, s: Session, old: PresenceConfig, new: PresenceConfig, now: datetime
    ) -> Callable[[], None]:
        """A new configuration, inside the transaction that applies it: every open session first settles
        what fell due under the old rules, then gets its due time under the new ones (switched on, off or
        changed). The live events commit with it; returns what wakes the streams once it has committed."""
        published: list[tuple[str, dict]] = []
        old_engine, new_engine = Engine(old), Engine(new)
        rows = (
            s.execute(
                select(AgentSessionRow)
                .where(AgentSessionRow.state_id.is_not(None))
                .order_by(AgentSessionRow.agent_id)
                .with_for_update()
            )
            .scalars()
            .all()
        )
        conn = s.connection()
        outbox_rows = 0
        for row in rows:
            decision = old_engine.settle(session_from_row(row), now)
            if decision.effects:
                orm_agent = s.get(Agent, row.agent_id)
                assert orm_agent is not None  # a session row's agent_id is a foreign key to the agent
                # with the zone that ends its days (its own, else its team's), as a change loads it
                agent = AgentRecord(
                    orm_agent.id,
                    orm_agent.name,
                    orm_agent.team,
                    orm_agent.extension,
                    orm_agent.pin_hash,
                    bool(orm_agent.active),
                    conn.scalar(select(zone_name_of()).where(Agent.id == orm_agent.id)),
                )
                # Core statements, same transaction
                outbox_rows += self._writer.record(conn, agent, decision, old_engine, published)
                if decision.state_changes:
                    published.append(("agent", agent_view(agent, decision.session, new, now)))
            # only these two attributes are dirty on the ORM row, so its flush keeps what _record wrote
            due = new_engine.next_due(decision.session)
            row.next_due_at = due[0] if due else None
            row.version = (row.version or 0) + 1  # a change decided on an older snapshot is decided again

        self.bus.record_all(conn, published)

        def committed() -> None:
            self.bus.wake()
            if outbox_rows:
                self.outbox_written()

        return committed

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
        scheduled = scheduled.astimezone(UTC)
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
            outcome = self._run(
                row.agent_id, lambda e, sess, at, s: e.scheduled_logoff(sess, max(scheduled, sess.last_change_at))
            )
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
            query = (
                select(Agent, AgentSessionRow)
                .outerjoin(AgentSessionRow, AgentSessionRow.agent_id == Agent.id)
                .where(Agent.active.is_(True))
                .order_by(Agent.team, Agent.name)
            )
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
        """Every active agent as the dashboard grid shows it (see connector/changes/grid.py)."""
        return agent_grid(self.store, self.configs, self.clock(), self.agents, agent_ids)


class _NeedsTransaction(Exception):
    """A decision asked for the ORM session: decide it again inside the write transaction."""


class _NoSession:
    """Stands in for the ORM session while deciding on a read snapshot; any use means 'decide in the transaction'."""

    def __getattr__(self, name: str):
        raise _NeedsTransaction(name)


def _with_states(audit: trail.Entry, decision: Decision) -> trail.Entry:
    """The audit row with the agent's state before the change and after it (``trail.Entry.states``)."""
    changes = decision.state_changes
    after = decision.session.state_id
    first = changes[0].previous if changes else None
    before = first.id if first is not None else (after if not changes else None)
    return audit.but(before={**(audit.before or {}), "state": before}, after={**(audit.after or {}), "state": after})
