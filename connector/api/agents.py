"""Agents: sign-on and sign-off (also by PBX short code), presence, calls, dialling, wrap-up and a day's stats."""

from __future__ import annotations

import re

from flask import jsonify, request

from connector.api.auth import require, require_agent_access, signed_in_principal
from connector.api.common import body, bp, change_source_of, grid_view, logon_source_of, service, view_answer
from connector.api.inputs import AUDITED_ROLES, PRESENCE_CHANGE_FIELDS, audited_change, presence_change
from connector.audit.requests import entry as audit
from connector.auth import accounts
from connector.errors import Forbidden, InvalidInput
from connector.parts import get_parts
from connector.presence.engine import ChangeSource, LogonSource
from connector.reports import queries as reports


@bp.get("/agents")
@require()
def list_agents():
    principal = signed_in_principal()
    only: list[str] | None = None
    if principal.role == "agent":  # a user of the agent role made without an agent sees no agent
        only = [principal.agent_id] if principal.agent_id is not None else []
    if grid_view():
        return jsonify({"agents": service().agent_grid(only)})
    return jsonify({"agents": service().agents(only)})


@bp.post("/agents/<agent_id>/login")
@require()
def login(agent_id: str):
    principal = require_agent_access(agent_id)
    data = body(("logon_source", "device", "source", "pin"))
    default = {"agent": LogonSource.SOFTPHONE, "supervisor": LogonSource.SUPERVISOR}.get(
        principal.role, LogonSource.API
    )
    logon_source = logon_source_of(data, default)
    if principal.role == "agent" and logon_source in LogonSource.FORCED:
        raise InvalidInput(
            f"'{logon_source}' is recorded by the system or a supervisor, not by an agent", field="logon_source"
        )
    entry = audit("agent.login", agent_id, detail=f"logon source {logon_source}")
    outcome = service().login(
        agent_id,
        logon_source,
        data.get("device") or logon_source,
        source=change_source_of(data),
        pin=data.get("pin"),
        audit=entry if principal.role in AUDITED_ROLES else None,
    )
    return view_answer(outcome.view)


@bp.post("/pbx/login")
@require("integration", "admin")
def pbx_login():
    """The PBX reports a short-code login (*35*extension*PIN#): the agent is found by extension."""
    data = body(("extension", "pin", "device", "logon_source"), required=("extension", "pin"))
    svc = service()
    agent_id = accounts.agent_for_extension(get_parts().store, data["extension"])
    logon_source = logon_source_of(data, LogonSource.PBX_SHORT_CODE)
    outcome = svc.login(
        agent_id,
        logon_source,
        data.get("device") or f"extension {data['extension']}",
        source=ChangeSource.PBX,
        pin=data["pin"],
    )
    return view_answer(outcome.view)


@bp.post("/pbx/logout")
@require("integration", "admin")
def pbx_logout():
    """The PBX reports a short-code logout (*36) on an extension."""
    data = body(("extension", "logon_source"), required=("extension",))
    svc = service()
    agent_id = accounts.agent_for_extension(get_parts().store, data["extension"])
    outcome = svc.logout(agent_id, logon_source_of(data, LogonSource.PBX_SHORT_CODE), source=ChangeSource.PBX)
    return view_answer(outcome.view)


@bp.post("/agents/<agent_id>/logout")
@require()
def logout(agent_id: str):
    principal = require_agent_access(agent_id)
    data = body(("logon_source", "source"))
    actor: str | None
    if principal.role == "supervisor":
        logon_source, actor = LogonSource.SUPERVISOR, principal.name
    else:
        default = LogonSource.SOFTPHONE if principal.role == "agent" else LogonSource.API
        logon_source = logon_source_of(data, default)
        if principal.role == "agent" and logon_source in LogonSource.FORCED:
            raise InvalidInput(f"an agent cannot log out as '{logon_source}'", field="logon_source")
        actor = principal.name if principal.role != "agent" else None
    entry = audit("agent.logout", agent_id, detail=f"logon source {logon_source}")
    outcome = service().logout(
        agent_id,
        logon_source,
        source=change_source_of(data),
        actor=actor,
        audit=entry if principal.role in AUDITED_ROLES else None,
    )
    return view_answer(outcome.view)


@bp.post("/agents/<agent_id>/heartbeat")
@require()
def heartbeat(agent_id: str):
    require_agent_access(agent_id)
    body(())
    return view_answer(service().heartbeat(agent_id).view)


@bp.get("/agents/<agent_id>/presence")
@require()
def get_presence(agent_id: str):
    require_agent_access(agent_id)
    return jsonify(service().presence(agent_id))


@bp.put("/agents/<agent_id>/presence")
@require()
def put_presence(agent_id: str):
    """Change presence; during a call the state becomes the next state unless a supervisor forces it.
    ``serve`` answers the plain case of this route without Flask (connector/serve/fast_path.py)."""
    principal = require_agent_access(agent_id)
    data = body(PRESENCE_CHANGE_FIELDS)
    state, source, force = presence_change(principal, data)
    if not audited_change(principal.role, force):
        return view_answer(service().set_state(agent_id, state, source=source, force=force).view)
    # the row says the state before and after, as the change's transaction finds them (PresenceService)
    entry = audit("presence.force", agent_id, after={"asked": str(state)[:100], "force": force}, states=True)
    return view_answer(service().set_state(agent_id, state, source=source, force=force, audit=entry).view)


