"""The statements of the change path, in Core SQL: what one presence change reads and writes.

A change is one write transaction of a handful of plain statements: read the agent and
its session row (with the active configuration's version), close the open interval, add its
seconds to the daily totals (one ``INSERT ... ON CONFLICT DO UPDATE`` per local day), open the new
interval, update the session row, insert the outbox rows. No ORM objects: they cost more CPU than
the write itself. SQLite and PostgreSQL both run these as written. They are one module on purpose (past
the usual size): every statement a change runs is read, and tuned, side by side.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Text, bindparam, case, cast, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from connector.store.database import DriverConnection
from connector.store.models import (
    Agent,
    AgentSessionRow,
    AuditEvent,
    Call,
    ConfigVersion,
    DailyCounter,
    DailyTotal,
    EventRow,
    LogonEventRow,
    OutboxRow,
    StateInterval,
    StoreGeneration,
    UTCDateTime,
    zone_name_of,
)
from connector.store.rows import SESSION_FIELDS

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
    #: the agent's own IANA zone ("" or None: CONNECTOR_TIMEZONE)
    timezone: str | None = ""


_NOT_FIXED = object()  # a bind parameter the caller gives (not a literal of the statement)


class Prepared:
    """A statement compiled once per dialect and run on the connection's DBAPI cursor.

    On the change path SQLAlchemy's per-execution machinery (cache key, execution context, result
    object) costs several times the statement itself. This keeps SQLAlchemy's SQL and its type
    conversions (aware UTC datetimes, JSON, booleans), applied by the types' own bind and result
    processors, and skips the rest. Runs inside the caller's transaction (same DBAPI connection).
    """

    def __init__(self, stmt):
        self.stmt = stmt
        self._by_dialect: dict[str, tuple] = {}

    def _compiled(self, dialect) -> tuple:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            binds = {name: _bind_processor(bind.type, dialect) for name, bind in compiled.binds.items()}
            # literals inside expressions (``count + 1``) are anonymous binds with their own value
            fixed = {
                name: (binds[name](bind.value) if binds[name] else bind.value)
                for name, bind in compiled.binds.items()
                if not bind.required and bind.value is not None
            }
            order = compiled.positiontup  # None for named paramstyles
            columns = list(getattr(self.stmt, "exported_columns", []) or [])
            row_type = NamedTupleType([c.key for c in columns]) if columns else None
            results = [_result_processor(c.type, dialect) for c in columns]
            # positional paramstyle (SQLite): each parameter's name, processor and fixed value, in order
            plan = None if order is None else tuple((name, binds[name], fixed.get(name, _NOT_FIXED)) for name in order)
            found = (compiled.string, order, (binds, fixed, plan), row_type, results)
            self._by_dialect[dialect.name] = found
        return found

    def _params(self, order, binds, values: dict):
        processors, fixed, plan = binds
        if plan is not None:
            return [
                (literal if literal is not _NOT_FIXED else process(values[name]) if process else values[name])
                for name, process, literal in plan
            ]
        processed = dict(fixed)
        for k, v in values.items():
            process = processors[k]
            processed[k] = process(v) if process else v
        return [processed[name] for name in order] if order is not None else processed

    def run(self, conn: Connection | DriverConnection, values: dict) -> list:
        sql, order, binds, row_type, results = self._compiled(conn.dialect)
        driver = conn.connection.driver_connection
        assert driver is not None  # None only on a connection invalidated or closed, never handed to a statement
        cursor = driver.cursor()
        try:
            cursor.execute(sql, self._params(order, binds, values))
            if row_type is None:
                return []
            return [
                row_type(*[(p(v) if p and v is not None else v) for p, v in zip(results, raw)])
                for raw in cursor.fetchall()
            ]
        finally:
            cursor.close()

    def run_count(self, conn: Connection | DriverConnection, values: dict) -> int:
        """Run a DML statement; returns how many rows it touched."""
        sql, order, binds, _, _ = self._compiled(conn.dialect)
        driver = conn.connection.driver_connection
        assert driver is not None  # None only on a connection invalidated or closed, never handed to a statement
        cursor = driver.cursor()
        try:
            cursor.execute(sql, self._params(order, binds, values))
            if cursor.rowcount < 0 and _pipelined(driver):
                with driver.pipeline():  # leaving a nested pipeline block waits for the answers so far
                    pass
            return cursor.rowcount
        finally:
            cursor.close()

    def run_count_later(self, conn: Connection | DriverConnection, values: dict) -> Callable[[], int]:
        """Send a DML statement; returns what tells how many rows it touched. In pipeline mode
        (``Store.write_shared``) the statement goes out with the next ones and the count is known once
        the server has answered a later read; asking earlier waits for the answers so far."""
        sql, order, binds, _, _ = self._compiled(conn.dialect)
        driver = conn.connection.driver_connection
        assert driver is not None  # None only on a connection invalidated or closed, never handed to a statement
        cursor = driver.cursor()
        cursor.execute(sql, self._params(order, binds, values))

        def count() -> int:
            try:
                if cursor.rowcount < 0 and _pipelined(driver):
                    with driver.pipeline():  # leaving a nested pipeline block waits for the answers so far
                        pass
                return cursor.rowcount
            finally:
                cursor.close()

        return count

    def run_many(self, conn: Connection | DriverConnection, rows: list[dict]) -> None:
        sql, order, binds, _, _ = self._compiled(conn.dialect)
        driver = conn.connection.driver_connection
        assert driver is not None  # None only on a connection invalidated or closed, never handed to a statement
        cursor = driver.cursor()
        try:
            cursor.executemany(sql, [self._params(order, binds, values) for values in rows])
        finally:
            cursor.close()


def _pipelined(driver) -> bool:
    """Whether a psycopg connection is in pipeline mode (``Store.write_shared``): a statement's row count
    is known only once the server has answered."""
    info = getattr(driver, "info", None)
    return bool(info is not None and getattr(info, "pipeline_status", 0))


def wait_for_answers(conn: Connection | DriverConnection) -> None:
    """In pipeline mode (``Store.write_shared`` on PostgreSQL), wait until the server answered every statement
    sent so far, so an error of theirs is raised here; elsewhere nothing to do."""
    driver = conn.connection.driver_connection
    if driver is not None and _pipelined(driver):
        with driver.pipeline():  # leaving a nested pipeline block waits for the answers so far
            pass


#: SQLSTATEs of a transaction PostgreSQL gave up on to break a lock cycle (deadlock, serialization failure):
#: a change that gets one is rolled back and decided again, as on a ``StaleSession``
RETRY_SQLSTATES = frozenset({"40P01", "40001"})


def must_retry(exc: BaseException) -> bool:
    return isinstance(exc, StaleSession) or getattr(exc, "sqlstate", None) in RETRY_SQLSTATES


@lru_cache(maxsize=1024)
def _utc_text(value: datetime | None) -> str | None:
    """An aware datetime as SQLite stores a ``UTCDateTime``: naive UTC text with microseconds, exactly
    what the type's own processors produce (``UTCDateTime.process_bind_param``, then SQLite's DATETIME).
    Cached: a change binds its own moment several times, and the session's times again."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond:06d}"
    )


