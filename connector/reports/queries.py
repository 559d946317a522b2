"""Read models: time per state per day, logon events, counters — for the API, CLI and pages."""

from __future__ import annotations

import base64
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Float, Integer, Join, String, and_, cast, func, or_, select, type_coerce, union_all
from sqlalchemy.ext.compiler import compiles

from connector.clock import iso, parse_iso
from connector.errors import InvalidInput
from connector.presence.days import local_day_bounds, split_by_day, zone_or
from connector.presence.engine import COUNTERS, LogonSource
from connector.reports.reads import ReadContext
from connector.store.models import Agent, DailyCounter, DailyTotal, LogonEventRow, StateInterval, zone_name_of

TIME_TRACKING_FIELDS = ["agent_id", "agent_name", "date", "state_id", "state_label", "status", "reason_code", "seconds"]
LOGON_EVENT_FIELDS = ["at", "agent_id", "agent_name", "action", "logon_source", "device", "actor"]


#: the dates reports accept (a day's bounds in any time zone stay inside Python's calendar)
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
#: the longest range a report reads: 'to' at most this many days after 'from'
MAX_RANGE_DAYS = 366


_Default = TypeVar("_Default", date, None)


def parse_day(value: str | None, field: str, default: _Default) -> date | _Default:
    if value in (None, ""):
        return default
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a date like 2026-03-06", field=field) from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:  # the edges of the calendar overflow in time-zone arithmetic
        raise InvalidInput(f"{field} must be a date from {EARLIEST_DAY} to {LATEST_DAY}", field=field)
    return day


def parse_sources(value: str | list[str] | None, field: str) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else [value]
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    by_lower = {s.lower(): s for s in LogonSource.ALL}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise InvalidInput(
            f"unknown logon source {', '.join(repr(u) for u in unknown)}; known: " + ", ".join(LogonSource.ALL),
            field=field,
        )
    return [by_lower[n.lower()] for n in names]


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput("'to' is before 'from'", field="to")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidInput("a range may span at most 366 days", field="to")


def time_tracking(
    ctx: ReadContext, start: date, end: date, agent_id: str | None = None, agent_ids: list[str] | None = None
) -> list[dict]:
    """Seconds per agent, local day and state in [start, end]; the open interval counts up to now."""
    return list(iter_time_tracking(ctx, start, end, agent_id, agent_ids))


def iter_time_tracking(
    ctx: ReadContext, start: date, end: date, agent_id: str | None = None, agent_ids: list[str] | None = None
) -> Iterator[dict]:
    """``time_tracking`` row by row, ordered by agent, day and state, in constant memory.

    The range is checked (and due timers applied) before the first row; the rows come from one
    read snapshot: the daily totals in index order, with the open intervals' shares merged in.
    """
    check_range(start, end)
    ctx.settle_due()  # timers that fell due while no scheduler ran (e.g. a CLI export) count exactly
    return _time_tracking_rows(ctx, start, end, agent_id, agent_ids)


