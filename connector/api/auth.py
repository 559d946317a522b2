"""Who is calling the API: a bearer token, or the signed-in user of the web pages."""

from __future__ import annotations

from functools import wraps

from flask import g, request, session

from connector.auth import page_sessions
from connector.auth.accounts import Principal, agent_credentials_key, principal_for_token, still_enabled
from connector.auth.stream_tokens import StreamTokens, is_stream_token
from connector.errors import Forbidden, Unauthorized
from connector.parts import get_parts
from connector.store import statements

#: the one endpoint that accepts a stream token in the query (EventSource cannot send headers)
STREAM_TOKEN_ENDPOINTS = ("api.events",)
#: everything a stream token may do: the agent's event stream, the Omni-Channel component's reports and
#: acknowledgements (``POST /api/v1/agents/<id>/omni-channel``, or the generic adapter route for omni-channel)
STREAM_TOKEN_SCOPE = ("api.events", "api.omni_channel_event")


def current_principal() -> Principal | None:
    if "principal" in g:
        return g.principal
    principal = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        principal = bearer_principal(header[7:].strip())
    elif "stream_token" in request.args and request.endpoint in STREAM_TOKEN_ENDPOINTS:
        principal = stream_principal(request.args["stream_token"], "stream_token")
    elif session.get("principal"):
        data = session["principal"]
        principal = Principal(data["name"], data["role"], data.get("agent_id"))
        g.stream_ends = page_sessions.stream_keys(session.get("sid"), data["name"], bool(session.get("with_pin")))
        g.page_session = session.get("sid")
    g.principal = principal
    return principal


def stream_ends() -> frozenset[str]:
    """The credential keys whose end ends this request's event stream (connector/live/bus.py ``end_credentials``)."""
    principal = current_principal()
    keys = set(g.get("stream_ends") or ())
    if principal is not None and principal.credential:
        keys.add(principal.credential)
    if principal is not None and principal.role == "agent" and principal.agent_id:
        keys.add(f"agent:{principal.agent_id}")
    return frozenset(keys)


def stream_until():
    """When this request's credential expires whatever happens (a stream token, a page session); or None."""
    current_principal()
    if "page_session" in g:
        parts = get_parts()
        return page_sessions.expires_at(parts.store, g.page_session, parts.session_lifetimes)
    return g.get("stream_until")


def bearer_principal(token: str) -> Principal:
    """Who an ``Authorization: Bearer`` token is: an API token, or a stream token (``pcs1.``); 401 otherwise."""
    if is_stream_token(token):
        return stream_principal(token, "Authorization")
    principal = principal_for_token(get_parts().store, token)
    if principal is None:
        raise Unauthorized("the bearer token is not valid (unknown or revoked)", field="Authorization")
    return principal


def stream_tokens() -> StreamTokens:
    settings = get_parts().settings
    return StreamTokens(settings.secret_key, settings.stream_token_seconds, get_parts().clock)


def stream_principal(token: str, field: str) -> Principal:
    """The agent a stream token (``pcs1.``) is for, as an agent-role principal.

    401 when it is not valid, expired, issued before the agent's PIN reset or disable, or its agent is
    unknown or disabled; 403 on anything but the agent's event stream and the Omni-Channel reports."""
    if not _in_stream_scope():
        raise Forbidden(
            "a stream token opens the agent's event stream and carries the Omni-Channel component's reports "
            "only; use the agent's API token or the softphone's sign-in for anything else",
            field=field,
            code="stream_token_scope",
        )
    claim = stream_tokens().claim(token)
    store = get_parts().store
    if (
        claim is not None
        and claim.generation == statements.current_generation(store, agent_credentials_key(claim.agent_id))
        and still_enabled(store, claim.agent_id, with_pin=True)
    ):
        g.stream_until = claim.expires
        g.stream_ends = [f"agent-pin:{claim.agent_id}"]
        return Principal(f"stream-token:{claim.agent_id}", "agent", claim.agent_id)
    raise Unauthorized(
        "the stream token is not valid (expired, replaced by a PIN reset, or its agent is disabled): ask for a new one",
        field=field,
    )


def _in_stream_scope() -> bool:
    if request.endpoint == "api.adapter_event":
        return (request.view_args or {}).get("name") == "omni-channel"
    return request.endpoint in STREAM_TOKEN_SCOPE


def require(*roles: str):
    """Let the call through only for the given roles (all roles when none are named)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                raise Unauthorized(
                    "authentication required: send 'Authorization: Bearer <token>'", field="Authorization"
                )
            if roles and principal.role not in roles:
                raise Forbidden(f"the {principal.role} role may not do this; needs: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def signed_in_principal() -> Principal:
    """The caller of a view behind :func:`require`, which answered 401 before the view ran when there was none."""
    principal = current_principal()
    assert principal is not None  # only called behind require()
    return principal


def require_agent_access(agent_id: str) -> Principal:
    principal = signed_in_principal()
    if not principal.may_act_for(agent_id):
        raise Forbidden(f"an agent may act only for itself, not for '{agent_id}'", field="agent_id")
    return principal