def _bind_processor(type_, dialect):
    """The type's bind processor; for ``UTCDateTime`` on SQLite one function instead of two chained
    (a change binds about ten datetimes)."""
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return _utc_text
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _utc_from_text(value: str) -> datetime:
    """A stored ``UTCDateTime`` back as an aware datetime (what the type's processors give, without the regex)."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _result_processor(type_, dialect):
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return _utc_from_text
    return type_.dialect_impl(dialect).result_processor(dialect, None)


def NamedTupleType(names: list[str]):
    return namedtuple("Row", names, rename=True)


def _values(table, columns) -> dict:
    """``{column: bindparam("p_<column>")}``: SQLAlchemy reserves plain column names in INSERT/UPDATE."""
    return {name: bindparam(f"p_{name}", type_=table.c[name].type) for name in columns}


def _p(values: dict) -> dict:
    return {f"p_{k}": v for k, v in values.items()}


# Statements are built and compiled once, with bind parameters (see Prepared).

_LOAD_SELECT = (
    select(
        _AGENTS.c.id,
        _AGENTS.c.name,
        _AGENTS.c.team,
        _AGENTS.c.extension,
        _AGENTS.c.pin_hash,
        _AGENTS.c.active,
        zone_name_of(_AGENTS).label("timezone"),  # the agent's, else its team's zone
        *[c for c in _SESSIONS.c],
        select(func.max(ConfigVersion.__table__.c.id)).scalar_subquery().label("config_version"),
    )
    .select_from(_AGENTS.join(_SESSIONS, _SESSIONS.c.agent_id == _AGENTS.c.id))
    .where(_AGENTS.c.id == bindparam("agent_id"))
)
_LOAD = _LOAD_SELECT.with_for_update(of=_SESSIONS)
_LOAD_FAST = Prepared(_LOAD)
_READ_FAST = Prepared(_LOAD_SELECT)
_AGENT_EXISTS = select(_AGENTS.c.id).where(_AGENTS.c.id == bindparam("agent_id"))


def load_agent_session(
    conn: Connection | DriverConnection, agent_id: str, lock: bool = True
) -> tuple[AgentRecord, Any, int | None] | None:
    """(agent, session row, active configuration version); with ``lock`` the session row is locked (PostgreSQL).

    None when there is no such agent. An agent without a session row gets one first (``lock`` only;
    without it, None).
    """
    found = (_LOAD_FAST if lock else _READ_FAST).run(conn, {"agent_id": agent_id})
    row = found[0] if found else None
    if row is None and not lock:
        return None
    if row is None:
        assert isinstance(conn, Connection)  # with ``lock``: the caller's write transaction, never a quick read
        if conn.execute(_AGENT_EXISTS, {"agent_id": agent_id}).first() is None:
            return None
        conn.execute(
            _insert(conn, _SESSIONS)
            .values(agent_id=agent_id, logons=[], version=0, logoff_pending=False)
            .on_conflict_do_nothing(index_elements=[_SESSIONS.c.agent_id])
        )
        row = conn.execute(_LOAD, {"agent_id": agent_id}).one()
    agent = AgentRecord(row.id, row.name, row.team, row.extension, row.pin_hash, bool(row.active), row.timezone)
    return agent, row, row.config_version


_CLOSE = Prepared(
    update(_INTERVALS)
    .where(_INTERVALS.c.agent_id == bindparam("key_agent_id"), _INTERVALS.c.ended_at.is_(None))
    .values(
        ended_at=case(
            (_INTERVALS.c.started_at > bindparam("at", type_=UTCDateTime), _INTERVALS.c.started_at),
            else_=bindparam("at", type_=UTCDateTime),
        ),
        closed_by=bindparam("closed_by", type_=_INTERVALS.c.closed_by.type),
    )
    .returning(
        _INTERVALS.c.state_id,
        _INTERVALS.c.status,
        _INTERVALS.c.reason_code,
        _INTERVALS.c.started_at,
        _INTERVALS.c.ended_at,
    )
)


def close_open_interval(conn: Connection, agent_id: str, at: datetime, request_id: str | None = None) -> list[Any]:
    """End the agent's open interval at ``at`` (never before it started), by the change of ``request_id``;
    returns the closed rows."""
    return _CLOSE.run(conn, {"key_agent_id": agent_id, "at": at, "closed_by": request_id})


_OPEN = Prepared(
    insert(_INTERVALS).values(
        _values(
            _INTERVALS, ("agent_id", "state_id", "status", "reason_code", "source", "cause", "started_at", "opened_by")
        )
    )
)


def open_interval(
    conn: Connection,
    agent_id: str,
    state_id: str,
    status: int,
    reason_code: str,
    source: str,
    at: datetime,
    cause: str | None = None,
    request_id: str | None = None,
) -> None:
    _OPEN.run(
        conn,
        _p(
            {
                "agent_id": agent_id,
                "state_id": state_id,
                "status": status,
                "reason_code": reason_code,
                "source": source,
                "cause": cause or None,
                "started_at": at,
                "opened_by": request_id,
            }
        ),
    )


_CALLS = Call.__table__
_OPEN_CALL = Prepared(
    select(_CALLS.c.started_at).where(
        _CALLS.c.agent_id == bindparam("agent_id"),
        _CALLS.c.call_id == bindparam("call_id"),
        _CALLS.c.ended_at.is_(None),
    )
)
_END_CALL = Prepared(
    update(_CALLS)
    .where(
        _CALLS.c.agent_id == bindparam("key_agent_id"),
        _CALLS.c.call_id == bindparam("key_call_id"),
        _CALLS.c.ended_at.is_(None),
    )
    .values(_values(_CALLS, ("ended_at", "end_cause", "duration_seconds")))
)


def close_call(conn: Connection, agent_id: str, call_id: str, at: datetime, cause: str) -> None:
    """Close a call whose end was never reported (or that a supervisor ended); a later "ended" is a repeat."""
    open_call = _OPEN_CALL.run(conn, {"agent_id": agent_id, "call_id": call_id})
    if not open_call:
        return
    started = open_call[0].started_at
    _END_CALL.run(
        conn,
        {
            "key_agent_id": agent_id,
            "key_call_id": call_id,
            **_p(
                {
                    "ended_at": at,
                    "end_cause": cause,
                    "duration_seconds": int((at - started).total_seconds()) if started is not None else None,
                }
            ),
        },
    )


def _upserts(table, keys: list, set_: Callable, columns: tuple[str, ...]) -> dict:
    built = {}
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert)):
        stmt = dialect_insert(table).values(_values(table, columns))
        built[name] = Prepared(stmt.on_conflict_do_update(index_elements=keys, set_=set_(stmt.excluded)))
    return built


_ADD_TOTAL = _upserts(
    _TOTALS,
    [_TOTALS.c.agent_id, _TOTALS.c.day, _TOTALS.c.state_id],
    lambda excluded: {
        "seconds": func.coalesce(_TOTALS.c.seconds, 0.0) + excluded.seconds,
        "status": excluded.status,
        "reason_code": excluded.reason_code,
        "updated_at": excluded.updated_at,
    },
    ("agent_id", "day", "state_id", "status", "reason_code", "seconds", "updated_at"),
)


def add_to_daily_total(
    conn: Connection,
    agent_id: str,
    day: date,
    state_id: str,
    status: int,
    reason_code: str,
    seconds: float,
    at: datetime,
) -> None:
    """Add closed seconds to (agent, day, state), creating the total on its first seconds."""
    _ADD_TOTAL[conn.dialect.name].run(
        conn,
        _p(
            {
                "agent_id": agent_id,
                "day": day,
                "state_id": state_id,
                "status": status,
                "reason_code": reason_code,
                "seconds": seconds,
                "updated_at": at,
            }
        ),
    )


_COUNT = _upserts(
    _COUNTERS,
    [_COUNTERS.c.agent_id, _COUNTERS.c.day, _COUNTERS.c.counter],
    lambda excluded: {"count": _COUNTERS.c.count + 1},
    ("agent_id", "day", "counter", "count"),
)


def count(conn: Connection, agent_id: str, day: date, counter: str) -> None:
    _COUNT[conn.dialect.name].run(conn, _p({"agent_id": agent_id, "day": day, "counter": counter, "count": 1}))


_ADD_LOGON = Prepared(
    insert(_LOGONS).values(_values(_LOGONS, ("at", "agent_id", "action", "logon_source", "device", "actor")))
)


def add_logon_event(conn: Connection, values: dict) -> None:
    _ADD_LOGON.run(conn, _p(values))


_AUDIT = AuditEvent.__table__
_ADD_AUDIT = Prepared(
    insert(_AUDIT).values(
        _values(_AUDIT, ("at", "actor", "actor_role", "address", "action", "target", "before", "after", "detail"))
    )
)


def add_audit_event(conn: Connection, values: dict) -> None:
    """A row of the audit trail in the caller's transaction (an inbound change's, with the change itself)."""
    _ADD_AUDIT.run(conn, _p(values))


_OUTBOX_COLUMNS = (
    "agent_id",
    "adapter",
    "kind",
    "payload",
    "source",
    "created_at",
    "next_attempt_at",
    "attempts",
    "superseded",
)
_ADD_OUTBOX = Prepared(insert(_OUTBOX).values(_values(_OUTBOX, _OUTBOX_COLUMNS)))


_EVENTS = EventRow.__table__
_ADD_EVENTS = {
    # the data goes in as the JSON text it already is (encoded once for the event and the API answer)
    "sqlite": Prepared(
        insert(_EVENTS).values(
            kind=bindparam("p_kind"),
            agent_id=bindparam("p_agent_id"),
            data=bindparam("p_data", type_=Text),
            created_at=bindparam("p_created_at", type_=UTCDateTime),
        )
    ),
    "postgresql": Prepared(
        insert(_EVENTS).values(
            kind=bindparam("p_kind"),
            agent_id=bindparam("p_agent_id"),
            data=cast(bindparam("p_data", type_=Text), _EVENTS.c.data.type),
            created_at=bindparam("p_created_at", type_=UTCDateTime),
        )
    ),
}


def add_events(conn: Connection, rows: list[tuple[str, str | None, str]], at: datetime) -> None:
    """Insert live events: (kind, agent id or None, data as JSON text), all created ``at``."""
    if rows:
        _ADD_EVENTS[conn.dialect.name].run_many(
            conn,
            [{"p_kind": kind, "p_agent_id": agent, "p_data": data, "p_created_at": at} for kind, agent, data in rows],
        )


def add_outbox_rows(conn: Connection, rows: list[dict]) -> None:
    if rows:
        _ADD_OUTBOX.run_many(conn, [_p({name: row[name] for name in _OUTBOX_COLUMNS}) for row in rows])


_CLAIM = (
    update(_SESSIONS)
    .where(
        _SESSIONS.c.agent_id == bindparam("key_agent_id"),
        func.coalesce(_SESSIONS.c.version, 0) == bindparam("key_version"),
        exists().where(_AGENTS.c.id == _SESSIONS.c.agent_id, _AGENTS.c.active.is_(True)),
    )
    .values(version=func.coalesce(_SESSIONS.c.version, 0) + 1)
)
_CLAIM_ANY_CONFIG = Prepared(_CLAIM)
_CLAIM_SAME_CONFIG = Prepared(
    _CLAIM.where(select(func.max(ConfigVersion.__table__.c.id)).scalar_subquery() == bindparam("key_config"))
)


def claim_session(conn: Connection, agent_id: str, version: int | None, config_version: int | None) -> bool:
    """Count the session row's version up, if it is still ``version``, the agent still active and (when
    given) ``config_version`` still the active configuration; False when something changed since."""
    values = {"key_agent_id": agent_id, "key_version": version or 0}
    if config_version is None:
        return _CLAIM_ANY_CONFIG.run_count(conn, values) == 1
    return _CLAIM_SAME_CONFIG.run_count(conn, {**values, "key_config": config_version}) == 1


_SESSION_COLUMNS = ("logons", *SESSION_FIELDS, "next_due_at")
_SESSION_VALUES = {name: bindparam(f"v_{name}", type_=_SESSIONS.c[name].type) for name in _SESSION_COLUMNS}
_UPDATE_SESSION = Prepared(
    update(_SESSIONS).where(_SESSIONS.c.agent_id == bindparam("key_agent_id")).values(_SESSION_VALUES)
)
#: the session's columns and the guard of ``claim_session`` in one statement (a change decided on a snapshot)
_UPDATE_SESSION_GUARDED = Prepared(
    _CLAIM.where(select(func.max(ConfigVersion.__table__.c.id)).scalar_subquery() == bindparam("key_config")).values(
        _SESSION_VALUES
    )
)


class StaleSession(Exception):
    """The session row changed since the change was decided on it (another writer, a new configuration,
    the agent disabled): the change's statements are rolled back and it is decided again."""