@bp.delete("/agents/<agent_id>/next-state")
@require()
def cancel_next_state(agent_id: str):
    """Drop the state picked during a call: after the call the agent goes back to Ready as usual."""
    require_agent_access(agent_id)
    data = body(("source",))
    return view_answer(service().cancel_next_state(agent_id, source=change_source_of(data)).view)


@bp.post("/agents/<agent_id>/calls/end")
@require("supervisor", "admin")
def end_call(agent_id: str):
    """Close a call whose "ended" event never came (the agent is stuck on a call)."""
    require_agent_access(agent_id)
    body(())
    view = service().end_call(agent_id, actor=signed_in_principal().name, audit=audit("call.end", agent_id)).view
    return view_answer(view)


@bp.post("/agents/<agent_id>/calls")
@require("integration", "admin", "agent")
def calls(agent_id: str):
    """Calls come from the PBX/CTI layer (integration) or an admin. An agent may report its own calls only
    when the softphone is the call source (``CONNECTOR_AGENT_CALLS=on``); they are then recorded as such."""
    principal = require_agent_access(agent_id)
    source = ChangeSource.PBX
    if principal.role == "agent":
        if not get_parts().settings.value("CONNECTOR_AGENT_CALLS"):
            raise Forbidden(
                "calls are reported by the PBX or CTI integration, not by an agent "
                "(CONNECTOR_AGENT_CALLS=on lets the softphone report them)"
            )
        source = ChangeSource.SOFTPHONE
    data = body(
        ("call_id", "event", "direction", "duration_seconds", "caller_number"),
        required=("call_id", "event", "direction"),
    )
    caller = _caller_number(data)
    outcome, repeated = service().call_event(
        agent_id, data["call_id"], data["event"], data["direction"], data.get("duration_seconds"), source=source
    )
    if caller and not repeated:  # the softphone in the console pops the caller's record (screen pop)
        get_parts().bus.publish(
            "call",
            {
                "agent_id": agent_id,
                "call_id": data["call_id"],
                "event": "started",
                "direction": "inbound",
                "caller_number": caller,
            },
        )
    return jsonify({**outcome.view, "repeated": repeated})


CALLER_NUMBER = re.compile(r"^\+?[0-9][0-9 ()./-]{0,38}[0-9]$|^[0-9]$")


def _caller_number(data: dict) -> str | None:
    """The inbound caller's number (optional, for the screen pop): digits with an optional +, spaces,
    dots, dashes and parentheses; only on an inbound 'started' event."""
    number = data.get("caller_number")
    if number in (None, ""):
        return None
    if not isinstance(number, str) or not CALLER_NUMBER.match(number.strip()):
        raise InvalidInput(
            "caller_number must be a phone number (digits, an optional leading +, spaces, "
            "dots, dashes or parentheses; at most 40 characters)",
            field="caller_number",
        )
    if data.get("event") != "started" or data.get("direction") != "inbound":
        raise InvalidInput("caller_number belongs to an inbound call's 'started' event", field="caller_number")
    return number.strip()


@bp.post("/agents/<agent_id>/dial")
@require()
def dial(agent_id: str):
    require_agent_access(agent_id)
    data = body(("number",), required=("number",))
    outcome, dialled = service().dial(agent_id, data["number"])
    return jsonify({**outcome.view, "dial": dialled})


@bp.post("/agents/<agent_id>/wrap-up/extend")
@require()
def extend_wrap_up(agent_id: str):
    require_agent_access(agent_id)
    data = body(("seconds",))
    return view_answer(service().extend_wrap_up(agent_id, data.get("seconds")).view)


@bp.post("/agents/<agent_id>/wrap-up/end")
@require()
def end_wrap_up(agent_id: str):
    require_agent_access(agent_id)
    body(())
    return view_answer(service().end_wrap_up(agent_id).view)


@bp.get("/agents/<agent_id>/stats")
@require()
def stats(agent_id: str):
    require_agent_access(agent_id)
    svc = service()
    svc.presence(agent_id)  # 404 for an unknown agent
    today = get_parts().reads.today(agent_id)  # the agent's today, in its own zone
    day = reports.parse_day(request.args.get("date"), "date", today)
    time_rows = reports.time_tracking(get_parts().reads, day, day, agent_id=agent_id)
    return jsonify(
        {
            "agent_id": agent_id,
            "date": day.isoformat(),
            "counters": reports.counters(get_parts().reads, agent_id, day),
            "time_per_state": {r["state_id"]: r["seconds"] for r in time_rows},
            "session_seconds": sum(r["seconds"] for r in reports.session_time(get_parts().reads, day, day, agent_id)),
        }
    )
