"""Who is calling the API: a bearer token, or the signed-in user of the web pages."""

from __future__ import annotations

from functools import wraps

from flask import g, request, session

from connector.auth.accounts import Principal, principal_for_token, still_enabled
from connector.auth.stream_tokens import StreamTokens, is_stream_token
from connector.errors import Forbidden, Unauthorized
from connector.parts import get_parts

#: the one endpoint that accepts a stream token in the query (EventSource cannot send headers)
STREAM_TOKEN_ENDPOINTS = ("api.events",)


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
    g.principal = principal
    return principal


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
    """The agent a stream token (``pcs1.``) is for, as an agent-role principal; 401 when it is not valid,
    expired, or its agent is unknown or disabled."""
    agent_id = stream_tokens().agent_of(token)
    if agent_id is not None and still_enabled(get_parts().store, agent_id, with_pin=True):
        return Principal(f"stream-token:{agent_id}", "agent", agent_id)
    raise Unauthorized(
        "the stream token is not valid (expired, or its agent is disabled): ask for a new one", field=field
    )


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
