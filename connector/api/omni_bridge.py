"""The Omni-Channel component's way in, without Open CTI (docs/architecture.md, "Omni-Channel").

* ``POST /api/v1/omni-channel/stream-tokens`` — the component's Apex controller (Named Credential,
  integration token) asks for a stream token for the Salesforce user running the console;
* the component reads ``GET /api/v1/events`` from the console's origin with fetch, the token as bearer and
  ``Last-Event-ID`` to resume (``?stream_token=`` is still accepted there, for components that predate it),
  and posts its reports and acknowledgements to ``POST /api/v1/agents/<id>/omni-channel`` with the token as bearer;
* CORS (``CONNECTOR_CORS_ORIGINS``) answers those three for the listed origins only, without
  credentials: the token is the credential, cookies are never involved.
"""

from __future__ import annotations

import logging
import re

from flask import Response, jsonify, request

from connector.api import openapi
from connector.api.auth import require, stream_tokens
from connector.api.common import body, bp
from connector.auth.accounts import agent_credentials_key
from connector.auth.cors import allowed_origin
from connector.clock import iso
from connector.errors import Conflict, InvalidInput, NotFound
from connector.parts import get_parts
from connector.store import statements
from connector.store.models import Agent

OMNI_CHANNEL = "omni-channel"
SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
#: endpoints a browser on an allowed origin may call (with a bearer or stream token, never cookies)
CORS_ENDPOINTS = ("api.events", "api.omni_channel_event")
CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID"


@bp.post("/omni-channel/stream-tokens")
@require("integration", "admin")
def issue_stream_token():
    """A short-lived token scoped to the agent whose salesforce_user_id is the given Salesforce user."""
    data = body(("salesforce_user_id",), required=("salesforce_user_id",))
    user_id = data["salesforce_user_id"]
    if not isinstance(user_id, str) or not SALESFORCE_ID.match(user_id):
        raise InvalidInput(
            "salesforce_user_id must be a 15- or 18-character Salesforce User Id (005...)", field="salesforce_user_id"
        )
    agent_id = _agent_for_salesforce_user(user_id)
    generation = statements.current_generation(get_parts().store, agent_credentials_key(agent_id))
    token, expires = stream_tokens().issue(agent_id, generation)
    root = request.url_root
    return jsonify(
        {
            "token": token,
            "agent_id": agent_id,
            "expires_at": iso(expires),
            "expires_in": stream_tokens().seconds,
            "events_url": root + "api/v1/events",
            "report_url": root + f"api/v1/agents/{agent_id}/omni-channel",
        }
    )


def _agent_for_salesforce_user(user_id: str) -> str:
    with get_parts().store.read() as s:
        candidates = (
            s.query(Agent.id, Agent.salesforce_user_id)
            .filter(Agent.active.is_(True), Agent.salesforce_user_id.like(user_id[:15] + "%"))
            .all()
        )
    # LIKE may ignore case (SQLite); a 15-character Id is case-sensitive
    matches = sorted(aid for aid, sf_id in candidates if (sf_id or "")[:15] == user_id[:15])
    if not matches:
        raise NotFound(
            f"no active agent has salesforce_user_id {user_id[:15]} (set it on the agent: admin page, "
            f"'agents add' or the agent import)",
            field="salesforce_user_id",
        )
    if len(matches) > 1:
        raise Conflict(
            f"agents {', '.join(matches)} share salesforce_user_id {user_id[:15]}; give it to one only",
            field="salesforce_user_id",
        )
    return matches[0]


class RedactStreamTokens(logging.Filter):
    """Access logs (werkzeug's development server) never show a stream token from a query string."""

    PATTERN = re.compile(r"(stream_token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "stream_token=" in message:
            record.msg, record.args = self.PATTERN.sub(r"\1(hidden)", message), ()
        return True


logging.getLogger("werkzeug").addFilter(RedactStreamTokens())


# -- CORS for the component's origin --------------------------------------------------------------


def _cors_route() -> bool:
    if request.endpoint == "api.adapter_event":
        return (request.view_args or {}).get("name") == OMNI_CHANNEL
    return request.endpoint in CORS_ENDPOINTS


@bp.before_request
def _preflight():
    if request.method != "OPTIONS" or not _cors_route() or "Origin" not in request.headers:
        return None
    response = Response(status=204)
    response.headers["Vary"] = "Origin"
    canonical = allowed_origin(request.headers["Origin"], get_parts().settings.cors_origins)
    if canonical and request.headers.get("Access-Control-Request-Method") in ("GET", "POST"):
        response.headers["Access-Control-Allow-Origin"] = canonical
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response  # without the allow headers the browser refuses the call


@bp.after_request
def _allow_origin(response):
    origin = request.headers.get("Origin")
    if request.method != "OPTIONS" and origin and _cors_route():
        response.headers.add("Vary", "Origin")
        canonical = allowed_origin(origin, get_parts().settings.cors_origins)
        if canonical:
            response.headers["Access-Control-Allow-Origin"] = canonical
    return response


openapi.describe(
    "/api/v1/omni-channel/stream-tokens",
    "post",
    "A stream token for the Omni-Channel component (asked by its Apex controller through the Named Credential): "
    "short-lived (CONNECTOR_STREAM_TOKEN_SECONDS, default 900), signed, scoped to the one active agent whose "
    "salesforce_user_id matches the first 15 characters. It opens that agent's event stream (as "
    "'?stream_token=' on GET /api/v1/events, EventSource sends no headers, or 'Authorization: Bearer pcs1...') and "
    "carries the component's reports to POST /api/v1/agents/{id}/omni-channel; everything else answers 403 "
    "stream_token_scope. A PIN reset or disabling the agent ends it (and its open streams). "
    "Answers {token, agent_id, expires_at, expires_in, events_url, report_url}; 404 naming salesforce_user_id "
    "when no agent has it",
    "integration, admin",
    body={
        "type": "object",
        "required": ["salesforce_user_id"],
        "additionalProperties": False,
        "properties": {"salesforce_user_id": {"type": "string", "pattern": SALESFORCE_ID.pattern}},
    },
)
