"""What the API, the softphone, the dashboard and the outbox see of an agent and of a change."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from connector.clock import iso
from connector.presence.engine import AgentSession, StateChanged
from connector.presence.inbound_rules import source_name
from connector.presence.model import PresenceConfig, PresenceState


class AgentColumns(Protocol):
    """The agent columns a view shows and a change records: an ORM ``Agent`` or a ``statements.AgentRecord``."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def team(self) -> str: ...
    @property
    def extension(self) -> str: ...
    @property
    def timezone(self) -> str | None: ...


def agent_view(agent: AgentColumns, session: AgentSession, config: PresenceConfig, now: datetime) -> dict:
    """What the API, the softphone and the dashboard show about an agent."""
    state: PresenceState | None = None
    if session.state_id is not None:
        state = config.find(session.state_id) or config.ready_state
    return {
        "id": agent.id,
        "name": agent.name,
        "team": agent.team,
        "extension": agent.extension,
        "logged_in": session.logged_in,
        "logons": [{"logon_source": lo.source, "device": lo.device, "since": iso(lo.since)} for lo in session.logons],
        "state": state.as_dict() if state else None,
        "state_since": iso(session.state_since),
        "seconds_in_state": int((now - session.state_since).total_seconds()) if session.state_since else None,
        "wrap_up_until": iso(session.wrap_up_until),
        "wrap_up_remaining_seconds": (
            max(0, int((session.wrap_up_until - now).total_seconds() + 0.999)) if session.wrap_up_until else None
        ),
        "on_call": session.call_id is not None,
        "call_direction": session.call_direction,
        "call_since": iso(session.call_since),
        # picked during a call: applies when the call and its wrap-up end (cancel: DELETE .../next-state)
        "next_state": _next_state(session, config),
        "connection_lost": session.connection_lost_at is not None,
        "logoff_pending": session.logoff_pending,
        # the adapter whose inbound rule set the state ("Meeting (from Teams)"), else None
        "state_from": (
            state_from(session.state_source, session.call_id is not None or session.wrap_up_until is not None)
            if state is not None
            else None
        ),
    }


#: sources that are people or the connector itself, not another system
OWN_SOURCES = frozenset({"softphone", "supervisor", "system", "api", "crm"})


def state_from(source: str | None, in_call: bool = False) -> str | None:
    """How the dashboard names the system a state came from (``Teams``), or None for the connector's own.
    A call and its wrap-up (``in_call``) always come from the telephony: naming it on every such row is noise."""
    if not source or source in OWN_SOURCES or in_call:
        return None
    return source_name(source)


def _next_state(session: AgentSession, config: PresenceConfig) -> dict | None:
    if session.next_state_id is None:
        return None
    return (config.find(session.next_state_id) or config.ready_state).as_dict()


def grid_view(view: dict) -> dict:
    """The few fields the dashboard's grid shows of an agent view (the state by id; the page has the states)."""
    return {
        "id": view["id"],
        "name": view["name"],
        "team": view["team"],
        "logged_in": view["logged_in"],
        "state": view["state"]["id"] if view["state"] else None,
        "seconds_in_state": view["seconds_in_state"],
        "connection_lost": view["connection_lost"],
        "on_call": view["on_call"],
        # picked during a call for after it (by id, like the state)
        "next_state": view["next_state"]["id"] if view["next_state"] else None,
        "state_from": view.get("state_from"),
    }


def state_brief(state: PresenceState | None) -> dict | None:
    """A state as an outbox row and a live event carry it (adapters get it back as ``StateInfo``)."""
    if state is None:
        return None
    return {
        "id": state.id,
        "label": state.label,
        "status": int(state.status),
        "reason_code": state.reason_code,
        "adapters": dict(state.adapters),
    }


def presence_payload(effect: StateChanged) -> dict:
    return {
        "state": state_brief(effect.current),
        "previous": state_brief(effect.previous),
        "at": iso(effect.at),
        "source": effect.source,
        "cause": effect.cause,
    }
