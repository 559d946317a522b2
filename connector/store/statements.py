"""The statements of the change path, in Core SQL: what one presence change reads and writes.

A change is one write transaction of a handful of plain statements (issue 11): read the agent and
its session row (with the active configuration's version), close the open interval, add its
seconds to the daily totals (one ``INSERT ... ON CONFLICT DO UPDATE`` per local day), open the new
interval, update the session row, insert the outbox rows. No ORM objects: they cost more CPU than
the write itself. SQLite and PostgreSQL both run these as written.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .models import (Agent, AgentSessionRow, ConfigVersion, DailyCounter, DailyTotal, LogonEventRow, OutboxRow,
                     StateInterval, StoreGeneration, UTCDateTime)

_AGENTS = Agent.__table__
_SESSIONS = AgentSessionRow.__table__
_INTERVALS = StateInterval.__table__
_TOTALS = DailyTotal.__table__
_COUNTERS = DailyCounter.__table__
_OUTBOX = OutboxRow.__table__
_LOGONS = LogonEventRow.__table__
_GENERATIONS = StoreGeneration.__table__


class AgentRecord(NamedTuple):
    """The agent columns a change and its view need."""

    id: str
    name: str
    team: str
    extension: str
    pin_hash: str | None
    active: bool


# Statements are built once, with bind parameters: building and hashing a statement costs more CPU
# than running it (SQLAlchemy memoises a statement object's cache key, so reuse makes it cheap).

_LOAD = (select(_AGENTS.c.id, _AGENTS.c.name, _AGENTS.c.team, _AGENTS.c.extension, _AGENTS.c.pin_hash,
                _AGENTS.c.active, *[c for c in _SESSIONS.c],
                select(func.max(ConfigVersion.__table__.c.id)).scalar_subquery().label("config_version"))
         .select_from(_AGENTS.join(_SESSIONS, _SESSIONS.c.agent_id == _AGENTS.c.id))
         .where(_AGENTS.c.id == bindparam("agent_id"))
         .with_for_update(of=_SESSIONS))
_AGENT_EXISTS = select(_AGENTS.c.id).where(_AGENTS.c.id == bindparam("agent_id"))


def load_agent_session(conn: Connection, agent_id: str) -> tuple[AgentRecord, Any, int | None] | None:
    """(agent, session row, active configuration version), the session row locked (PostgreSQL).

    None when there is no such agent. An agent without a session row gets one first.
    """
    row = conn.execute(_LOAD, {"agent_id": agent_id}).first()
    if row is None:
        if conn.execute(_AGENT_EXISTS, {"agent_id": agent_id}).first() is None:
            return None
        conn.execute(_insert(conn, _SESSIONS).values(agent_id=agent_id, logons=[], version=0, logoff_pending=False)
                     .on_conflict_do_nothing(index_elements=[_SESSIONS.c.agent_id]))
        row = conn.execute(_LOAD, {"agent_id": agent_id}).one()
    agent = AgentRecord(row.id, row.name, row.team, row.extension, row.pin_hash, bool(row.active))
    return agent, row, row.config_version


_CLOSE = (update(_INTERVALS)
          .where(_INTERVALS.c.agent_id == bindparam("key_agent_id"), _INTERVALS.c.ended_at.is_(None))
          .values(ended_at=case((_INTERVALS.c.started_at > bindparam("at", type_=UTCDateTime),
                                 _INTERVALS.c.started_at), else_=bindparam("at", type_=UTCDateTime)))
          .returning(_INTERVALS.c.state_id, _INTERVALS.c.status, _INTERVALS.c.reason_code,
                     _INTERVALS.c.started_at, _INTERVALS.c.ended_at))


def close_open_interval(conn: Connection, agent_id: str, at: datetime) -> list[Any]:
    """End the agent's open interval at ``at`` (never before it started); returns the closed rows."""
    return conn.execute(_CLOSE, {"key_agent_id": agent_id, "at": at}).all()


_OPEN = insert(_INTERVALS)


def open_interval(conn: Connection, agent_id: str, state_id: str, status: int, reason_code: str, source: str,
                  at: datetime) -> None:
    conn.execute(_OPEN, {"agent_id": agent_id, "state_id": state_id, "status": status,
                         "reason_code": reason_code, "source": source, "started_at": at})


