"""Writing what the engine decided: one change's rows, in the caller's transaction, with lean statements.

A decision's effects become: the open interval closed (its seconds added to the daily totals, split at
local midnight), the new interval opened, logon events, counters, calls closed by a timed rule, one
outbox row per enabled adapter (never back to the adapter the change came from; PBX login/logout codes
with a sealed PIN), and the session row. Live events are collected in ``published`` for after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from connector.audit.trail import inbound_values
from connector.auth.hashing import seal
from connector.changes.views import AgentColumns, presence_payload
from connector.clock import iso
from connector.observe.logs import REQUEST_ID
from connector.presence.days import split_by_day, zone_or
from connector.presence.engine import (
    CallClosed,
    ChangeSource,
    Counted,
    Decision,
    DialRequested,
    Engine,
    InboundDecided,
    LogonEvent,
    SessionEnded,
    StateChanged,
)
from connector.presence.model import PresenceConfig
from connector.settings import Settings
from connector.store import statements
from connector.store.rows import outbox_values, session_values


class DecisionWriter:
    """Writes decisions for the service; ``outbox_targets(config)`` names the adapters that get rows."""

    def __init__(self, settings: Settings, outbox_targets: Callable[[PresenceConfig], list[str]]):
        self.settings = settings
        self.outbox_targets = outbox_targets

    def record(
        self,
        conn: Connection,
        agent: AgentColumns,
        decision: Decision,
        engine: Engine,
        published: list,
        pin: str | None = None,
        guard: tuple[int | None, int] | None = None,
        pending: statements.PendingWrites | None = None,
    ) -> int:
        """Write what the decision says, in the caller's transaction (Core statements, see store/statements.py).

        Returns how many outbox rows it wrote (the dispatcher is woken only when there are some). With
        ``guard`` the session row's update is the claim (``statements.update_session``): it raises
        ``StaleSession`` when the row changed since the decision, after the other statements (roll back).

        With ``pending`` (PostgreSQL's change path, with ``guard``) the session row's guarded update goes
        first (its row lock is the change's first; ``pending.claimed`` says whether it held), the inserts
        and upserts are collected in ``pending`` and the caller sends them (``PendingWrites.flush``).
        """
        tz = zone_or(agent.timezone, self.settings.tz)  # the agent's days: its own zone or the connector's
        config = engine.config
        targets = self.outbox_targets(config)
        outbox: list[dict] = []
        request = REQUEST_ID.get()  # kept with the intervals and the outbox rows: the flush and deliveries name it
        request = request[:64] if request else None
        if pending is not None:
            assert guard is not None  # the claim is the guarded update
            pending.claimed = statements.update_session_later(
                conn, agent.id, self._session_columns(decision, engine), *guard
            )
        for effect in decision.effects:
            if isinstance(effect, StateChanged):
                if effect.previous is None:  # the PBX login code goes before the first state's code
                    self._pbx_code(outbox, agent, config, targets, "login", effect, pin)
                self._close_interval(conn, agent.id, effect.at, tz, request, pending)
                if effect.current is not None and pending is not None:
                    pending.open_interval(
                        {
                            "agent_id": agent.id,
                            "state_id": effect.current.id,
                            "status": int(effect.current.status),
                            "reason_code": effect.current.reason_code,
                            "source": effect.source,
                            "cause": effect.cause or None,
                            "started_at": effect.at,
                            "opened_by": request,
                        }
                    )
                elif effect.current is not None:
                    statements.open_interval(
                        conn,
                        agent.id,
                        effect.current.id,
                        int(effect.current.status),
                        effect.current.reason_code,
                        effect.source,
                        effect.at,
                        effect.cause,
                        request,
                    )
                payload = presence_payload(effect)
                for adapter in targets:
                    if adapter != effect.source:  # never echo a change back where it came from
                        outbox.append(outbox_values(agent.id, adapter, "presence", payload, effect.source, effect.at))
                published.append(("presence", {"agent_id": agent.id, **payload}))
                if effect.current is None:
                    self._pbx_code(outbox, agent, config, targets, "logout", effect, None)
            elif isinstance(effect, LogonEvent):
                logon = {
                    "at": effect.at,
                    "agent_id": agent.id,
                    "action": effect.action,
                    "logon_source": effect.logon_source,
                    "device": effect.device,
                    "actor": effect.actor,
                }
                if pending is not None:
                    pending.add_logon(logon)
                else:
                    statements.add_logon_event(conn, logon)
                published.append(
                    (
                        "logon",
                        {
                            "agent_id": agent.id,
                            "action": effect.action,
                            "logon_source": effect.logon_source,
                            "device": effect.device,
                            "at": iso(effect.at),
                        },
                    )
                )
            elif isinstance(effect, Counted):
                day = effect.at.astimezone(tz).date()
                if pending is not None:
                    pending.count(conn, {"agent_id": agent.id, "day": day, "counter": effect.counter, "count": 1})
                else:
                    statements.count(conn, agent.id, day, effect.counter)
            elif isinstance(effect, SessionEnded):
                published.append(
                    (
                        "session_ended",
                        {"agent_id": agent.id, "device": effect.device, "reason": effect.reason, "at": iso(effect.at)},
                    )
                )
            elif isinstance(effect, DialRequested):
                for adapter in targets:
                    outbox.append(
                        outbox_values(
                            agent.id,
                            adapter,
                            "dial",
                            {"number": effect.number, "at": iso(effect.at)},
                            ChangeSource.SOFTPHONE,
                            effect.at,
                        )
                    )
            elif isinstance(effect, CallClosed):
                if pending is not None:
                    pending.flush(conn)  # the statements in the order the effects came
                statements.close_call(conn, agent.id, effect.call_id, effect.at, effect.cause)
            elif isinstance(effect, InboundDecided) and effect.verdict.action != "nothing":
                # applied or refused, with the rule that decided: a live event, and a row of the audit trail
                published.append(("inbound", inbound_event(agent.id, effect)))
                verdict = effect.verdict
                statements.add_audit_event(
                    conn,
                    inbound_values(
                        effect.at,
                        agent.id,
                        effect.adapter,
                        verdict.action,
                        verdict.rule,
                        verdict.reason,
                        effect.remote,
                        effect.before,
                        effect.after,
                        verdict.target,
                    ),
                )
        if request is not None and outbox:  # the delivery's log lines carry the id of the request that asked
            for row in outbox:
                row["payload"] = {**row["payload"], "request_id": request}
        if pending is not None:
            pending.add_outbox(outbox)
            return len(outbox)
        statements.add_outbox_rows(conn, outbox)
        statements.update_session(conn, agent.id, self._session_columns(decision, engine), guard)
        return len(outbox)

    @staticmethod
    def _session_columns(decision: Decision, engine: Engine) -> dict:
        """The session row's columns after the decision (``statements.update_session``)."""
        due = engine.next_due(decision.session)
        return {**session_values(decision.session), "next_due_at": due[0] if due else None}

    def _pbx_code(
        self,
        outbox: list[dict],
        agent: AgentColumns,
        config: PresenceConfig,
        targets: list[str],
        kind: str,
        effect: StateChanged,
        pin: str | None,
    ) -> None:
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

    def _close_interval(
        self,
        conn,
        agent_id: str,
        at: datetime,
        tz: ZoneInfo,
        request: str | None,
        pending: statements.PendingWrites | None,
    ) -> None:
        """End the open interval at ``at`` (by the change of ``request``) and add its seconds to the daily totals,
        split at the agent's midnight."""
        if pending is not None:
            pending.flush(conn)  # an interval this change opened before is closed too
        for closed in statements.close_open_interval(conn, agent_id, at, request):
            for day, seconds in split_by_day(closed.started_at, closed.ended_at, tz):
                if pending is not None:
                    pending.add_total(
                        conn,
                        {
                            "agent_id": agent_id,
                            "day": day,
                            "state_id": closed.state_id,
                            "status": closed.status,
                            "reason_code": closed.reason_code,
                            "seconds": seconds,
                            "updated_at": at,
                        },
                    )
                else:
                    statements.add_to_daily_total(
                        conn, agent_id, day, closed.state_id, closed.status, closed.reason_code, seconds, at
                    )


def inbound_event(agent_id: str, effect: InboundDecided) -> dict:
    """The live event of an inbound decision: what the adapter reported and which rule applied or refused it."""
    verdict = effect.verdict
    return {
        "agent_id": agent_id,
        "adapter": effect.adapter,
        "remote": effect.remote,
        "action": verdict.action,
        "rule": verdict.rule,
        "reason": verdict.reason,
        "state": verdict.target,
        "at": iso(effect.at),
    }
