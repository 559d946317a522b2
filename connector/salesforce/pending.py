"""Which (agent, day, state) totals Salesforce does not hold yet, with their absolute seconds.

A total is pending when its current value — closed seconds plus the open interval's share up to
now, exactly as ``reports.time_tracking`` counts it — rounded to whole seconds differs from what
Salesforce last accepted (``DailyTotal.synced_seconds``), and it is not parked. A total that
was never written and is still 0 s is not worth a record.

The work is one SQL statement (``_pending_query``): the open intervals' shares per local day, the
totals that changed or have such a share, and a first cut of the ones that differ, sorted. It runs
in SQLite (or PostgreSQL) without Python's GIL, so changes served by the same process go on
meanwhile; Python only rounds, compares exactly and keeps one small tuple per pending total.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from connector.presence.days import local_day_bounds
from connector.reports.reads import ReadContext
from connector.store.models import Agent, AgentSessionRow, DailyTotal, StateInterval, UTCDateTime, zone_name_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class PendingTotal(NamedTuple):
    """One total to send (a plain tuple: a flush of 10,000 agents makes 10,000 of them)."""

    agent_id: str
    day: date
    state_id: str
    state_label: str
    status: int
    reason_code: str
    seconds: int

    @property
    def key(self) -> str:
        """The external id in Salesforce (``Key__c``): ``agent id|YYYY-MM-DD|state id``."""
        return external_key(self.agent_id, self.day, self.state_id)

    def field_values(self, counter_fields: dict[str, str]) -> tuple[dict, dict]:
        """(values by logical field name, values by Salesforce field name) for this record."""
        return {
            "state": self.state_label,
            "status": self.status,
            "reason_code": self.reason_code,
            "seconds": self.seconds,
        }, {}

    @staticmethod
    def mark_results(conn: Connection, now: datetime, outcome: list[tuple[PendingTotal, str | None]]) -> None:
        """Record what Salesforce accepted (reason None) or parked (the reason), on ``conn``'s transaction."""
        mark_on(conn, now, [(p, None if parked else p.seconds, parked) for p, parked in outcome])


def external_key(agent_id: str, day: date, state_id: str) -> str:
    return f"{agent_id}|{day.isoformat()}|{state_id}"


def pending_totals(ctx: ReadContext) -> list[PendingTotal]:
    """Every total Salesforce should get now, oldest day first (then by agent and state)."""
    ctx.settle_due()
    now = ctx.clock()
    i = StateInterval
    with ctx.store.reader.connect() as conn:  # one snapshot for the intervals and the totals
        labels = {state.id: state.label for state in ctx.configs.active(conn).states}
        # grouped, so SQLite reads the open intervals' partial index instead of walking every interval in
        # started_at order (its MIN() shortcut) until it meets an open one
        oldest_open = conn.scalar(select(func.min(i.started_at)).where(i.ended_at.is_(None)).group_by(i.ended_at))
        rows = conn.execute(_pending_query(ctx.zone_names(conn), now, oldest_open)).all()
    pending: list[PendingTotal] = []
    add = pending.append
    for aid, day, sid, status, reason, total, synced in rows:
        seconds = round(total)  # SQL made the cut |total - synced| >= 0.5; the exact test is Python's round()
        if seconds != (synced if synced is not None else 0):
            add(PendingTotal(aid, day, sid, labels.get(sid, sid), status, reason, seconds))
    return pending


