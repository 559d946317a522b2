"""The hot path: ``PUT /api/v1/agents/<id>/presence`` with a bearer token, answered without Flask.

Every softphone click and every PBX or CTI event is this one request, so ``serve`` answers its plain
case here, on the same worker threads, through the same service call, the same token check and the
same view as the Flask route (connector/api/agents.py ``put_presence``) — without building a WSGI
environ, a request context, a session and a response object, which cost more than the change itself
(BENCHMARKS.md, "Fast path").

Only the plain case is taken: a ``PUT`` with an ``Authorization: Bearer`` API token, a small JSON
body of known fields, no cookie, no ``Origin``, no query, from an agent or an integration without
``force`` (a supervisor's or admin's change goes to the route, which records it in the audit trail). Anything else, and any request this path
would have to refuse (unknown or revoked token, another agent's presence, a bad field, an unknown
agent or state, a store fault), is handed to the Flask app unchanged, which answers it as before. So
the rules, the validation messages and the error answers live in one place: this path either answers
exactly as the Flask view does (a test compares the two), or it does not answer at all.
"""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from connector.api.inputs import audited_change, presence_change
from connector.auth.accounts import principal_for_token
from connector.auth.stream_tokens import is_stream_token
from connector.changes import jsontext
from connector.errors import ConnectorError
from connector.live.subscriptions import Encoded
from connector.parts import get_parts
from connector.store.faults import DRIVER_OPERATIONAL
from connector.web.guard import security_headers

PRESENCE_PATH = re.compile(r"/api/v1/agents/([^/]+)/presence")
#: a change's body is a few dozen bytes; a longer one goes to Flask
MAX_BODY = 4096
#: errors that leave nothing written: the Flask app answers the request again, as it would have
_REFUSED: tuple[type[Exception], ...] = (ConnectorError, SQLAlchemyError, *DRIVER_OPERATIONAL)


class FastPresence:
    """Answers the plain presence change for ``serve`` (connector/serve/asgi.py), or hands it back."""

    def __init__(self, app: Flask):
        parts = get_parts(app)
        self.service = parts.service
        self.store = parts.store
        self.dumps = app.json.dumps
        self.headers = [(b"content-type", b"application/json")] + [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(parts.settings)
        ]

    @staticmethod
    def candidate(scope) -> tuple[str, str] | None:
        """(agent id, token) when the request may be the plain case; None when it is for Flask."""
        if scope["method"] != "PUT" or scope.get("query_string"):
            return None
        found = PRESENCE_PATH.fullmatch(scope["path"])
        if found is None:
            return None
        token = None
        json_body = seen_type = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                if value[:7].lower() != b"bearer " or token is not None:
                    return None
                token = value[7:].strip().decode("latin-1")
            elif name == b"content-type":
                if seen_type:  # two Content-Type headers: Flask refuses them (415), so it answers
                    return None
                seen_type = True
                json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
            elif name in (b"cookie", b"origin", b"transfer-encoding"):
                return None
            elif name == b"content-length":
                if not value.isdigit() or int(value) > MAX_BODY:
                    return None
        if not token or not json_body or is_stream_token(token):
            return None
        return found.group(1), token

    def answer(self, agent_id: str, token: str, body: bytes) -> tuple[int, list, bytes] | None:
        """In a worker thread: the change and its answer, or None for the Flask app to answer."""
        principal = principal_for_token(self.store, token)
        if principal is None or not principal.may_act_for(agent_id):
            return None
        try:
            data = jsontext.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        try:
            state, source, force = presence_change(principal, data)
        except ConnectorError:
            return None
        if audited_change(principal.role, force):  # a supervisor's or admin's change: the route records it
            return None
        try:
            view = self.service.set_state(agent_id, state, source=source, force=force, count_refusal=False).view
        except _REFUSED:
            return None
        text = view.json if isinstance(view, Encoded) else self.dumps(view, separators=(",", ":"))
        content = (text + "\n").encode()
        return 200, [*self.headers, (b"content-length", str(len(content)).encode())], content
