"""/api/v1/openapi.json: the API as OpenAPI 3.1. A test checks every route is described here."""
from __future__ import annotations

from flask import jsonify

from .routes import bp

ERROR = {"$ref": "#/components/schemas/Error"}
AGENT = {"$ref": "#/components/schemas/Agent"}


def _op(summary: str, roles: str, body: dict | None = None, ok: dict | None = None,
        params: list | None = None, errors: tuple[int, ...] = (401, 403, 404, 409, 422)) -> dict:
    op: dict = {"summary": summary, "description": f"Roles: {roles}.",
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ok or AGENT}}}}}
    for code in errors:
        op["responses"][str(code)] = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _obj(props: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": props, "required": list(required)}


AGENT_ID = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
RANGE = [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
         {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}}]
STR = {"type": "string"}

#: paths other parts of the product add (sync status, adapters ...), see ``describe``
EXTRA_PATHS: dict[str, dict] = {}


def describe(path: str, method: str, summary: str, roles: str, body: dict | None = None,
             params: list | None = None) -> None:
    """Add an endpoint defined outside this module to the document."""
    EXTRA_PATHS.setdefault(path, {})[method] = _op(summary, roles, body, ok={"type": "object"}, params=params)


def spec() -> dict:
    agent_path = lambda suffix: f"/api/v1/agents/{{agent_id}}{suffix}"  # noqa: E731
    paths = {
        "/healthz": {"get": _op("Health of the service and its store", "none", ok={"type": "object"}, errors=(503,))},
        "/api/v1/presence-states": {"get": _op("The active presence states and options", "any",
                                               ok={"type": "object"}, errors=(401,))},
        "/api/v1/agents": {"get": _op("Agents with their live presence (an agent sees itself)", "any",
                                      ok={"type": "object"}, errors=(401,))},
        agent_path("/login"): {"post": _op(
            "Log the agent in (acquire a logon)", "agent (itself), supervisor, admin, integration",
            _obj({"logon_source": STR, "device": STR, "source": STR, "pin": STR}), params=[AGENT_ID])},
        "/api/v1/pbx/login": {"post": _op(
            "A PBX short-code login (*35*extension*PIN#): the agent is found by extension, the PIN checked",
            "integration, admin", _obj({"extension": STR, "pin": STR, "device": STR, "logon_source": STR},
                                       ("extension", "pin")))},
        "/api/v1/pbx/logout": {"post": _op("A PBX short-code logout (*36) on an extension", "integration, admin",
                                           _obj({"extension": STR, "logon_source": STR}, ("extension",)))},
        agent_path("/logout"): {"post": _op(
            "Log the agent out; every logon is released", "agent (itself), supervisor, admin, integration",
            _obj({"logon_source": STR, "source": STR}), params=[AGENT_ID])},
        agent_path("/heartbeat"): {"post": _op("The softphone is alive", "agent (itself), any", params=[AGENT_ID])},
        agent_path("/presence"): {
            "get": _op("The agent's presence", "agent (itself), any", params=[AGENT_ID]),
            "put": _op("Change presence by state id or label", "agent (itself), supervisor, admin, integration",
                       _obj({"state": STR, "source": STR}, ("state",)), params=[AGENT_ID]),
        },
        agent_path("/calls"): {"post": _op(
            "Report a call started or ended", "integration, admin, agent (itself)",
            _obj({"call_id": STR, "event": {"enum": ["started", "ended"]},
                  "direction": {"enum": ["inbound", "outbound", "internal"]},
                  "duration_seconds": {"type": "integer", "minimum": 0}}, ("call_id", "event", "direction")),
            params=[AGENT_ID])},
        agent_path("/dial"): {"post": _op("Dial a number (DND goes back to Ready first)", "agent (itself), any",
                                          _obj({"number": STR}, ("number",)), params=[AGENT_ID])},
        agent_path("/wrap-up/extend"): {"post": _op("Extend the wrap-up", "agent (itself), any",
                                                    _obj({"seconds": {"type": "integer"}}), params=[AGENT_ID])},
        agent_path("/wrap-up/end"): {"post": _op("End the wrap-up now", "agent (itself), any", params=[AGENT_ID])},
        agent_path("/stats"): {"get": _op(
            "Counters, time per state and time logged in for a day", "agent (itself), any", ok={"type": "object"},
            params=[AGENT_ID, {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}}])},
        "/api/v1/time-tracking": {"get": _op(
            "Seconds per agent, day and state (CSV with Accept: text/csv)", "any (an agent sees itself)",
            ok={"type": "object"}, params=RANGE + [{"name": "agent", "in": "query", "schema": STR}])},
        "/api/v1/logon-events": {"get": _op(
            "Logon events (Acquired/Released) with include/exclude filters on logon source "
            "(CSV with Accept: text/csv)", "supervisor, admin", ok={"type": "object"},
            params=RANGE + [{"name": "include", "in": "query", "schema": STR},
                            {"name": "exclude", "in": "query", "schema": STR},
                            {"name": "agent", "in": "query", "schema": STR}])},
        "/api/v1/session-time": {"get": _op("Time logged in per agent per day, from the logon events",
                                            "supervisor, admin", ok={"type": "object"}, params=RANGE)},
        "/api/v1/counters": {"get": _op("Counters (calls, wrap-ups, logins) of every agent for one day",
                                        "supervisor, admin", ok={"type": "object"},
                                        params=[{"name": "date", "in": "query",
                                                 "schema": {"type": "string", "format": "date"}}])},
        "/api/v1/state-mix": {"get": _op("Seconds per state in each hour of a day (all agents or one team)",
                                         "supervisor, admin", ok={"type": "object"},
                                         params=[{"name": "date", "in": "query",
                                                  "schema": {"type": "string", "format": "date"}},
                                                 {"name": "team", "in": "query", "schema": STR}])},
        "/api/v1/events": {"get": {
            "summary": "Server-Sent Events: snapshot, agent, presence, logon, session_ended, config, omni_channel, "
                       "resync",
            "description": "Roles: any (an agent receives only its own events). Resumes after the event id in "
                           "Last-Event-ID (or lastEventId) without a snapshot; resync then a snapshot when those "
                           "events are no longer kept.",
            "parameters": [{"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
                           {"name": "lastEventId", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "text/event-stream"},
                          "503": {"description": "too_many_streams: CONNECTOR_STREAMS_PER_PRINCIPAL reached"}}}},
        "/api/v1/config/history": {"get": _op("Versions of the presence configuration", "admin",
                                              ok={"type": "object"})},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}},
    }
    for path, ops in EXTRA_PATHS.items():
        paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Presence Connector API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _obj({"error": _obj({"code": STR, "message": STR, "field": {"type": ["string", "null"]}},
                                             ("code", "message", "field"))}, ("error",)),
                "Agent": {"type": "object", "properties": {
                    "id": STR, "name": STR, "team": STR, "logged_in": {"type": "boolean"},
                    "state": {"type": ["object", "null"]}, "state_since": {"type": ["string", "null"]},
                    "wrap_up_until": {"type": ["string", "null"]}, "on_call": {"type": "boolean"}}},
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())
