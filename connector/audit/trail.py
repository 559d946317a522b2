"""The audit trail in the store: one row per admin or supervisor action, read back with filters and pages.

Every route and command that changes what an admin or supervisor controls records a row after the change
succeeded (a refused request changes nothing and records nothing): who (a signed-in user's name, or
``token:<name>``, or ``cli:<OS user>``), the role, the client address, the action (one of :data:`ACTIONS`),
the target (an agent id, a username, a token id ...), and before/after values where they apply. Secrets
never go in: a PIN, password or secret setting appears as ``"secret changed"``.

Inbound changes an adapter reports (Teams, Omni-Channel, the PBX ...) that its inbound rule applied or refused
are rows too (:func:`inbound_values`, written with the change in its transaction by connector/changes/recording.py):
actor ``adapter:<source>``, the agent as target, the state before and after, the rule and the remote presence.
A report that decides nothing (an unchanged remote presence, the agent already in that state) writes none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from connector.errors import InvalidInput
from connector.store import Store
from connector.store.models import AuditEvent

#: every action the trail records, with what it means (the admin page's action filter lists them)
ACTIONS: dict[str, str] = {
    "token.create": "API token created",
    "token.revoke": "API token revoked",
    "user.add": "user added",
    "user.enable": "user enabled",
    "user.disable": "user disabled",
    "user.password_reset": "user's password set",
    "agent.add": "agent added",
    "agent.import": "agents imported from CSV",
    "agent.edit": "agent edited",
    "agent.enable": "agent enabled",
    "agent.disable": "agent disabled",
    "agent.pin_reset": "agent's PIN reset",
    "agent.erase": "agent's personal data erased",
    "account.unlock": "account unlocked",
    "account.lock": "account locked",
    "config.apply": "presence configuration applied",
    "adapter.settings": "adapter settings saved",
    "salesforce.connection": "Salesforce connection saved",
    "salesforce.sync_now": "Salesforce sync run now",
    "presence.force": "agent's state set by a supervisor or admin",
    "agent.login": "agent logged in by a supervisor or admin",
    "agent.logout": "agent logged out by a supervisor or admin",
    "call.end": "stuck call ended",
    "store.restore": "store restored from a backup",
    "inbound.applied": "inbound change applied by an adapter's rule (Teams, Omni-Channel, the PBX ...)",
    "inbound.refused": "inbound change refused by an adapter's rule",
}
#: an inbound verdict's action -> its audit action (a verdict of "nothing" is no decision: not recorded)
INBOUND_ACTIONS = {"apply": "inbound.applied", "refuse": "inbound.refused"}
#: the actor role of an adapter's inbound change (actor ``adapter:<source>``)
ADAPTER_ROLE = "adapter"
#: what stands for a secret's value
SECRET_CHANGED = "secret changed"
#: the columns of an export, in order
FIELDS = ["id", "at", "actor", "actor_role", "address", "action", "target", "before", "after", "detail"]
MAX_PAGE = 500


@dataclass(frozen=True)
class Actor:
    """Who acts: a name (user, ``token:<name>``, ``cli:<user>``), a role and a client address."""

    name: str
    role: str = ""
    address: str = ""


def cli_actor() -> Actor:
    """The command line's actor: the operating-system user who ran it."""
    return Actor(f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}", "admin", "cli")


def record(
    store: Store,
    now: datetime,
    actor: Actor,
    action: str,
    target: str = "",
    before: dict | None = None,
    after: dict | None = None,
    detail: str = "",
) -> None:
    """Write one row of the trail in a short transaction of its own."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    values = {
        "at": now,
        "actor": actor.name[:200],
        "actor_role": actor.role[:20],
        "address": actor.address[:64],
        "action": action,
        "target": str(target)[:200],
        "before": before,
        "after": after,
        "detail": detail,
    }
    with store.write_connection() as conn:
        conn.execute(insert(AuditEvent.__table__).values(**values))


def inbound_values(
    at: datetime,
    agent_id: str,
    source: str,
    action: str,
    rule: str,
    reason: str,
    remote: str | None,
    before: str | None,
    after: str | None,
    proposed: str | None,
) -> dict:
    """The row of an inbound verdict (``action``: apply or refuse) for ``audit_events``."""
    return {
        "at": at,
        "actor": f"adapter:{source}"[:200],
        "actor_role": ADAPTER_ROLE,
        "address": "",
        "action": INBOUND_ACTIONS[action],
        "target": agent_id[:200],
        "before": {"state": before},
        "after": {"state": after, "proposed": proposed, "rule": rule, "remote": remote},
        "detail": reason,
    }


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def check_action(action: str | None, field: str = "action") -> str | None:
    if action and action not in ACTIONS:
        raise InvalidInput(f"unknown action '{action[:64]}'; known: {', '.join(ACTIONS)}", field=field)
    return action or None


def _where(query, filters: Filters):
    t = AuditEvent.__table__
    if filters.actor:
        query = query.where(t.c.actor == filters.actor)
    if filters.action:
        query = query.where(t.c.action == filters.action)
    if filters.target:
        query = query.where(t.c.target == filters.target)
    if filters.since is not None:
        query = query.where(t.c.at >= filters.since)
    if filters.until is not None:
        query = query.where(t.c.at < filters.until)
    return query


def _row(r) -> dict:
    return {
        "id": r.id,
        "at": r.at.isoformat(),
        "actor": r.actor,
        "actor_role": r.actor_role,
        "address": r.address,
        "action": r.action,
        "target": r.target,
        "before": r.before,
        "after": r.after,
        "detail": r.detail,
    }


def page(store: Store, filters: Filters, limit: int = 50, offset: int = 0) -> dict:
    """One page of the trail, newest first: ``{"events", "total", "offset", "limit"}``."""
    t = AuditEvent.__table__
    limit = max(1, min(int(limit), MAX_PAGE))
    with store.read() as s:
        total = s.execute(_where(select(func.count()).select_from(t), filters)).scalar_one()
        rows = s.execute(
            _where(select(t), filters).order_by(t.c.at.desc(), t.c.id.desc()).limit(limit).offset(max(0, offset))
        ).all()
    return {"events": [_row(r) for r in rows], "total": total, "offset": offset, "limit": limit}


def every(store: Store, filters: Filters) -> list[dict]:
    """Every row that matches, oldest first (an export)."""
    t = AuditEvent.__table__
    with store.read() as s:
        rows = s.execute(_where(select(t), filters).order_by(t.c.at, t.c.id)).all()
    return [_row(r) for r in rows]


def flat(row: dict) -> dict:
    """A row for CSV: before/after as compact JSON text."""
    return {
        **row,
        "before": "" if row["before"] is None else _json(row["before"]),
        "after": "" if row["after"] is None else _json(row["after"]),
    }


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
