"""Mapping between store rows and the domain: the engine's session, and the outbox rows."""

from __future__ import annotations

from datetime import datetime

from connector.clock import iso, parse_iso
from connector.presence.engine import AgentSession, Logon
from connector.store.models import AgentSessionRow, OutboxRow

SESSION_FIELDS = (
    "state_id",
    "state_since",
    "wrap_up_until",
    "call_id",
    "call_direction",
    "call_since",
    "next_state_id",
    "next_state_source",
    "last_activity_at",
    "last_heartbeat_at",
    "connection_lost_at",
    "state_before_loss",
    "logoff_pending",
    "state_source",
    "inbound_hold",
)


def logons_from_json(items: list[dict] | None) -> tuple[Logon, ...]:
    return tuple(Logon(lo["source"], lo["device"], parse_iso(lo["since"])) for lo in (items or []))


def session_from_row(row: AgentSessionRow) -> AgentSession:
    return AgentSession(
        agent_id=row.agent_id,
        logons=logons_from_json(row.logons),
        state_id=row.state_id,
        state_since=row.state_since,
        wrap_up_until=row.wrap_up_until,
        call_id=row.call_id,
        call_direction=row.call_direction,
        call_since=row.call_since,
        next_state_id=row.next_state_id,
        next_state_source=row.next_state_source,
        last_activity_at=row.last_activity_at,
        last_heartbeat_at=row.last_heartbeat_at,
        connection_lost_at=row.connection_lost_at,
        state_before_loss=row.state_before_loss,
        logoff_pending=bool(row.logoff_pending),
        state_source=row.state_source,
        inbound_hold=row.inbound_hold,
    )


def session_to_row(session: AgentSession, row: AgentSessionRow) -> None:
    for name, value in session_values(session).items():
        setattr(row, name, value)


def session_values(session: AgentSession) -> dict:
    """The session row's columns for ``session`` (an UPDATE's values)."""
    values = {name: getattr(session, name) for name in SESSION_FIELDS}
    values["logons"] = [{"source": lo.source, "device": lo.device, "since": iso(lo.since)} for lo in session.logons]
    return values


def outbox_row(agent_id: str, adapter: str, kind: str, payload: dict, source: str, at: datetime) -> OutboxRow:
    """One delivery for one adapter, due at once (the dispatcher picks it up after the commit)."""
    return OutboxRow(**outbox_values(agent_id, adapter, kind, payload, source, at))


def outbox_values(agent_id: str, adapter: str, kind: str, payload: dict, source: str, at: datetime) -> dict:
    """The same delivery as the columns of an INSERT."""
    return {
        "agent_id": agent_id,
        "adapter": adapter,
        "kind": kind,
        "payload": payload,
        "source": source,
        "created_at": at,
        "next_attempt_at": at,
        "attempts": 0,
        "superseded": False,
    }
