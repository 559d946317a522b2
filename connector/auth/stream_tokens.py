"""Stream tokens: short-lived, signed, scoped to one agent (the Omni-Channel component's credential).

The component in the Salesforce console cannot hold an API token: its Apex controller asks the
connector (through a Named Credential with an integration token) for a stream token of the running
user's agent. The token is stateless — ``pcs1.`` + an itsdangerous signature (CONNECTOR_SECRET_KEY,
its own salt) over the agent id and the expiry — so every instance accepts it without a lookup, and
it stops working at expiry or when CONNECTOR_SECRET_KEY changes. Whoever holds it acts as that agent
only; the caller still checks the agent is active on every use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from connector.clock import Clock

PREFIX = "pcs1."
_SALT = "presence-connector.stream-token.v1"


class StreamTokens:
    def __init__(self, secret_key: str, seconds: int, clock: Clock):
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)
        self.seconds = seconds
        self._clock = clock

    def issue(self, agent_id: str) -> tuple[str, datetime]:
        """A new token for ``agent_id`` and when it expires."""
        expires = self._clock().astimezone(UTC) + timedelta(seconds=self.seconds)
        body = self._serializer.dumps({"agent": agent_id, "exp": int(expires.timestamp())})
        return PREFIX + body, expires.replace(microsecond=0)

    def agent_of(self, token: str) -> str | None:
        """The agent a valid, unexpired token is for; None otherwise (forged, expired, other key)."""
        if not token.startswith(PREFIX):
            return None
        try:
            data = self._serializer.loads(token[len(PREFIX) :])
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("agent"), str) or not isinstance(data.get("exp"), int):
            return None
        if self._clock().timestamp() >= data["exp"]:
            return None
        return data["agent"]


def is_stream_token(token: str) -> bool:
    return token.startswith(PREFIX)
