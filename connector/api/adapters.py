"""Adapters in the API: delivery health, and the events an adapter's remote side reports inbound.

Adapters define no routes of their own: an adapter declares ``inbound_fields`` and implements
``receive``; this module serves it at ``POST /api/v1/adapters/<name>/agents/<agent_id>/events``
(and Omni-Channel also at its established ``POST /api/v1/agents/<agent_id>/omni-channel``).
"""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from connector.api import openapi
from connector.api.auth import require, require_agent_access, signed_in_principal
from connector.api.common import body, bp
from connector.errors import Forbidden, NotFound
from connector.integrations.runtime import adapters_health
from connector.parts import get_parts

OMNI_CHANNEL = "omni-channel"


@bp.get("/adapters")
@require("admin")
def adapters_status():
    return jsonify(adapters_health(current_app))


@bp.post("/adapters/<name>/agents/<agent_id>/events")
@require()
def adapter_event(name: str, agent_id: str):
    return jsonify(_receive(name, agent_id))


@bp.post("/agents/<agent_id>/omni-channel")
@require("agent", "integration")
def omni_channel_event(agent_id: str):
    """The softphone reports an Omni-Channel change the agent made in the console."""
    return jsonify(_receive(OMNI_CHANNEL, agent_id))


@bp.post("/adapters/<name>/notifications")
def adapter_notification(name: str):
    """A remote system's own notification (Graph change notifications for teams): no sign-in, the adapter
    checks the sender (clientState). Unknown or disabled adapters are 404."""
    adapter = get_parts().dispatcher.adapters.get(name)
    if adapter is None:
        raise NotFound(f"the {name} adapter is not enabled (CONNECTOR_ADAPTERS)", field="name")
    payload = request.get_json(silent=True) if request.data else None
    status, answer = adapter.notify(dict(request.args.items()), payload)
    if isinstance(answer, str):
        return Response(answer, status=status, mimetype="text/plain")
    return jsonify(answer), status


def _receive(name: str, agent_id: str) -> dict:
    principal = signed_in_principal()
    require_agent_access(agent_id)
    adapter = get_parts().dispatcher.adapters.get(name)
    if adapter is None or not adapter.inbound_fields:
        enabled = [n for n, a in get_parts().dispatcher.adapters.items() if a.inbound_fields]
        raise NotFound(
            f"the {name} adapter is not enabled or receives no events (CONNECTOR_ADAPTERS); "
            f"adapters receiving events: {', '.join(enabled) or 'none'}",
            field="agent_id",
        )
    if principal.role not in adapter.inbound_roles:
        raise Forbidden(
            f"the {principal.role} role may not report {name} events; needs: {', '.join(adapter.inbound_roles)}"
        )
    return adapter.receive(agent_id, body(adapter.inbound_fields))


openapi.describe(
    "/api/v1/adapters",
    "get",
    "Per-adapter delivery health: queue depth, parked rows, last "
    "success, last error, and the adapter's own details (secrets only shown as set)",
    "admin",
)
openapi.describe(
    "/api/v1/agents/{agent_id}/omni-channel",
    "post",
    "The Omni-Channel component (or the softphone relaying it) reports: statusChanged / logout "
    "(a change made in the console, source omni-channel), ack (a command's outcome: command_id, ok, "
    "error, error_code 'invalid_status' = do not retry), workAccepted (work_item_id, work_id; "
    "published as omni_channel_work, presence unchanged); needs the omni-channel adapter. "
    "A stream token (Bearer pcs1...) works here; CORS for CONNECTOR_CORS_ORIGINS",
    "agent (itself), integration",
    body={
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {"enum": ["statusChanged", "logout", "ack", "workAccepted"]},
            "developer_name": {"type": "string"},
            "service_presence_status_id": {"type": "string"},
            "command_id": {"type": "string"},
            "ok": {"type": "boolean"},
            "error": {"type": "string"},
            "error_code": {"type": "string"},
            "work_item_id": {"type": "string"},
            "work_id": {"type": "string"},
        },
    },
    params=[openapi.AGENT_ID],
)
openapi.describe(
    "/api/v1/adapters/{name}/agents/{agent_id}/events",
    "post",
    "An adapter's remote side reports an event for an agent (the adapter's own fields; "
    "e.g. omni-channel: event, developer_name, service_presence_status_id)",
    "per adapter: agent (itself), integration",
    body={"type": "object"},
    params=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}, openapi.AGENT_ID],
)
openapi.describe(
    "/api/v1/adapters/{name}/notifications",
    "post",
    "A remote system's own notifications, no sign-in (teams: Microsoft Graph change notifications for presence; "
    "the validationToken handshake is answered with the token as text/plain, notifications whose clientState "
    "is not a subscription's are ignored; answers 202)",
    "none (the adapter checks the sender)",
    body={"type": "object"},
    params=[
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "validationToken", "in": "query", "required": False, "schema": {"type": "string"}},
    ],
)
_notifications = openapi.EXTRA_PATHS["/api/v1/adapters/{name}/notifications"]["post"]
_notifications["security"] = []
_notifications["requestBody"]["required"] = False
_notifications["responses"]["200"] = {
    "description": "the validation handshake: the validationToken, as text/plain",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
_notifications["responses"]["202"] = {
    "description": "notifications accepted",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
