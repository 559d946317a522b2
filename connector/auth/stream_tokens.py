"""Stream tokens: short-lived, signed, scoped to one agent (the Omni-Channel component's credential).

The component in the Salesforce console cannot hold an API token: its Apex controller asks the
connector (through a Named Credential with an integration token) for a stream token of the running
user's agent. The token is stateless — ``pcs1.`` + an itsdangerous signature (CONNECTOR_SECRET_KEY,
its own salt) over the agent id, the expiry and the agent's credential generation (bumped by a PIN
reset and by disabling the agent, connector/auth/accounts.py ``agent_credentials_key``) — so every
instance checks it with one small read, and it stops working at expiry, after a PIN reset or a disable,
or when CONNECTOR_SECRET_KEY changes.

It is not an agent credential: it opens that agent's event stream and carries the Omni-Channel
component's reports and acknowledgements, nothing else (connector/api/auth.py ``STREAM_TOKEN_SCOPE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from connector.clock import Clock

PREFIX = "pcs1."
_SALT = "presence-connector.stream-token.v1"


@dataclass(frozen=True)
class StreamClaim:
    agent_id: str
    expires: datetime
    #: the agent's credential generation when the token was issued
    generation: int


class StreamTokens:
    def __init__(self, secret_key: str, seconds: int, clock: Clock):
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)
        self.seconds = seconds
        self._clock = clock

    def issue(self, agent_id: str, generation: int = 0) -> tuple[str, datetime]:
        """A new token for ``agent_id`` (at its credential ``generation``) and when it expires."""
        expires = self._clock().astimezone(UTC) + timedelta(seconds=self.seconds)
        body = self._serializer.dumps({"agent": agent_id, "exp": int(expires.timestamp()), "gen": generation})
        return PREFIX + body, expires.replace(microsecond=0)

    def claim(self, token: str) -> StreamClaim | None:
        """What a valid, unexpired token says; None otherwise (forged, expired, other key)."""
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
        generation = data.get("gen", 0)
        return StreamClaim(data["agent"], datetime.fromtimestamp(data["exp"], UTC), int(generation))

    def agent_of(self, token: str) -> str | None:
        """The agent a valid, unexpired token is for; None otherwise (forged, expired, other key)."""
        found = self.claim(token)
        return found.agent_id if found else None


def is_stream_token(token: str) -> bool:
    return token.startswith(PREFIX)
