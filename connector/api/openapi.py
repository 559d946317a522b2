"""/api/v1/openapi.json: the API as OpenAPI 3.1. A test checks every route is described here."""

from __future__ import annotations

from flask import jsonify

from connector.api.common import bp

ERROR = {"$ref": "#/components/schemas/Error"}
AGENT = {"$ref": "#/components/schemas/Agent"}
VIEW = {"name": "view", "in": "query", "schema": {"enum": ["full", "grid"]}}


def _op(
    summary: str,
    roles: str,
    body: dict | None = None,
    ok: dict | None = None,
    params: list | None = None,
    errors: tuple[int, ...] = (401, 403, 404, 409, 422),
    reads_body: bool | None = None,
    extra: str = "",
) -> dict:
    """One operation. Where a body is read, 400 (unreadable) and 415 (not JSON) are documented; every
    operation that reaches the store may answer 503 (``store_unavailable``, ``store_full``) with Retry-After."""
    op: dict = {
        "summary": summary,
        "description": f"Roles: {roles}.{extra}",
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ok or AGENT}}}},
    }
    codes = list(errors)
    if reads_body or (reads_body is None and body is not None):
        codes += [400, 413, 415]
    for code in sorted(set(codes) | {503}):
        op["responses"][str(code)] = {
            "description": ERROR_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": ERROR}},
        }
        if code in (429, 503):
            op["responses"][str(code)]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
            }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


ERROR_TEXT = {
    400: "The body is not readable JSON (or nested too deeply)",
    401: "Not authenticated",
    403: "The role may not do this",
    404: "Not found",
    409: "Conflict with the agent's situation",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "A value breaks a rule (field named)",
    429: "Too many failed PIN checks: wait Retry-After seconds (or the agent is locked)",
    503: "The store is unavailable or full (store_unavailable, store_full): retry after Retry-After",
}


def _obj(props: dict, required: tuple[str, ...] = ()) -> dict:
    """An object schema; required text fields must not be empty (the API refuses "")."""
    props = {k: ({**v, "minLength": 1} if k in required and v.get("type") == "string" else v) for k, v in props.items()}
    return {"type": "object", "additionalProperties": False, "properties": props, "required": list(required)}


AGENT_ID = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
#: a day; an empty value (``?to=``) means the parameter's default, as if it were not sent
DAY = {"type": "string", "anyOf": [{"format": "date"}, {"maxLength": 0}]}
RANGE_NOTE = (
    " Dates are days from 1900-01-01 to 2999-12-31; a range ('from' to 'to', both included) spans at "
    "most 366 days, and 'to' may not be before 'from' (422 naming the field)."
)
RANGE = [
    {"name": "from", "in": "query", "schema": DAY, "description": "first day (default, or empty: today)"},
    {
        "name": "to",
        "in": "query",
        "schema": DAY,
        "description": "last day (default, or empty: today, or 365 days after 'from' when that is earlier); "
        "at most 366 days after 'from'",
    },
]
DATE = {
    "name": "date",
    "in": "query",
    "schema": DAY,
    "description": "a day from 1900-01-01 to 2999-12-31 (default: today)",
}
PIN_LIMITS = (
    " A wrong PIN counts towards the guessing limits (429 with Retry-After; the agent locks after repeated failures)."
)
STR = {"type": "string"}

#: paths other parts of the product add (sync status, adapters ...), see ``describe``
EXTRA_PATHS: dict[str, dict] = {}


def describe(
    path: str, method: str, summary: str, roles: str, body: dict | None = None, params: list | None = None
) -> None:
    """Add an endpoint defined outside this module to the document."""
    EXTRA_PATHS.setdefault(path, {})[method] = _op(summary, roles, body, ok={"type": "object"}, params=params)