def _time_tracking_rows(
    ctx: ReadContext, start: date, end: date, agent_id: str | None, agent_ids: list[str] | None
) -> Iterator[dict]:
    now = ctx.clock()
    with ctx.store.reader.connect() as conn:
        config = ctx.configs.active(conn)
        labels = {state.id: state.label for state in config.states}
        names, zones = {}, {}
        for aid, agent_name, zone_name in conn.execute(select(Agent.id, Agent.name, zone_name_of())):
            names[aid], zones[aid] = agent_name, zone_or(zone_name, ctx.tz)  # each agent's days: its own zone
        t = DailyTotal
        # agent by agent, each one's totals of the range from the unique index (agent_id, day, state_id):
        # in that order already, whatever the range (the day index would need a sort of the whole range)
        q = (
            select(t.agent_id, _day_text(conn, t.day), t.state_id, t.status, t.reason_code, t.seconds)
            .select_from(AgentsFirst(Agent.__table__, t.__table__, t.agent_id == Agent.id))
            .where(t.day >= start, t.day <= end)
        )
        iq = select(
            StateInterval.agent_id,
            StateInterval.state_id,
            StateInterval.status,
            StateInterval.reason_code,
            StateInterval.started_at,
        ).where(StateInterval.ended_at.is_(None))
        if agent_id:
            q = q.where(Agent.id == agent_id)  # the outer loop: one agent
            iq = iq.where(StateInterval.agent_id == agent_id)
        if agent_ids is not None:
            q = q.where(Agent.id.in_(agent_ids))
            iq = iq.where(StateInterval.agent_id.in_(agent_ids))
        q = q.order_by(*_binary_order(conn, Agent.id, t.day, t.state_id))
        extra: dict[tuple[str, str, str], list] = {}  # open intervals' seconds: at most a few per agent
        for aid, state_id, status, reason_code, started_at in conn.execute(iq):
            for day, seconds in split_by_day(started_at, max(now, started_at), zones.get(aid, ctx.tz)):
                if start <= day <= end:
                    extra.setdefault((aid, day.isoformat(), state_id), [status, reason_code, 0.0])[2] += seconds
        ordered = sorted(extra)  # merged in key order: ISO dates sort as the days do
        pending: list[tuple[str, str, str] | None] = [*ordered, None]
        next_extra, position = pending[0], 0
        last_aid, name = None, ""

        def row(key: tuple, status: int, reason_code: str, seconds: float) -> dict:
            aid, day, state_id = key
            return {
                "agent_id": aid,
                "agent_name": names.get(aid, aid),
                "date": day,
                "state_id": state_id,
                "state_label": labels.get(state_id, state_id),
                "status": status,
                "reason_code": reason_code,
                "seconds": round(seconds),
            }

        for aid, day, state_id, status, reason_code, seconds in conn.execution_options(
            stream_results=True, yield_per=2000
        ).execute(q):
            if next_extra is not None:
                key = (aid, day, state_id)
                while next_extra is not None and next_extra < key:
                    yield row(next_extra, *extra[next_extra])
                    position += 1
                    next_extra = pending[position]
                if next_extra == key:
                    seconds += extra[key][2]
                    position += 1
                    next_extra = pending[position]
            if aid != last_aid:
                last_aid, name = aid, names.get(aid, aid)
            yield {
                "agent_id": aid,
                "agent_name": name,
                "date": day,
                "state_id": state_id,
                "state_label": labels.get(state_id, state_id),
                "status": status,
                "reason_code": reason_code,
                "seconds": round(seconds),
            }
        for key in ordered[position:]:
            yield row(key, *extra[key])


class AgentsFirst(Join):
    """``agents JOIN <table> ON ...`` that SQLite reads agent by agent (``CROSS JOIN`` keeps the written
    order in its planner); a plain join elsewhere (PostgreSQL plans with statistics)."""

    inherit_cache = True


@compiles(AgentsFirst, "sqlite")
def _agents_first_on_sqlite(element, compiler, **kw):
    return compiler.visit_join(element, **kw).replace(" JOIN ", " CROSS JOIN ", 1)


def _day_text(conn, column):
    """A date column as its ISO text, as stored on SQLite (no parsing into a date and back per row)."""
    if conn.dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return type_coerce(column, String)


def _binary_order(conn, *columns):
    """Order text as Python does (code points), also on PostgreSQL, whose default collation differs."""
    if conn.dialect.name != "postgresql":
        return columns
    return [c.collate("C") if isinstance(c.type, String) else c for c in columns]


LOGON_PAGE_DEFAULT = 1000
LOGON_PAGE_MAX = 10000


def logon_events(
    ctx: ReadContext,
    start: date,
    end: date,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    agent_id: str | None = None,
) -> list[dict]:
    """Every logon event in [start, end], oldest first."""
    return list(iter_logon_events(ctx, start, end, include, exclude, agent_id))


