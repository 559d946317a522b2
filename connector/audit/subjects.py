"""What the audit trail records of its targets: an agent's details before an edit, a new token's record."""

from __future__ import annotations

from sqlalchemy import select

from connector.auth.accounts import EDITABLE_AGENT_FIELDS
from connector.auth.hashing import token_digest
from connector.store import Store
from connector.store.models import Agent, ApiToken


def agent_details(store: Store, agent_id: str) -> dict | None:
    """An agent's editable details (no PIN), or None."""
    with store.read() as s:
        agent = s.get(Agent, agent_id)
        if agent is None:
            return None
        return {key: getattr(agent, key) for key in EDITABLE_AGENT_FIELDS} | {"active": agent.active}


def token_by_digest(store: Store, token: str) -> dict:
    """A token's record (id, name, role, agent; never the token), found by the token itself."""
    with store.read() as s:
        row = s.execute(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).scalar_one()
        return {"id": row.id, "name": row.name, "role": row.role, "agent_id": row.agent_id}