def _pending_query(zones: dict[str, ZoneInfo], now: datetime, oldest_open: datetime | None):
    """(agent, day, state, status, reason code, current seconds, synced seconds) of every total that may be
    pending: not parked, and its current value at least 0.5 s from what Salesforce holds (0 if never written)."""
    t = DailyTotal.__table__.c
    changed = and_(
        t.parked_reason.is_(None), or_(t.synced_seconds.is_(None), func.abs(t.seconds - t.synced_seconds) >= 0.5)
    )
    closed = select(t.agent_id, t.day, t.state_id, t.status, t.reason_code, t.seconds.label("total"), t.synced_seconds)
    if oldest_open is None:  # nobody in a state: only the closed totals
        candidates = closed.where(changed).subquery()
    else:
        shares = _open_shares(zones, now, oldest_open)
        s = shares.c
        # every open share, with its total's closed seconds when the row exists (found by its unique key) ...
        same_key = and_(t.agent_id == s.agent_id, t.day == s.day, t.state_id == s.state_id)
        with_share = (
            select(
                s.agent_id,
                s.day,
                s.state_id,
                func.coalesce(t.status, s.status).label("status"),
                func.coalesce(t.reason_code, s.reason_code).label("reason_code"),
                (func.coalesce(t.seconds, 0.0) + s.seconds).label("total"),
                t.synced_seconds,
            )
            .select_from(shares.outerjoin(DailyTotal.__table__, same_key))
            .where(t.parked_reason.is_(None))
        )
        # ... and every changed total without one
        no_share = closed.select_from(DailyTotal.__table__.outerjoin(shares, same_key)).where(
            changed, s.agent_id.is_(None)
        )
        candidates = union_all(with_share, no_share).subquery()
    c = candidates.c
    return (
        select(c.agent_id, c.day, c.state_id, c.status, c.reason_code, c.total, c.synced_seconds)
        .where(func.abs(c.total - func.coalesce(c.synced_seconds, 0)) >= 0.5)
        .order_by(c.day, c.agent_id, c.state_id)
    )


def _open_shares(zones: dict[str, ZoneInfo], now: datetime, oldest_open: datetime):
    """The open intervals' seconds per agent, local day and state up to ``now`` (a CTE).

    As ``tracking.split_by_day`` counts them: each local day (in the agent's own zone: ``zones`` by the
    name in ``agents.timezone``, "" for the default) from the oldest open interval's to today, with its
    bounds in UTC, clips [started_at, now); the seconds are microseconds / 10**6, as
    ``timedelta.total_seconds`` gives them, so the sums match ``reports.time_tracking`` to the bit.
    """
    rows: list[Select[str, date, datetime, int, int]] = []
    for name, tz in zones.items():
        day, today = min(oldest_open, now).astimezone(tz).date(), now.astimezone(tz).date()
        while day <= today:  # one row per zone and local day, of bound parameters (a VALUES list is not cached)
            lo, hi = local_day_bounds(day, tz)
            n = len(rows)
            rows.append(
                select(
                    bindparam(f"zone_{n}", name, String).label("zone"),
                    bindparam(f"day_{n}", day, Date).label("day"),
                    bindparam(f"lo_at_{n}", lo, UTCDateTime).label("lo_at"),
                    bindparam(f"lo_us_{n}", _us(lo), BigInteger).label("lo_us"),
                    bindparam(f"hi_us_{n}", _us(hi), BigInteger).label("hi_us"),
                )
            )
            day += timedelta(days=1)
    days = (rows[0] if len(rows) == 1 else union_all(*rows)).cte("local_days")
    i = StateInterval.__table__.c
    now_us = bindparam("now_us", _us(now), BigInteger)
    start_us = case((i.started_at > days.c.lo_at, _EpochMicroseconds(i.started_at)), else_=days.c.lo_us)
    end_us = case((days.c.hi_us < now_us, days.c.hi_us), else_=now_us)
    return (
        select(
            i.agent_id,
            days.c.day,
            i.state_id,
            func.min(i.status).label("status"),
            func.min(i.reason_code).label("reason_code"),
            (cast(func.sum(end_us - start_us), Float) / 1000000.0).label("seconds"),
        )
        # the overlap in microseconds, not as started_at < ...: SQLite would then walk every interval by
        # ix_intervals_started instead of the open ones' partial index
        .select_from(_with_days(StateInterval.__table__, days, start_us < end_us, len(zones) > 1))
        .where(i.ended_at.is_(None))
        .group_by(i.agent_id, days.c.day, i.state_id)
        .cte("open_shares")
    )


def _with_days(intervals, days, overlap, several_zones: bool):
    """The open intervals joined to the local days they overlap: of their agent's zone when the agents' days
    end in several zones (each agent's zone worked out once, in a CTE), else every day (one zone for all)."""
    if not several_zones:
        return intervals.join(days, overlap)
    a = Agent.__table__
    zones = select(a.c.id.label("agent_id"), zone_name_of(a).label("zone")).cte("agent_zones")
    return intervals.join(zones, zones.c.agent_id == intervals.c.agent_id).join(
        days, and_(zones.c.zone == days.c.zone, overlap)
    )


