"""Who acts in a web or API request, for the audit trail: the signed-in user or the bearer token, and the
client address (``request.remote_addr``, which the trusted-proxy handling has already resolved)."""

from __future__ import annotations

from flask import request

from connector.api.auth import current_principal
from connector.audit import trail
from connector.parts import get_parts


def actor() -> trail.Actor:
    principal = current_principal()
    address = request.remote_addr or ""
    if principal is None:  # only behind a role check, so not expected; still recorded rather than lost
        return trail.Actor("(unknown)", "", address)
    return trail.Actor(principal.name, principal.role, address)


def entry(
    action: str,
    target: str = "",
    before: dict | None = None,
    after: dict | None = None,
    detail: str = "",
    states: bool = False,
) -> trail.Entry:
    """The row of an action of this request's caller, for the action to write in its own transaction."""
    return trail.Entry(get_parts().clock(), actor(), action, str(target), before, after, detail, states)


def record(
    action: str, target: str = "", before: dict | None = None, after: dict | None = None, detail: str = ""
) -> None:
    """Record an action of this request's caller that is not a store write of its own, after it succeeded."""
    parts = get_parts()
    trail.record(parts.store, parts.clock(), actor(), action, target, before, after, detail)