def iter_logon_events(
    ctx: ReadContext,
    start: date,
    end: date,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    agent_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> Iterator[dict]:
    """Logon events in [start, end] in constant memory; ``after`` is a page cursor (``logon_cursor``)."""
    check_range(start, end)
    position = _parse_cursor(after) if after else None
    return _logon_rows(ctx, start, end, include, exclude, agent_id, position, limit, newest_first)


def logon_events_page(
    ctx: ReadContext,
    start: date,
    end: date,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    agent_id: str | None = None,
    after: str | None = None,
    limit: int = LOGON_PAGE_DEFAULT,
    newest_first: bool = False,
) -> tuple[list[dict], str | None]:
    """One page of logon events and the cursor of the next page (None on the last page)."""
    rows = list(iter_logon_events(ctx, start, end, include, exclude, agent_id, after, limit + 1, newest_first))
    if len(rows) <= limit:
        return [_public(r) for r in rows], None
    rows = rows[:limit]
    return [_public(r) for r in rows], logon_cursor(rows[-1])


def logon_cursor(row: dict) -> str:
    return base64.urlsafe_b64encode(f"{row['at']}|{row['_id']}".encode()).decode().rstrip("=")


def _parse_cursor(value: str) -> tuple[datetime, int]:
    try:
        at, row_id = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().split("|")
        return parse_iso(at), int(row_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("after must be the 'next' value of a previous page", field="after") from None


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "_id"}


def _logon_rows(
    ctx: ReadContext, start: date, end: date, include, exclude, agent_id, position, limit, newest_first: bool
) -> Iterator[dict]:
    e = LogonEventRow
    q = select(e.id, e.at, e.agent_id, Agent.name, e.action, e.logon_source, e.device, e.actor).join(
        Agent, Agent.id == e.agent_id
    )
    with ctx.store.reader.connect() as conn:
        zones = ctx.zone_names(conn)
    spans = []
    for name, tz in zones.items():  # the range's days in each agent's own zone
        lo, _ = local_day_bounds(start, tz)
        _, hi = local_day_bounds(end, tz)
        spans.append((name, lo, hi))
    if len(spans) == 1:
        q = q.where(e.at >= spans[0][1], e.at < spans[0][2])
    else:
        q = q.where(
            e.at >= min(lo for _, lo, _ in spans),
            e.at < max(hi for _, _, hi in spans),
            or_(*(and_(zone_name_of() == name, e.at >= lo, e.at < hi) for name, lo, hi in spans)),
        )
    if include:
        q = q.where(e.logon_source.in_(include))
    if exclude:
        q = q.where(e.logon_source.not_in(exclude))
    if agent_id:
        q = q.where(e.agent_id == agent_id)
    if position is not None:
        at, row_id = position
        q = q.where(
            or_(e.at < at, and_(e.at == at, e.id < row_id))
            if newest_first
            else or_(e.at > at, and_(e.at == at, e.id > row_id))
        )
    q = q.order_by(e.at.desc(), e.id.desc()) if newest_first else q.order_by(e.at, e.id)
    if limit is not None:
        q = q.limit(limit)
    with ctx.store.reader.connect() as conn:
        for row_id, at, aid, name, action, source, device, actor in conn.execution_options(
            stream_results=True, yield_per=2000
        ).execute(q):
            yield {
                "at": iso(at),
                "agent_id": aid,
                "agent_name": name,
                "action": action,
                "logon_source": source,
                "device": device,
                "actor": actor or "",
                "_id": row_id,
            }


def session_time(ctx: ReadContext, start: date, end: date, agent_id: str | None = None) -> list[dict]:
    """Time logged in per agent per day, derived from the Acquired/Released events."""
    check_range(start - timedelta(days=1), end)
    now = ctx.clock().timestamp()
    with ctx.store.reader.connect() as conn:
        zone_names = ctx.zone_names(conn)
        agent_zone = ctx.agent_zone_names(conn)
    # the days' edges in each zone in use (an agent's days end at its own zone's midnights)
    edges_by_zone = {name: _local_days(start - timedelta(days=1), end, tz)[0] for name, tz in zone_names.items()}
    days = _local_days(start - timedelta(days=1), end, ctx.tz)[1]
    first_edge = min(z[0] for z in edges_by_zone.values())
    last_edge = max(z[-1] for z in edges_by_zone.values())
    e = LogonEventRow
    open_since: dict[str, float] = {}
    active: dict[str, set] = defaultdict(set)
    counted = [start <= d <= end for d in days]
    seconds: dict[tuple[str, int], float] = defaultdict(float)  # (agent, index of the day): sorts fast

    def add(aid: str, a: float, b: float) -> None:
        edges = edges_by_zone[agent_zone.get(aid, "")]
        index = max(0, bisect_right(edges, a) - 1)
        while a < b and index < len(days):
            boundary = min(b, edges[index + 1])
            if counted[index] and boundary > a:
                seconds[(aid, index)] += boundary - a
            a, index = boundary, index + 1

    with ctx.store.reader.connect() as conn:
        # read from the covering index ix_logon_events_span alone, in (at, id) order
        q = (
            select(_epoch(conn, e.at), e.agent_id, e.action, e.device)
            .where(e.at >= datetime.fromtimestamp(first_edge, UTC), e.at < datetime.fromtimestamp(last_edge, UTC))
            .order_by(e.at, e.id)
        )
        if agent_id:
            q = q.where(e.agent_id == agent_id)
        for at, aid, action, device in conn.execution_options(stream_results=True, yield_per=2000).execute(q):
            at = float(at)
            if action == "Acquired":
                if not active[aid]:
                    open_since[aid] = at
                active[aid].add(device)
            elif active[aid]:
                active[aid].discard(device)
                if not active[aid] and aid in open_since:
                    add(aid, open_since.pop(aid), at)
    for aid, since in open_since.items():
        add(aid, since, now)
    iso_days = [d.isoformat() for d in days]
    return [
        {"agent_id": aid, "date": iso_days[index], "seconds": round(secs)}
        for (aid, index), secs in sorted(seconds.items())
    ]


def counters(ctx: ReadContext, agent_id: str, day: date) -> dict:
    with ctx.store.read() as s:
        rows = (
            s.execute(select(DailyCounter).where(DailyCounter.agent_id == agent_id, DailyCounter.day == day))
            .scalars()
            .all()
        )
    values = {name: 0 for name in COUNTERS}
    values.update({r.counter: r.count for r in rows})
    return values


def counters_for_day(ctx: ReadContext, day: date) -> dict[str, dict]:
    with ctx.store.read() as s:
        rows = s.execute(select(DailyCounter).where(DailyCounter.day == day)).scalars().all()
    out: dict[str, dict] = defaultdict(lambda: {name: 0 for name in COUNTERS})
    for r in rows:
        out[r.agent_id][r.counter] = r.count
    return dict(out)


def state_mix(ctx: ReadContext, day: date, team: str | None = None) -> list[dict]:
    """Seconds per state in each hour of a local day, summed over the agents (of ``team``).

    The open interval counts up to now; a DST day has 23 or 25 hours. The store sums the intervals
    (``_state_mix_groups``); here each group's seconds are spread over the hours it covers.
    """
    tz = ctx.team_zone(team)
    lo, hi = local_day_bounds(day, tz)
    end = min(hi, ctx.clock())
    hours = [
        {"start": iso(lo + timedelta(hours=h)), "label": (lo + timedelta(hours=h)).astimezone(tz).strftime("%H:%M")}
        for h in range(int((hi - lo).total_seconds() // 3600))
    ]
    seconds: list[dict[str, float]] = [defaultdict(float) for _ in hours]
    for state_id, first, last, count, sum_a, sum_b in _state_mix_groups(ctx, lo, end, team) if end > lo else ():
        first, last, sum_a, sum_b = int(first), int(last), float(sum_a), float(sum_b)
        if first == last:  # inside one hour (most intervals)
            seconds[first][state_id] += sum_b - sum_a
            continue
        seconds[first][state_id] += count * (first + 1) * 3600 - sum_a  # from each start to its hour's end
        for h in range(first + 1, min(last, len(hours))):
            seconds[h][state_id] += count * 3600  # hours covered whole
        if last < len(hours):  # (an end at the day's very end is no second of the next hour)
            seconds[last][state_id] += sum_b - count * last * 3600  # from the last hour's start to each end
    return [
        {**h, "seconds": {k: round(v) for k, v in per_state.items() if round(v)}}
        for h, per_state in zip(hours, seconds)
    ]


def _state_mix_groups(ctx: ReadContext, lo: datetime, end: datetime, team: str | None) -> Sequence[Sequence[Any]]:
    """The intervals of [lo, end) clipped to it, as seconds since ``lo`` (a, b), grouped by state, hour of a
    and hour of b: rows (state_id, hour of a, hour of b, count, sum of a, sum of b), a few hundred a day.

    The intervals are those started in the range (covering index ``ix_intervals_started_span``: no
    table row is read) and, per agent, the one running at ``lo`` (an agent's intervals are contiguous:
    its latest one started before ``lo``; index ``ix_intervals_agent_started``).
    """
    si = StateInterval
    span = (end - lo).total_seconds()
    running_at_start = (
        select(si.id)
        .where(si.agent_id == Agent.id, si.started_at < lo)
        .order_by(si.started_at.desc())
        .limit(1)
        .correlate(Agent)
        .scalar_subquery()
    )
    agents_q = select(running_at_start).select_from(Agent)
    with ctx.store.reader.connect() as conn:
        greatest, least, hour = _scalar_functions(conn)
        lo_s = lo.timestamp()
        a = greatest(_epoch(conn, si.started_at) - lo_s, 0.0).label("a")
        b = least(func.coalesce(_epoch(conn, si.ended_at) - lo_s, span), span).label("b")
        started = select(si.state_id, a, b).where(si.started_at >= lo, si.started_at < end)
        if team:
            agents_q = agents_q.where(Agent.team == team)
            started = started.where(si.agent_id.in_(select(Agent.id).where(Agent.team == team)))
        spanning = select(si.state_id, a, b).where(
            si.id.in_(agents_q), si.started_at < end, or_(si.ended_at.is_(None), si.ended_at > lo)
        )
        pieces = union_all(spanning, started).subquery()
        clipped = (
            select(
                pieces.c.state_id,
                hour(pieces.c.a).label("first"),
                hour(pieces.c.b).label("last"),
                pieces.c.a,
                pieces.c.b,
            )
            .where(pieces.c.b > pieces.c.a)
            .subquery()
        )
        c = clipped.c
        return conn.execute(
            select(c.state_id, c.first, c.last, func.count(), func.sum(c.a), func.sum(c.b))
            .group_by(c.state_id, c.first, c.last)
            .order_by(*_binary_order(conn, c.state_id), c.first, c.last)
        ).all()


def _scalar_functions(conn) -> tuple:
    """(greatest, least, hour index of seconds) in the dialect's SQL."""
    if conn.dialect.name == "postgresql":
        return func.greatest, func.least, lambda x: func.floor(x / 3600.0)
    return func.max, func.min, lambda x: cast(x / 3600.0, Integer)  # SQLite: two-argument max/min; x >= 0


def _epoch(conn, column):
    """A UTC timestamp column as epoch seconds (SQLite keeps naive UTC text, PostgreSQL a timestamp)."""
    if conn.dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _local_days(first: date, last: date, tz) -> tuple[list[float], list[date]]:
    """Epoch seconds of each local midnight from ``first`` to the one after ``last`` (DST-exact), and the days."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    edges = [local_day_bounds(d, tz)[0].timestamp() for d in days] + [local_day_bounds(last, tz)[1].timestamp()]
    return edges, days