def update_session(conn: Connection, agent_id: str, values: dict, guard: tuple[int | None, int] | None = None) -> None:
    """Write the session's columns (all of ``_SESSION_COLUMNS``).

    Without ``guard``, ``claim_session`` counted the version up before. With ``guard`` = (version read,
    configuration version decided on) this statement is the claim: it counts the version up if nothing
    changed since, else raises :class:`StaleSession` (the caller rolls the change back)."""
    params = {"key_agent_id": agent_id, **{f"v_{name}": values[name] for name in _SESSION_COLUMNS}}
    if guard is None:
        _UPDATE_SESSION.run(conn, params)
    elif _UPDATE_SESSION_GUARDED.run_count(conn, {**params, "key_version": guard[0] or 0, "key_config": guard[1]}) != 1:
        raise StaleSession(agent_id)


_DUE = (
    select(_SESSIONS.c.agent_id)
    .where(
        _SESSIONS.c.next_due_at <= bindparam("now", type_=UTCDateTime),
        exists().where(_AGENTS.c.id == _SESSIONS.c.agent_id, _AGENTS.c.active.is_(True)),
    )
    .order_by(_SESSIONS.c.next_due_at, _SESSIONS.c.agent_id)
    .limit(bindparam("batch"))
    .with_for_update(of=_SESSIONS, skip_locked=True)
)  # (SQLite has no row locks: its write lock is the claim)


