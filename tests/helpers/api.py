"""Calling a test app's REST API with a token of a role, and an app with people to sign in as."""

from __future__ import annotations

from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.signin import PASSWORD


class Api:
    """A small helper for calling the API with a token of a given role (the ``api`` fixture is one)."""

    def __init__(self, app, client):
        self.app = app
        self.client = client
        self.parts = get_parts(app)

    def agent(self, agent_id: str, **fields) -> str:
        accounts.add_agent(self.parts.store, {"id": agent_id, "name": agent_id.title(), **fields}, self.parts.clock())
        return agent_id

    def token(self, role: str, agent_id: str | None = None) -> dict:
        token = accounts.create_token(self.parts.store, role, self.parts.clock(), agent_id=agent_id)
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, headers: dict, json=None, **kw):
        return self.client.open(path, method=method, headers=headers, json=json, **kw)


def admin_site(make_app, **env):
    """An app (``make_app(**env)``) with an admin ``ada``, a supervisor ``sue`` and an agent ``edred`` (PIN
    1234). Called again on the same store (a restart), it finds the accounts there and adds none."""
    app = make_app(**env)
    parts = get_parts(app)
    now = parts.clock()
    if not accounts.list_users(parts.store):
        accounts.add_user(parts.store, "ada", PASSWORD, "admin", now)
        accounts.add_user(parts.store, "sue", PASSWORD, "supervisor", now)
        accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "pin": "1234"}, now)
    return app
