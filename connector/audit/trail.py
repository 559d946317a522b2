"""The audit trail in the store: one row per admin or supervisor action, read back with filters and pages.

Every route and command that changes what an admin or supervisor controls records a row in the transaction
that makes the change (an :class:`Entry` handed to the action, written by :func:`write` before its commit):
the action and its row commit together or not at all, so a failed audit write leaves the action undone
and a refused request changes nothing and records nothing. Actions that are not one store write (``sync
now``: remote work; ``store.restore``: the store itself replaced) record after they succeeded
(:func:`record`). A row says who (a signed-in user's name, or
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
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from connector.errors import InvalidInput, Unavailable
from connector.store import Store, statements
from connector.store.faults import store_fault
from connector.store.models import AuditEvent
from connector.store.statements import Prepared

log = logging.getLogger(__name__)

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
    "account.throttle": "sign-ins slowed after repeated failures (the system)",
    "account.alert": "failed sign-ins reached the daily alert (the system)",
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


#: the connector itself (a sign-in throttle or alert); its address is the client whose tries caused it
SYSTEM = "system"


def system_actor(address: str = "") -> Actor:
    return Actor(SYSTEM, SYSTEM, address)


def cli_actor() -> Actor:
    """The command line's actor: the operating-system user who ran it."""
    return Actor(f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}", "admin", "cli")


@dataclass(frozen=True)
class Entry:
    """One row of the trail, made before the action and written in its transaction (:func:`write`). An action
    that learns more while it runs (a new token's id, the fields an edit changed) writes ``replace(entry, ...)``
    (:meth:`but`)."""

    at: datetime
    actor: Actor
    action: str
    target: str = ""
    before: dict | None = None
    after: dict | None = None
    detail: str = ""
    #: the presence service fills ``before``/``after`` with the agent's state id before and after the change
    states: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")

    def but(self, **changes: Any) -> Entry:
        return replace(self, **changes)


_COLUMNS = ("at", "actor", "actor_role", "address", "action", "target", "before", "after", "detail")
_TABLE = AuditEvent.__table__
# a plain statement on the connection's cursor: it also runs inside a presence change's pipelined piece on
# PostgreSQL (Store.write_shared), where nothing may read a result through SQLAlchemy
_INSERT = Prepared(insert(_TABLE).values({c: bindparam(f"p_{c}", type_=_TABLE.c[c].type) for c in _COLUMNS}))


def write(on: Connection | Session, entry: Entry) -> None:
    """Write ``entry`` in the caller's transaction (``on``: its connection or ORM session): it commits with
    the action or not at all. An error here is the action's error (its transaction rolls back)."""
    conn = on.connection() if isinstance(on, Session) else on
    values = {
        "at": entry.at,
        "actor": entry.actor.name[:200],
        "actor_role": entry.actor.role[:20],
        "address": entry.actor.address[:64],
        "action": entry.action,
        "target": str(entry.target)[:200],
        "before": entry.before,
        "after": entry.after,
        "detail": entry.detail,
    }
    # in a pipelined presence change (PostgreSQL) the change's own statements are answered first, so an error
    # of theirs stays theirs, and this insert's before returning, so its own error is reported as the trail's
    statements.wait_for_answers(conn)
    try:
        _INSERT.run(conn, {f"p_{k}": v for k, v in values.items()})
        statements.wait_for_answers(conn)
    except Exception as exc:
        # a change decided again (another writer first), or a pipeline's earlier error: the caller's to handle
        if statements.must_retry(exc) or type(exc).__name__ == "PipelineAborted":
            raise
        log.error(
            "the audit trail could not be written (%s: %s); %s not applied", type(exc).__name__, exc, entry.action
        )
        raise store_fault(exc) or Unavailable(
            f"the audit trail could not be written, so the action ({ACTIONS[entry.action]}) was not applied; "
            "nothing was changed. Try again shortly",
            code="audit_unavailable",
            retry_after=10,
        ) from exc


def write_if(on: Connection | Session, entry: Entry | None) -> None:
    """:func:`write` when there is an entry (an action called without one records nothing itself)."""
    if entry is not None:
        write(on, entry)


def recorded_since(on: Connection | Session, action: str, target: str, since: datetime) -> bool:
    """Whether the trail has an ``action`` row on ``target`` at or after ``since`` (in the caller's transaction)."""
    t = _TABLE.c
    query = select(t.id).where(t.action == action, t.at >= since, t.target == target[:200]).limit(1)
    return on.execute(query).first() is not None


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
    """Write one row of the trail in a short transaction of its own: for an action that is not a store write
    of its own (``sync now``, ``store.restore``), after it succeeded."""
    entry = Entry(now, actor, action, target, before, after, detail)
    with store.write_connection() as conn:
        write(conn, entry)


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
