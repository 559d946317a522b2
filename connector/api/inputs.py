"""What a request body may say: the field checks the API routes and the fast path share."""

from __future__ import annotations

from connector.auth.accounts import Principal
from connector.errors import Forbidden, InvalidInput
from connector.presence.engine import ChangeSource

#: who may say a change came from where (state-change sources other than the caller's own)
CHANGE_SOURCES = ChangeSource.REPORTABLE


def check_fields(data: dict, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """``data`` when it has only ``allowed`` fields and every ``required`` one; InvalidInput naming the field."""
    for key in data:
        if key not in allowed:
            raise InvalidInput(f"unknown field '{key}'; allowed: {', '.join(allowed) or 'none'}", field=key)
    for key in required:
        if data.get(key) in (None, ""):
            raise InvalidInput(f"{key} is required", field=key)
    return data


def change_source(principal: Principal, data: dict) -> str:
    """Where a change came from, for the no-echo rule and the record: an agent's and a supervisor's own
    role; an integration or an admin may name one of :data:`CHANGE_SOURCES`."""
    role = principal.role
    if role == "agent":
        return ChangeSource.SOFTPHONE
    if role == "supervisor":
        return ChangeSource.SUPERVISOR
    source = data.get("source", ChangeSource.API)
    if source not in CHANGE_SOURCES:
        raise InvalidInput(f"source must be one of: {', '.join(CHANGE_SOURCES)}", field="source")
    return source


#: the roles whose changes to an agent's session are recorded in the audit trail
AUDITED_ROLES = ("supervisor", "admin")


def audited_change(role: str, force: bool) -> bool:
    """Whether a presence change is a supervisor's or admin's action (recorded), not an agent's or a system's.
    The fast path (connector/serve/fast_path.py) hands these to this route."""
    return role in AUDITED_ROLES or force


PRESENCE_CHANGE_FIELDS = ("state", "source", "force")


def presence_change(principal: Principal, data: dict) -> tuple[object, str, bool]:
    """A presence change's (state, source, force) from its body; InvalidInput or Forbidden naming the field."""
    check_fields(data, PRESENCE_CHANGE_FIELDS, required=("state",))
    force = data.get("force", False)
    if not isinstance(force, bool):
        raise InvalidInput("force must be true or false", field="force")
    if force and principal.role == "agent":
        raise Forbidden("only a supervisor, an admin or an integration can force a change during a call", field="force")
    return data["state"], change_source(principal, data), force
