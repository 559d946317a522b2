"""One error vocabulary for the whole product.

Domain code raises these with a code and a message a user can act on; the API layer maps
them to HTTP once (``connector.api.errors``). ``field`` names the input that was wrong.
"""
from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the product reports to a user."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class InvalidInput(ConnectorError):
    """The request is well formed but a value breaks a rule (HTTP 422)."""

    http_status = 422
    code = "invalid"


class MalformedRequest(ConnectorError):
    """The request body cannot be read at all (HTTP 400)."""

    http_status = 400
    code = "malformed"


class NotFound(ConnectorError):
    http_status = 404
    code = "not_found"


class Conflict(ConnectorError):
    """The request is valid but the agent's current situation refuses it (HTTP 409)."""

    http_status = 409
    code = "conflict"


class Unauthorized(ConnectorError):
    http_status = 401
    code = "unauthorized"


class Forbidden(ConnectorError):
    http_status = 403
    code = "forbidden"


class ConfigError(ConnectorError):
    """A presence configuration breaks the rules; ``problems`` lists every one of them."""

    http_status = 422
    code = "invalid_config"

    def __init__(self, problems: list["ConfigProblem"]):
        self.problems = problems
        first = problems[0] if problems else None
        summary = "; ".join(str(p) for p in problems) or "invalid configuration"
        super().__init__(summary, field=first.field if first else None)

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["error"]["problems"] = [p.as_dict() for p in self.problems]
        return body


class ConfigProblem:
    """One thing wrong with a presence configuration: where it is and why."""

    def __init__(self, source: str, field: str, why: str, state: str | None = None):
        self.source = source
        self.state = state
        self.field = field
        self.why = why

    def as_dict(self) -> dict:
        return {"file": self.source, "state": self.state, "field": self.field, "why": self.why}

    def __str__(self) -> str:
        where = f"state '{self.state}', " if self.state else ""
        return f"{self.source}: {where}{self.field}: {self.why}"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ConfigProblem({self})"