def _upserts(table, keys: list, set_: Callable) -> dict:
    built = {}
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert)):
        stmt = dialect_insert(table)
        built[name] = stmt.on_conflict_do_update(index_elements=keys, set_=set_(stmt.excluded))
    return built


_ADD_TOTAL = _upserts(_TOTALS, [_TOTALS.c.agent_id, _TOTALS.c.day, _TOTALS.c.state_id], lambda excluded: {
    "seconds": func.coalesce(_TOTALS.c.seconds, 0.0) + excluded.seconds, "status": excluded.status,
    "reason_code": excluded.reason_code, "updated_at": excluded.updated_at})


def add_to_daily_total(conn: Connection, agent_id: str, day: date, state_id: str, status: int, reason_code: str,
                       seconds: float, at: datetime) -> None:
    """Add closed seconds to (agent, day, state), creating the total on its first seconds."""
    conn.execute(_ADD_TOTAL[conn.dialect.name], {"agent_id": agent_id, "day": day, "state_id": state_id,
                                                 "status": status, "reason_code": reason_code, "seconds": seconds,
                                                 "updated_at": at})


_COUNT = _upserts(_COUNTERS, [_COUNTERS.c.agent_id, _COUNTERS.c.day, _COUNTERS.c.counter],
                  lambda excluded: {"count": _COUNTERS.c.count + 1})


def count(conn: Connection, agent_id: str, day: date, counter: str) -> None:
    conn.execute(_COUNT[conn.dialect.name], {"agent_id": agent_id, "day": day, "counter": counter, "count": 1})


_ADD_LOGON = insert(_LOGONS)


def add_logon_event(conn: Connection, values: dict) -> None:
    conn.execute(_ADD_LOGON, values)


_ADD_OUTBOX = insert(_OUTBOX)


def add_outbox_rows(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(_ADD_OUTBOX, rows)


_SESSION_COLUMNS = ("logons", "state_id", "state_since", "wrap_up_until", "call_id", "call_direction",
                    "last_activity_at", "last_heartbeat_at", "connection_lost_at", "state_before_loss",
                    "logoff_pending", "next_due_at")
_UPDATE_SESSION = (update(_SESSIONS).where(_SESSIONS.c.agent_id == bindparam("key_agent_id"))
                   .values({**{name: bindparam(f"v_{name}", type_=_SESSIONS.c[name].type) for name in _SESSION_COLUMNS},
                            "version": func.coalesce(_SESSIONS.c.version, 0) + 1}))


def update_session(conn: Connection, agent_id: str, values: dict) -> None:
    """Write the session's columns (all of ``_SESSION_COLUMNS``) and count its version up."""
    conn.execute(_UPDATE_SESSION, {"key_agent_id": agent_id, **{f"v_{name}": values[name] for name in _SESSION_COLUMNS}})


# -- generations: a number bumped in the transaction that makes a cached value stale -------------

_GENERATION = select(_GENERATIONS.c.value).where(_GENERATIONS.c.name == bindparam("name"))
_BUMP = _upserts(_GENERATIONS, [_GENERATIONS.c.name], lambda excluded: {"value": _GENERATIONS.c.value + 1})


def generation(conn: Connection, name: str) -> int:
    return conn.execute(_GENERATION, {"name": name}).scalar() or 0


def current_generation(engine: Engine, name: str) -> int:
    """``generation`` outside a transaction, on a pooled connection straight through the driver.

    It runs on every authenticated request, where SQLAlchemy's statement machinery would cost more
    than the one-row primary-key read.
    """
    sql = "SELECT value FROM store_generations WHERE name = " + ("?" if engine.dialect.paramstyle == "qmark" else "%s")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, (name,))
        row = cursor.fetchone()
        cursor.close()
        return row[0] if row else 0
    finally:
        raw.close()


def bump_generation(conn: Connection, name: str) -> None:
    """Invalidate every process's cache of ``name`` (call inside the transaction that changes it)."""
    conn.execute(_BUMP[conn.dialect.name], {"name": name, "value": 1})


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