def claim_due_sessions(conn: Connection, now: datetime, batch: int, skip: set[str]) -> list[str]:
    """Lock up to ``batch`` sessions of active agents with a timed rule due by ``now``, earliest first, in
    the caller's write transaction; sessions another transaction holds are skipped, not waited for
    (PostgreSQL ``FOR UPDATE SKIP LOCKED``), and so are the agents in ``skip``."""
    stmt = _DUE.where(_SESSIONS.c.agent_id.not_in(bindparam("skip", expanding=True))) if skip else _DUE
    return list(conn.execute(stmt, {"now": now, "batch": batch, "skip": sorted(skip)}).scalars())


# -- generations: a number bumped in the transaction that makes a cached value stale -------------

_GENERATION = select(_GENERATIONS.c.value).where(_GENERATIONS.c.name == bindparam("name"))
_BUMP = _upserts(
    _GENERATIONS, [_GENERATIONS.c.name], lambda excluded: {"value": _GENERATIONS.c.value + 1}, ("name", "value")
)


def generation(conn: Connection, name: str) -> int:
    return conn.execute(_GENERATION, {"name": name}).scalar() or 0


_CURRENT_GENERATION = Prepared(_GENERATION)
_AGENT_INFO = Prepared(
    select(_AGENTS.c.id, _AGENTS.c.name, _AGENTS.c.extension, _AGENTS.c.email, _AGENTS.c.salesforce_user_id).where(
        _AGENTS.c.id == bindparam("agent_id")
    )
)
_ACTIVE_CONFIG_VERSION = Prepared(select(func.max(ConfigVersion.__table__.c.id)))


