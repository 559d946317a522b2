"""REST API under /api/v1 (DESIGN.md section 4)."""
from __future__ import annotations

import json
import re

from flask import Blueprint, Response, jsonify, request, stream_with_context

from .. import accounts, exports, memory, reports
from ..engine import ChangeSource, LogonSource
from ..errors import Forbidden, InvalidInput, MalformedRequest
from ..parts import get_parts
from ..service import PresenceService
from ..settings import switch
from .auth import current_principal, require, require_agent_access
from .inputs import PRESENCE_CHANGE_FIELDS, change_source, check_fields, presence_change
from ..subscriptions import Encoded

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def view_answer(view: dict) -> Response:
    """An agent's view as the answer; a view a change already encoded (for its live event) is not encoded again."""
    if isinstance(view, Encoded):
        return Response(view.json + "\n", mimetype="application/json")
    return jsonify(view)


def service() -> PresenceService:
    return get_parts().service


def body(allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """The JSON object of the request: 415 when not JSON, 400 when unreadable, 422 naming a bad field."""
    if not request.content_length and not request.data:
        data: dict = {}
    else:
        if not request.mimetype == "application/json":
            from werkzeug.exceptions import UnsupportedMediaType
            raise UnsupportedMediaType("send the body as JSON with 'Content-Type: application/json'")
        try:
            data = json.loads(request.get_data(cache=True) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise MalformedRequest("the body is not valid JSON", field="body") from None
        except RecursionError:
            raise MalformedRequest("the body is nested too deeply", field="body") from None
        if not isinstance(data, dict):
            raise MalformedRequest("the body must be a JSON object", field="body")
    return check_fields(data, allowed, required)


def _change_source(data: dict) -> str:
    """Where a change came from, for the no-echo rule and the record."""
    return change_source(current_principal(), data)


def _logon_source(data: dict, default: str) -> str:
    value = data.get("logon_source", default)
    by_lower = {s.lower(): s for s in LogonSource.ALL}
    if not isinstance(value, str) or value.lower() not in by_lower:
        raise InvalidInput(f"logon_source must be one of: {', '.join(LogonSource.ALL)}", field="logon_source")
    return by_lower[value.lower()]


# -- presence states ----------------------------------------------------------------------------

@bp.get("/presence-states")
@require()
def presence_states():
    config = get_parts().configs.active()
    opts = config.options
    return jsonify({
        "name": config.name,
        "states": [st.as_dict() for st in config.states],
        "options": {"pbx_mode": opts.pbx_mode, "wrap_up_seconds": opts.wrap_up_seconds,
                    "active_call": opts.active_call, "tracking_interval_seconds": opts.tracking_interval_seconds,
                    "omni_channel_sync": opts.omni_channel_sync, "skype_sync": opts.skype_sync,
                    "teams_sync": opts.teams_sync,
                    "heartbeat_interval_seconds": max(5, (opts.session.heartbeat_grace_seconds or 90) // 3)},
    })


# -- agents -------------------------------------------------------------------------------------

@bp.get("/agents")
@require()
def list_agents():
    principal = current_principal()
    only = [principal.agent_id] if principal.role == "agent" else None
    if _grid_view():
        return jsonify({"agents": service().agent_grid(only)})
    return jsonify({"agents": service().agents(only)})


def _grid_view() -> bool:
    """``view=grid``: only what the dashboard grid shows of each agent (its state by id)."""
    view = request.args.get("view", "full")
    if view not in ("full", "grid"):
        raise InvalidInput("view must be 'full' or 'grid'", field="view")
    return view == "grid"


@bp.post("/agents/<agent_id>/login")
@require()
def login(agent_id: str):
    principal = require_agent_access(agent_id)
    data = body(("logon_source", "device", "source", "pin"))
    default = {"agent": LogonSource.SOFTPHONE, "supervisor": LogonSource.SUPERVISOR}.get(principal.role,
                                                                                         LogonSource.API)
    logon_source = _logon_source(data, default)
    if principal.role == "agent" and logon_source in LogonSource.FORCED:
        raise InvalidInput(f"'{logon_source}' is recorded by the system or a supervisor, not by an agent",
                           field="logon_source")
    outcome = service().login(agent_id, logon_source, data.get("device") or logon_source,
                              source=_change_source(data), pin=data.get("pin"))
    return view_answer(outcome.view)


@bp.post("/pbx/login")
@require("integration", "admin")
def pbx_login():
    """The PBX reports a short-code login (*35*extension*PIN#): the agent is found by extension."""
    data = body(("extension", "pin", "device", "logon_source"), required=("extension", "pin"))
    svc = service()
    agent_id = accounts.agent_for_extension(get_parts().store, data["extension"])
    logon_source = _logon_source(data, LogonSource.PBX_SHORT_CODE)
    outcome = svc.login(agent_id, logon_source, data.get("device") or f"extension {data['extension']}",
                        source=ChangeSource.PBX, pin=data["pin"])
    return view_answer(outcome.view)


@bp.post("/pbx/logout")
@require("integration", "admin")
def pbx_logout():
    """The PBX reports a short-code logout (*36) on an extension."""
    data = body(("extension", "logon_source"), required=("extension",))
    svc = service()
    agent_id = accounts.agent_for_extension(get_parts().store, data["extension"])
    outcome = svc.logout(agent_id, _logon_source(data, LogonSource.PBX_SHORT_CODE), source=ChangeSource.PBX)
    return view_answer(outcome.view)


@bp.post("/agents/<agent_id>/logout")
@require()
def logout(agent_id: str):
    principal = require_agent_access(agent_id)
    data = body(("logon_source", "source"))
    if principal.role == "supervisor":
        logon_source, actor = LogonSource.SUPERVISOR, principal.name
    else:
        default = LogonSource.SOFTPHONE if principal.role == "agent" else LogonSource.API
        logon_source = _logon_source(data, default)
        if principal.role == "agent" and logon_source in LogonSource.FORCED:
            raise InvalidInput(f"an agent cannot log out as '{logon_source}'", field="logon_source")
        actor = principal.name if principal.role != "agent" else None
    outcome = service().logout(agent_id, logon_source, source=_change_source(data), actor=actor)
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
    ``serve`` answers the plain case of this route without Flask (connector/fast_path.py)."""
    principal = require_agent_access(agent_id)
    data = body(PRESENCE_CHANGE_FIELDS)
    state, source, force = presence_change(principal, data)
    return view_answer(service().set_state(agent_id, state, source=source, force=force).view)


@bp.delete("/agents/<agent_id>/next-state")
@require()
def cancel_next_state(agent_id: str):
    """Drop the state picked during a call: after the call the agent goes back to Ready as usual."""
    require_agent_access(agent_id)
    data = body(("source",))
    return view_answer(service().cancel_next_state(agent_id, source=_change_source(data)).view)


@bp.post("/agents/<agent_id>/calls/end")
@require("supervisor", "admin")
def end_call(agent_id: str):
    """Close a call whose "ended" event never came (the agent is stuck on a call)."""
    require_agent_access(agent_id)
    body(())
    return view_answer(service().end_call(agent_id, actor=current_principal().name).view)


@bp.post("/agents/<agent_id>/calls")
@require("integration", "admin", "agent")
def calls(agent_id: str):
    """Calls come from the PBX/CTI layer (integration) or an admin. An agent may report its own calls only
    when the softphone is the call source (``CONNECTOR_AGENT_CALLS=on``); they are then recorded as such."""
    principal = require_agent_access(agent_id)
    source = ChangeSource.PBX
    if principal.role == "agent":
        if not switch(get_parts().settings, "CONNECTOR_AGENT_CALLS"):
            raise Forbidden("calls are reported by the PBX or CTI integration, not by an agent "
                            "(CONNECTOR_AGENT_CALLS=on lets the softphone report them)")
        source = ChangeSource.SOFTPHONE
    data = body(("call_id", "event", "direction", "duration_seconds", "caller_number"),
                required=("call_id", "event", "direction"))
    caller = _caller_number(data)
    outcome, repeated = service().call_event(agent_id, data["call_id"], data["event"], data["direction"],
                                             data.get("duration_seconds"), source=source)
    if caller and not repeated:  # the softphone in the console pops the caller's record (screen pop)
        get_parts().bus.publish("call", {"agent_id": agent_id, "call_id": data["call_id"], "event": "started",
                                         "direction": "inbound", "caller_number": caller})
    return jsonify({**outcome.view, "repeated": repeated})


CALLER_NUMBER = re.compile(r"^\+?[0-9][0-9 ()./-]{0,38}[0-9]$|^[0-9]$")


def _caller_number(data: dict) -> str | None:
    """The inbound caller's number (optional, for the screen pop): digits with an optional +, spaces,
    dots, dashes and parentheses; only on an inbound 'started' event."""
    number = data.get("caller_number")
    if number in (None, ""):
        return None
    if not isinstance(number, str) or not CALLER_NUMBER.match(number.strip()):
        raise InvalidInput("caller_number must be a phone number (digits, an optional leading +, spaces, "
                           "dots, dashes or parentheses; at most 40 characters)", field="caller_number")
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
    today = get_parts().reads.today()
    day = reports.parse_day(request.args.get("date"), "date", today)
    time_rows = reports.time_tracking(get_parts().reads, day, day, agent_id=agent_id)
    return jsonify({"agent_id": agent_id, "date": day.isoformat(),
                    "counters": reports.counters(get_parts().reads, agent_id, day),
                    "time_per_state": {r["state_id"]: r["seconds"] for r in time_rows},
                    "session_seconds": sum(r["seconds"] for r in reports.session_time(get_parts().reads, day, day, agent_id))})


# -- reports ------------------------------------------------------------------------------------

def _day():
    """The ``date`` query parameter, today (in the configured time zone) when absent."""
    return reports.parse_day(request.args.get("date"), "date", get_parts().reads.today())


def _range():
    today = get_parts().reads.today()
    start = reports.parse_day(request.args.get("from"), "from", today)
    end = reports.parse_day(request.args.get("to"), "to", max(start, today))
    return start, end


def _wants_csv() -> bool:
    return request.args.get("format") == "csv" or \
        request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


@bp.get("/time-tracking")
@require()
def time_tracking():
    principal = current_principal()
    start, end = _range()
    agent = request.args.get("agent") or None
    if principal.role == "agent":
        if agent not in (None, principal.agent_id):
            require_agent_access(agent)
        agent = principal.agent_id
    rows = reports.iter_time_tracking(get_parts().reads, start, end, agent_id=agent)
    if _wants_csv():
        return _big(Response(stream_with_context(exports.iter_csv(rows, reports.TIME_TRACKING_FIELDS)),
                             mimetype="text/csv",
                             headers={"Content-Disposition": f"attachment; filename=time-tracking-{start}-{end}.csv"}))
    return _big(Response(stream_with_context(exports.iter_json({"from": start.isoformat(), "to": end.isoformat()},
                                                               "rows", rows)), mimetype="application/json"))


def _big(response: Response) -> Response:
    """A big report's answer: when it is closed (a streamed one once its last chunk is written), the memory its
    rows took goes back to the system (connector/memory.py)."""
    response.call_on_close(memory.give_back)
    return response


@bp.get("/logon-events")
@require("supervisor", "admin")
def logon_events():
    """Logon events: JSON in pages (``limit``, ``after`` = the previous page's ``next``), CSV complete."""
    start, end = _range()
    include = reports.parse_sources(request.args.getlist("include"), "include")
    exclude = reports.parse_sources(request.args.getlist("exclude"), "exclude")
    agent = request.args.get("agent") or None
    order = request.args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' (oldest first) or 'desc' (newest first)", field="order")
    ctx = get_parts().reads
    if _wants_csv():
        rows = reports.iter_logon_events(ctx, start, end, include, exclude, agent_id=agent,
                                         newest_first=order == "desc")
        return _big(Response(stream_with_context(exports.iter_csv(rows, reports.LOGON_EVENT_FIELDS)),
                             mimetype="text/csv",
                             headers={"Content-Disposition": f"attachment; filename=logon-events-{start}-{end}.csv"}))
    limit = _limit(request.args.get("limit"))
    events, next_cursor = reports.logon_events_page(ctx, start, end, include, exclude, agent_id=agent,
                                                    after=request.args.get("after") or None, limit=limit,
                                                    newest_first=order == "desc")
    return jsonify({"from": start.isoformat(), "to": end.isoformat(), "events": events, "next": next_cursor})


def _limit(value: str | None) -> int:
    if value in (None, ""):
        return reports.LOGON_PAGE_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= reports.LOGON_PAGE_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {reports.LOGON_PAGE_MAX}", field="limit")
    return int(value)


@bp.get("/session-time")
@require("supervisor", "admin")
def session_time():
    start, end = _range()
    return _big(jsonify({"from": start.isoformat(), "to": end.isoformat(),
                         "rows": reports.session_time(get_parts().reads, start, end, request.args.get("agent") or None)}))


@bp.get("/counters")
@require("supervisor", "admin")
def counters_for_day():
    """Today's (or ``date``'s) counters for every agent at once, for the dashboard."""
    day = _day()
    return jsonify({"date": day.isoformat(), "counters": reports.counters_for_day(get_parts().reads, day)})


@bp.get("/state-mix")
@require("supervisor", "admin")
def state_mix():
    """Seconds per state in each hour of a day, for all agents or one team."""
    day, team = _day(), request.args.get("team") or None
    return jsonify({"date": day.isoformat(), "team": team, "hours": reports.state_mix(get_parts().reads, day, team)})


@bp.get("/config/history")
@require("admin")
def config_history():
    return jsonify({"versions": service().configs.history()})
