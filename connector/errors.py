"""One error vocabulary for the whole product.

Domain code raises these with a code and a message a user can act on; the API layer maps
them to HTTP once (``connector.api.errors``). ``field`` names the input that was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a setting: which field, why, and where (file, state) when it is in a file.

    Without a ``source`` the message is a whole sentence that already names the field
    (``AMI_PORT must be between 1 and 65535``); with one, it reads after the location
    (``broken.yaml: state 'dnd', id: duplicate id 'dnd'``).
    """

    field: str
    message: str
    source: str | None = None
    state: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"file": self.source, "state": self.state, "field": self.field, "why": self.message}

    def __str__(self) -> str:
        if self.source is None:
            return self.message
        where = f"state '{self.state}', " if self.state else ""
        return f"{self.source}: {where}{self.field}: {self.message}"


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

    def to_dict(self) -> dict[str, Any]:
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


class TooManyStreams(ConnectorError):
    """A caller already holds its quota of open event streams (HTTP 503; ``CONNECTOR_STREAMS_PER_PRINCIPAL``)."""

    http_status = 503
    code = "too_many_streams"


class SettingsInvalid(InvalidInput):
    """Settings break the rules; ``problems`` lists every one, ``field`` is the first one's field.

    The problems are :class:`Problem` values (field, message, file, state);
    that module has the parsers every settings validator shares.
    """

    #: the message when no problem was given
    summary = "invalid settings"

    def __init__(self, problems: Problem | list[Problem]):
        self.problems = list(problems) if isinstance(problems, (list, tuple)) else [problems]
        first = self.problems[0] if self.problems else None
        message = "; ".join(str(p) for p in self.problems) or self.summary
        super().__init__(message, field=first.field if first else None)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["error"]["problems"] = [p.as_dict() for p in self.problems]
        return body


class ConfigError(SettingsInvalid):
    """A presence configuration breaks the rules; ``problems`` lists every one of them (file, state, field, why)."""

    http_status = 422
    code = "invalid_config"
    summary = "invalid configuration"


class TooManyAttempts(ConnectorError):
    """Too many failed sign-ins for an account or from an address: wait ``retry_after`` seconds (HTTP 429)."""

    http_status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None, code: str | None = None):
        super().__init__(message, field=field, code=code)
        self.retry_after = max(1, int(retry_after))


class Unavailable(ConnectorError):
    """The store (or the hash-check capacity) cannot serve the request now; retry later (HTTP 503)."""

    http_status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, field: str | None = None, code: str | None = None):
        super().__init__(message, field=field, code=code)
        self.retry_after = max(1, int(retry_after))