def agent_columns(store, agent_id: str):
    """(id, name, extension, email, salesforce_user_id) of an agent, or None; one quick read."""
    with store.quick_read() as conn:
        found = _AGENT_INFO.run(conn, {"agent_id": agent_id})
    return found[0] if found else None


def active_config_version(store) -> int | None:
    """The newest configuration version; one quick read."""
    with store.quick_read() as conn:
        return _ACTIVE_CONFIG_VERSION.run(conn, {})[0][0]


def current_generation(store, name: str) -> int:
    """``generation`` outside a transaction, on the store's quick read (it runs on every authenticated
    request, where a pooled connection and SQLAlchemy's statement machinery would cost more than the
    one-row primary-key read)."""
    with store.quick_read() as conn:
        found = _CURRENT_GENERATION.run(conn, {"name": name})
    return found[0][0] if found and found[0][0] is not None else 0


def bump_generation(conn: Connection, name: str) -> None:
    """Invalidate every process's cache of ``name`` (call inside the transaction that changes it)."""
    _BUMP[conn.dialect.name].run(conn, {"p_name": name, "p_value": 1})


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# -- PostgreSQL: a change's inserts and upserts in one statement ------------------------------------

_OPEN_COLUMNS = ("agent_id", "state_id", "status", "reason_code", "source", "cause", "started_at", "opened_by")
_TOTAL_COLUMNS = ("agent_id", "day", "state_id", "status", "reason_code", "seconds", "updated_at")
_LOGON_COLUMNS = ("at", "agent_id", "action", "logon_source", "device", "actor")
_COUNTER_COLUMNS = ("agent_id", "day", "counter", "count")
_EVENT_COLUMNS = ("kind", "agent_id", "data", "created_at")