def _us(at: datetime) -> int:
    return (at - EPOCH) // MICROSECOND


class _EpochMicroseconds(FunctionElement):
    """Microseconds since 1970 of a stored UTC datetime column, exactly."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_us"


@compiles(_EpochMicroseconds, "sqlite")
def _epoch_us_sqlite(element, compiler, **kw) -> str:
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds of the first 19 characters (strftime alone
    # would round the fraction to milliseconds), then the microseconds as written
    x = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', substr({x}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({x} || '000000', 21, 6) AS INTEGER))"
    )


@compiles(_EpochMicroseconds)
def _epoch_us_default(element, compiler, **kw) -> str:
    return f"CAST(ROUND(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000) AS BIGINT)"


def mark_on(conn: Connection, now: datetime, items: list[tuple[PendingTotal, int | None, str | None]]) -> None:
    """Record what Salesforce accepted (synced seconds) or rejected (parked reason), on ``conn``'s transaction.

    A total that so far lived only in an open interval gets its ``DailyTotal`` row here (0 closed
    seconds), so what Salesforce holds is remembered across restarts. Plain statements, no ORM objects:
    usually one executemany UPDATE for a call's 200 records; the rows it did not find are then created.
    """
    if not items:
        return
    if conn.dialect.name != "sqlite":  # (SQLite has one writer: nothing to lock, no statement to run)
        # lock the agents' session rows first, in the order a presence change does (session row, then its
        # totals), so creating a total here cannot collide with a change creating the same one (PostgreSQL)
        conn.execute(
            select(AgentSessionRow.agent_id)
            .where(AgentSessionRow.agent_id.in_(sorted({p.agent_id for p, _, _ in items})))
            .order_by(AgentSessionRow.agent_id)
            .with_for_update()
        ).all()
    t = DailyTotal.__table__
    key = (t.c.agent_id == bindparam("k_agent"), t.c.day == bindparam("k_day"), t.c.state_id == bindparam("k_state"))
    synced = [
        {"k_agent": p.agent_id, "k_day": p.day, "k_state": p.state_id, "v_synced": value}
        for p, value, parked in items
        if parked is None
    ]
    parked = [
        {"k_agent": p.agent_id, "k_day": p.day, "k_state": p.state_id, "v_parked": reason}
        for p, _, reason in items
        if reason is not None
    ]
    found = 0
    if synced:
        found += conn.execute(
            update(t).where(*key).values(synced_seconds=bindparam("v_synced"), parked_reason=None), synced
        ).rowcount
    if parked:
        found += conn.execute(update(t).where(*key).values(parked_reason=bindparam("v_parked")), parked).rowcount
    if found == len(synced) + len(parked) and conn.dialect.supports_sane_multi_rowcount:
        return  # every row was there
    keys = [(p.agent_id, p.day, p.state_id) for p, _, _ in items]
    existing = {
        tuple(row)
        for row in conn.execute(
            select(t.c.agent_id, t.c.day, t.c.state_id).where(tuple_(t.c.agent_id, t.c.day, t.c.state_id).in_(keys))
        )
    }
    missing = [
        {
            "agent_id": p.agent_id,
            "day": p.day,
            "state_id": p.state_id,
            "status": p.status,
            "reason_code": p.reason_code,
            "seconds": 0.0,
            "synced_seconds": value if reason is None else None,
            "parked_reason": reason,
            "updated_at": now,
        }
        for (p, value, reason) in {(p.agent_id, p.day, p.state_id): (p, v, r) for p, v, r in items}.values()
        if (p.agent_id, p.day, p.state_id) not in existing
    ]
    if missing:
        conn.execute(insert(t), missing)


def forget_synced(ctx: ReadContext, start: date, end: date) -> int:
    """Make every total in [start, end] pending again (also parked ones); returns how many rows."""
    with ctx.store.write() as s:
        rows = s.execute(select(DailyTotal).where(DailyTotal.day >= start, DailyTotal.day <= end)).scalars().all()
        for row in rows:
            row.synced_seconds = None
            row.parked_reason = None
        return len(rows)