def spec() -> dict:
    agent_path = lambda suffix: f"/api/v1/agents/{{agent_id}}{suffix}"  # noqa: E731
    paths = {
        "/healthz": {
            "get": {
                **_op(
                    "Readiness: the store answers and accepts a write",
                    "none (no authentication)",
                    ok={"type": "object"},
                    errors=(),
                ),
                "security": [],
            }
        },
        "/healthz/ready": {
            "get": {
                **_op(
                    "Readiness (as /healthz), for load balancers",
                    "none (no authentication)",
                    ok={"type": "object"},
                    errors=(),
                ),
                "security": [],
            }
        },
        "/healthz/live": {
            "get": {
                **_op(
                    "Liveness: the process answers (no store check)",
                    "none (no authentication)",
                    ok={"type": "object"},
                    errors=(),
                ),
                "security": [],
            }
        },
        "/api/v1/presence-states": {
            "get": _op("The active presence states and options", "any", ok={"type": "object"}, errors=(401,))
        },
        "/api/v1/agents": {
            "get": _op(
                "Agents with their live presence (an agent sees itself); view=grid sends "
                "only id, name, team, logged_in, state (its id), seconds_in_state, "
                "connection_lost, on_call and next_state (its id: picked during a call for after it)",
                "any",
                ok={"type": "object"},
                errors=(401, 422),
                params=[VIEW],
            )
        },
        agent_path("/login"): {
            "post": _op(
                "Log the agent in (acquire a logon)",
                "agent (itself), supervisor, admin, integration",
                _obj({"logon_source": STR, "device": STR, "source": STR, "pin": STR}),
                params=[AGENT_ID],
                errors=(401, 403, 404, 409, 422, 429),
                extra=" Agents may not use the system-only logon sources (Supervisor, Scheduled Log Off, Inactivity "
                "Timeout, Softphone Connection Lost, Duplicate Login)." + PIN_LIMITS,
            )
        },
        "/api/v1/pbx/login": {
            "post": _op(
                "A PBX short-code login (*35*extension*PIN#): the agent is found by extension, the PIN checked",
                "integration, admin",
                _obj({"extension": STR, "pin": STR, "device": STR, "logon_source": STR}, ("extension", "pin")),
                errors=(401, 403, 404, 409, 422, 429),
                extra=PIN_LIMITS,
            )
        },
        "/api/v1/pbx/logout": {
            "post": _op(
                "A PBX short-code logout (*36) on an extension",
                "integration, admin",
                _obj({"extension": STR, "logon_source": STR}, ("extension",)),
            )
        },
        agent_path("/logout"): {
            "post": _op(
                "Log the agent out; every logon is released",
                "agent (itself), supervisor, admin, integration",
                _obj({"logon_source": STR, "source": STR}),
                params=[AGENT_ID],
            )
        },
        agent_path("/heartbeat"): {
            "post": _op("The softphone is alive", "agent (itself), any", params=[AGENT_ID], reads_body=True)
        },
        agent_path("/presence"): {
            "get": _op("The agent's presence", "agent (itself), any", params=[AGENT_ID]),
            "put": _op(
                "Change presence by state id or label. During a call the state becomes the agent's "
                "next_state (applied when the call and its wrap-up end) unless force is true "
                "(supervisor, admin, integration; recorded with the cause 'forced')",
                "agent (itself), supervisor, admin, integration",
                _obj({"state": STR, "source": STR, "force": {"type": "boolean", "default": False}}, ("state",)),
                params=[AGENT_ID],
            ),
        },
        agent_path("/next-state"): {
            "delete": _op(
                "Cancel the state picked during a call (next_state): after the call the agent goes back to Ready",
                "agent (itself), supervisor, admin, integration",
                params=[AGENT_ID],
            )
        },
        agent_path("/calls/end"): {
            "post": _op(
                "End the agent's call now (its 'ended' event never came); no wrap-up, cause recorded",
                "supervisor, admin",
                params=[AGENT_ID],
            )
        },
        agent_path("/calls"): {
            "post": _op(
                "Report a call started or ended",
                "integration, admin; agent (itself) only with CONNECTOR_AGENT_CALLS=on (recorded as softphone)",
                _obj(
                    {
                        "call_id": STR,
                        "event": {"enum": ["started", "ended"]},
                        "direction": {"enum": ["inbound", "outbound", "internal"]},
                        "duration_seconds": {"type": "integer", "minimum": 0},
                        "caller_number": {
                            "type": "string",
                            "maxLength": 40,
                            "description": "inbound 'started' only: the caller's number; published as "
                            "a 'call' event so the softphone in the console pops the record",
                        },
                    },
                    ("call_id", "event", "direction"),
                ),
                params=[AGENT_ID],
            )
        },
        agent_path("/dial"): {
            "post": _op(
                "Dial a number (DND goes back to Ready first; spaces, dashes, dots and brackets are ignored). The "
                "answer's 'dial' says what happened: sent to which adapters, or why not",
                "agent (itself), any",
                _obj({"number": STR}, ("number",)),
                params=[AGENT_ID],
                ok={
                    "allOf": [AGENT, {"type": "object", "properties": {"dial": {"$ref": "#/components/schemas/Dial"}}}]
                },
            )
        },
        agent_path("/wrap-up/extend"): {
            "post": _op(
                "Extend the wrap-up", "agent (itself), any", _obj({"seconds": {"type": "integer"}}), params=[AGENT_ID]
            )
        },
        agent_path("/wrap-up/end"): {
            "post": _op("End the wrap-up now", "agent (itself), any", params=[AGENT_ID], reads_body=True)
        },
        agent_path("/stats"): {
            "get": _op(
                "Counters, time per state and time logged in for a day",
                "agent (itself), any",
                ok={"type": "object"},
                params=[AGENT_ID, DATE],
            )
        },
        "/api/v1/time-tracking": {
            "get": _op(
                "Seconds per agent, day and state (CSV with Accept: text/csv)",
                "any (an agent sees itself)",
                ok={"type": "object"},
                params=RANGE + [{"name": "agent", "in": "query", "schema": STR}],
                extra=RANGE_NOTE,
            )
        },
        "/api/v1/logon-events": {
            "get": _op(
                "Logon events (Acquired/Released) with include/exclude filters on logon source. JSON comes in pages "
                "of `limit` events (default 1000, at most 10000) with `next`, the cursor to pass as `after` for the "
                "next page (null on the last); CSV (Accept: text/csv or format=csv) holds every event, streamed",
                "supervisor, admin",
                ok={"type": "object"},
                params=RANGE
                + [
                    {"name": "include", "in": "query", "schema": STR},
                    {"name": "exclude", "in": "query", "schema": STR},
                    {"name": "agent", "in": "query", "schema": STR},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                    {"name": "after", "in": "query", "schema": STR},
                    {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
                ],
                extra=RANGE_NOTE,
            )
        },
        "/api/v1/session-time": {
            "get": _op(
                "Time logged in per agent per day, from the logon events",
                "supervisor, admin",
                ok={"type": "object"},
                params=RANGE,
                extra=RANGE_NOTE,
            )
        },
        "/api/v1/counters": {
            "get": _op(
                "Counters (calls, wrap-ups, logins) of every agent for one day",
                "supervisor, admin",
                ok={"type": "object"},
                params=[DATE],
            )
        },
        "/api/v1/state-mix": {
            "get": _op(
                "Seconds per state in each hour of a day (all agents or one team)",
                "supervisor, admin",
                ok={"type": "object"},
                params=[DATE, {"name": "team", "in": "query", "schema": STR}],
            )
        },
        "/api/v1/events": {
            "get": {
                "summary": "Server-Sent Events: snapshot, agent, presence, logon, session_ended, config, omni_channel "
                "(console commands with command_id), omni_channel_work, resync",
                "description": "Roles: any (an agent receives only its own events). Resumes after the event id in "
                "Last-Event-ID (or lastEventId) without a snapshot; resync then a snapshot when those "
                "events are no longer kept. EventSource cannot send headers, so this endpoint alone "
                "also takes a stream token (pcs1..., POST /api/v1/omni-channel/stream-tokens) as "
                "?stream_token=: short-lived, scoped to one agent; never log it. view=grid: the "
                "snapshot as GET /api/v1/agents?view=grid sends it.",
                "parameters": [
                    {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
                    {"name": "lastEventId", "in": "query", "schema": {"type": "string"}},
                    {"name": "stream_token", "in": "query", "schema": STR},
                    VIEW,
                ],
                "responses": {
                    "200": {"description": "text/event-stream"},
                    "503": {"description": "too_many_streams: CONNECTOR_STREAMS_PER_PRINCIPAL reached"},
                },
            }
        },
        "/api/v1/config/history": {
            "get": _op("Versions of the presence configuration", "admin", ok={"type": "object"})
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OK"}}}
        },
    }
    for path, ops in EXTRA_PATHS.items():
        paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Presence Connector API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _obj(
                    {
                        "error": _obj(
                            {
                                "code": STR,
                                "message": STR,
                                "field": {"type": ["string", "null"]},
                                "problems": {"type": "array"},
                            },
                            ("code", "message", "field"),
                        )
                    },
                    ("error",),
                ),
                "Agent": {
                    "type": "object",
                    "properties": {
                        "id": STR,
                        "name": STR,
                        "team": STR,
                        "logged_in": {"type": "boolean"},
                        "state": {"type": ["object", "null"]},
                        "state_since": {"type": ["string", "null"]},
                        "wrap_up_until": {"type": ["string", "null"]},
                        "on_call": {"type": "boolean"},
                        "call_since": {"type": ["string", "null"]},
                        "next_state": {
                            "type": ["object", "null"],
                            "description": "the state picked during a call; applies when it ends",
                        },
                    },
                },
                "Dial": _obj(
                    {
                        "number": {"type": "string", "description": "the number as dialled"},
                        "sent": {"type": "boolean"},
                        "sent_to": {"type": "array", "items": STR},
                        "message": {
                            "type": "string",
                            "description": "e.g. 'sent to asterisk_ami' or 'not sent: PBX mode is none'",
                        },
                    },
                    ("number", "sent", "sent_to", "message"),
                ),
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())