def _rows_of(table, columns: tuple[str, ...], prefix: str, n: int, types: dict | None = None) -> list[dict]:
    """``n`` rows of bind parameters ``<prefix><k>_<column>`` for a multi-row VALUES."""
    types = types or {}
    return [
        {name: bindparam(f"{prefix}{k}_{name}", type_=types.get(name, table.c[name].type)) for name in columns}
        for k in range(n)
    ]


def _combined(shape: tuple[int, int, int, int, int, int]) -> Prepared:
    """One statement for a change's writes of this shape (rows of: intervals opened, daily totals, logon
    events, counters, outbox rows, live events): each table's multi-row INSERT (the totals' and counters'
    with their ``ON CONFLICT`` update, as ``add_to_daily_total`` and ``count``), the first the statement,
    the others its data-modifying CTEs. They touch different tables, so it writes what the separate
    statements wrote, in one round of parse-free execution (a prepared statement per shape)."""
    intervals, totals, logons, counters, outbox, events = shape
    parts: list = []
    if intervals:
        parts.append(insert(_INTERVALS).values(_rows_of(_INTERVALS, _OPEN_COLUMNS, "i", intervals)))
    if totals:
        stmt = postgresql.insert(_TOTALS).values(_rows_of(_TOTALS, _TOTAL_COLUMNS, "t", totals))
        parts.append(
            stmt.on_conflict_do_update(
                index_elements=[_TOTALS.c.agent_id, _TOTALS.c.day, _TOTALS.c.state_id],
                set_={
                    "seconds": func.coalesce(_TOTALS.c.seconds, 0.0) + stmt.excluded.seconds,
                    "status": stmt.excluded.status,
                    "reason_code": stmt.excluded.reason_code,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
    if logons:
        parts.append(insert(_LOGONS).values(_rows_of(_LOGONS, _LOGON_COLUMNS, "l", logons)))
    if counters:
        stmt = postgresql.insert(_COUNTERS).values(_rows_of(_COUNTERS, _COUNTER_COLUMNS, "c", counters))
        parts.append(
            stmt.on_conflict_do_update(
                index_elements=[_COUNTERS.c.agent_id, _COUNTERS.c.day, _COUNTERS.c.counter],
                set_={"count": _COUNTERS.c.count + 1},
            )
        )
    if outbox:
        parts.append(insert(_OUTBOX).values(_rows_of(_OUTBOX, _OUTBOX_COLUMNS, "o", outbox)))
    if events:
        rows = [
            {
                "kind": bindparam(f"e{k}_kind", type_=_EVENTS.c.kind.type),
                "agent_id": bindparam(f"e{k}_agent_id", type_=_EVENTS.c.agent_id.type),
                # the JSON text it already is (as add_events)
                "data": cast(bindparam(f"e{k}_data", type_=Text), _EVENTS.c.data.type),
                "created_at": bindparam("e_created_at", type_=UTCDateTime),
            }
            for k in range(events)
        ]
        parts.append(insert(_EVENTS).values(rows))
    main, *rest = parts
    return Prepared(main.add_cte(*[part.cte(f"w{n}") for n, part in enumerate(rest)]) if rest else main)


_COMBINED: dict[tuple, Prepared] = {}


class PendingWrites:
    """PostgreSQL's change path: a change's inserts and upserts collected, then sent as one statement.

    Each statement of a change costs the instance psycopg's per-execute work and the server a bind and an
    executor start, whatever it writes; the intervals opened, daily totals, logon events, counters, outbox
    rows and live events of a change go out together (``_combined``), in the change's transaction (and
    savepoint), after the session row's guarded update and the interval's close. What a later statement
    of the change reads is flushed before it (``flush``), and a key written twice (a total or a counter)
    goes in two statements, so every row ends as the separate statements left it.
    """

    __slots__ = ("intervals", "totals", "logons", "counters", "outbox", "events", "events_at", "claimed")

    def __init__(self) -> None:
        self.intervals: list[dict] = []
        self.totals: dict[tuple, dict] = {}
        self.logons: list[dict] = []
        self.counters: dict[tuple, dict] = {}
        self.outbox: list[dict] = []
        self.events: list[tuple[str, str | None, str]] = []
        self.events_at: datetime | None = None
        #: whether the session row's guarded update (sent first) found the row as the change was decided on
        self.claimed: Callable[[], bool] = lambda: True

    def open_interval(self, values: dict) -> None:
        self.intervals.append(values)

    def add_logon(self, values: dict) -> None:
        self.logons.append(values)

    def add_outbox(self, rows: list[dict]) -> None:
        self.outbox.extend(rows)

    def add_total(self, conn: Connection, values: dict) -> None:
        key = (values["agent_id"], values["day"], values["state_id"])
        if key in self.totals:
            self.flush(conn)  # the second add to a key sees the first (one row cannot be upserted twice at once)
        self.totals[key] = values

    def count(self, conn: Connection, values: dict) -> None:
        key = (values["agent_id"], values["day"], values["counter"])
        if key in self.counters:
            self.flush(conn)
        self.counters[key] = values

    def add_events(self, rows: list[tuple[str, str | None, str]], at: datetime) -> None:
        if self.events and at != self.events_at:
            raise ValueError("one change's live events share one moment")
        self.events.extend(rows)
        self.events_at = at

    def flush(self, conn: Connection) -> None:
        """Send what is collected (in pipeline mode without waiting: its errors come with the next answer)."""
        shape = (
            len(self.intervals),
            len(self.totals),
            len(self.logons),
            len(self.counters),
            len(self.outbox),
            len(self.events),
        )
        if not any(shape):
            return
        prepared = _COMBINED.get(shape)
        if prepared is None:
            prepared = _COMBINED[shape] = _combined(shape)
        params: dict[str, Any] = {}
        for prefix, rows, columns in (
            ("i", self.intervals, _OPEN_COLUMNS),
            ("t", list(self.totals.values()), _TOTAL_COLUMNS),
            ("l", self.logons, _LOGON_COLUMNS),
            ("c", list(self.counters.values()), _COUNTER_COLUMNS),
            ("o", self.outbox, _OUTBOX_COLUMNS),
        ):
            for k, row in enumerate(rows):
                for name in columns:
                    params[f"{prefix}{k}_{name}"] = row[name]
        for k, (kind, agent, data) in enumerate(self.events):
            params[f"e{k}_kind"], params[f"e{k}_agent_id"], params[f"e{k}_data"] = kind, agent, data
        if self.events:
            params["e_created_at"] = self.events_at
        prepared.run(conn, params)
        self.intervals, self.totals, self.logons, self.counters, self.outbox, self.events = [], {}, [], {}, [], []


_UPDATE_SESSION_GUARDED_ANY_CONFIG = Prepared(_CLAIM.values(_SESSION_VALUES))


def update_session_later(
    conn: Connection, agent_id: str, values: dict, version: int | None, config_version: int | None
) -> Callable[[], bool]:
    """PostgreSQL's change path: the session's columns and the claim (``claim_session``) in one statement, sent
    first so the session row's lock is the change's first (two writers of one agent queue there); the answer
    asked for later (``Prepared.run_count_later``: no wait of its own in pipeline mode): False means roll back (``StaleSession``)."""
    params = {"key_agent_id": agent_id, "key_version": version or 0}
    params.update({f"v_{name}": values[name] for name in _SESSION_COLUMNS})
    if config_version is None:
        count = _UPDATE_SESSION_GUARDED_ANY_CONFIG.run_count_later(conn, params)
    else:
        count = _UPDATE_SESSION_GUARDED.run_count_later(conn, {**params, "key_config": config_version})
    return lambda: count() == 1
