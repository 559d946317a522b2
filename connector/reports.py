"""Read models: time per state per day, logon events, counters — for the API, CLI and pages."""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Iterable

from sqlalchemy import select

from .engine import COUNTERS, LogonSource
from .errors import InvalidInput
from .clock import iso
from .reads import ReadContext
from .store.models import Agent, DailyCounter, DailyTotal, LogonEventRow, StateInterval
from .tracking import local_day_bounds, split_by_day

TIME_TRACKING_FIELDS = ["agent_id", "agent_name", "date", "state_id", "state_label", "status", "reason_code", "seconds"]
LOGON_EVENT_FIELDS = ["at", "agent_id", "agent_name", "action", "logon_source", "device", "actor"]


#: the dates reports accept (a day's bounds in any time zone stay inside Python's calendar)
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def parse_day(value: str | None, field: str, default: date) -> date:
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
        raise InvalidInput(f"unknown logon source {', '.join(repr(u) for u in unknown)}; known: "
                           + ", ".join(LogonSource.ALL), field=field)
    return [by_lower[n.lower()] for n in names]


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput("'to' is before 'from'", field="to")
    if (end - start).days > 366:
        raise InvalidInput("a range may span at most 366 days", field="to")


def time_tracking(ctx: ReadContext, start: date, end: date, agent_id: str | None = None,
                  agent_ids: list[str] | None = None) -> list[dict]:
    """Seconds per agent, local day and state in [start, end]; the open interval counts up to now."""
    check_range(start, end)
    ctx.settle_due()  # timers that fell due while no scheduler ran (e.g. a CLI export) count exactly
    tz = ctx.tz
    now = ctx.clock()
    totals: dict[tuple[str, date, str], dict] = {}
    with ctx.store.read() as s:
        config = ctx.configs.active(s)
        names = dict(s.execute(select(Agent.id, Agent.name)).all())
        q = select(DailyTotal).where(DailyTotal.day >= start, DailyTotal.day <= end)
        iq = select(StateInterval).where(StateInterval.ended_at.is_(None))
        if agent_id:
            q = q.where(DailyTotal.agent_id == agent_id)
            iq = iq.where(StateInterval.agent_id == agent_id)
        if agent_ids is not None:
            q = q.where(DailyTotal.agent_id.in_(agent_ids))
            iq = iq.where(StateInterval.agent_id.in_(agent_ids))
        for t in s.execute(q).scalars():
            totals[(t.agent_id, t.day, t.state_id)] = {"status": t.status, "reason_code": t.reason_code,
                                                       "seconds": t.seconds}
        for interval in s.execute(iq).scalars():
            for day, seconds in split_by_day(interval.started_at, max(now, interval.started_at), tz):
                if start <= day <= end:
                    row = totals.setdefault((interval.agent_id, day, interval.state_id),
                                            {"status": interval.status, "reason_code": interval.reason_code,
                                             "seconds": 0.0})
                    row["seconds"] += seconds
    rows = []
    for (aid, day, state_id), t in sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        state = config.find(state_id)
        rows.append({"agent_id": aid, "agent_name": names.get(aid, aid), "date": day.isoformat(),
                     "state_id": state_id, "state_label": state.label if state else state_id,
                     "status": t["status"], "reason_code": t["reason_code"], "seconds": round(t["seconds"])})
    return rows


def logon_events(ctx: ReadContext, start: date, end: date, include: list[str] | None = None,
                 exclude: list[str] | None = None, agent_id: str | None = None) -> list[dict]:
    check_range(start, end)
    tz = ctx.tz
    lo, _ = local_day_bounds(start, tz)
    _, hi = local_day_bounds(end, tz)
    with ctx.store.read() as s:
        q = select(LogonEventRow, Agent.name).join(Agent, Agent.id == LogonEventRow.agent_id) \
            .where(LogonEventRow.at >= lo, LogonEventRow.at < hi).order_by(LogonEventRow.at, LogonEventRow.id)
        if include:
            q = q.where(LogonEventRow.logon_source.in_(include))
        if exclude:
            q = q.where(LogonEventRow.logon_source.not_in(exclude))
        if agent_id:
            q = q.where(LogonEventRow.agent_id == agent_id)
        return [{"at": iso(e.at), "agent_id": e.agent_id, "agent_name": name, "action": e.action,
                 "logon_source": e.logon_source, "device": e.device, "actor": e.actor or ""}
                for e, name in s.execute(q).all()]


def session_time(ctx: ReadContext, start: date, end: date, agent_id: str | None = None) -> list[dict]:
    """Time logged in per agent per day, derived from the Acquired/Released events."""
    tz = ctx.tz
    now = ctx.clock()
    events = logon_events(ctx, start - timedelta(days=1), end, agent_id=agent_id)
    open_since: dict[str, datetime] = {}
    active: dict[str, set] = defaultdict(set)
    seconds: dict[tuple[str, date], float] = defaultdict(float)

    def add(aid: str, a: datetime, b: datetime) -> None:
        for day, secs in split_by_day(a, b, tz):
            if start <= day <= end:
                seconds[(aid, day)] += secs

    for e in events:
        at = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        aid = e["agent_id"]
        if e["action"] == "Acquired":
            if not active[aid]:
                open_since[aid] = at
            active[aid].add(e["device"])
        else:
            if active[aid]:
                active[aid].discard(e["device"])
                if not active[aid] and aid in open_since:
                    add(aid, open_since.pop(aid), at)
    for aid, since in open_since.items():
        add(aid, since, now)
    return [{"agent_id": aid, "date": day.isoformat(), "seconds": round(secs)}
            for (aid, day), secs in sorted(seconds.items())]


def counters(ctx: ReadContext, agent_id: str, day: date) -> dict:
    with ctx.store.read() as s:
        rows = s.execute(select(DailyCounter).where(DailyCounter.agent_id == agent_id,
                                                    DailyCounter.day == day)).scalars().all()
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


def to_csv(rows: Iterable[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(row.get(k)) for k in fields})
    return buf.getvalue()


def _csv_safe(value):
    """Keep spreadsheet formulas out of exports (a device name like '=HYPERLINK(...)')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)


def state_mix(ctx: ReadContext, day: date, team: str | None = None) -> list[dict]:
    """Seconds per state in each hour of a local day, summed over the agents (of ``team``).

    The open interval counts up to now; a DST day has 23 or 25 hours.
    """
    tz = ctx.tz
    lo, hi = local_day_bounds(day, tz)
    end = min(hi, ctx.clock())
    hours = [{"start": iso(lo + timedelta(hours=h)),
              "label": (lo + timedelta(hours=h)).astimezone(tz).strftime("%H:%M"), "seconds": defaultdict(float)}
             for h in range(int((hi - lo).total_seconds() // 3600))]
    with ctx.store.read() as s:
        q = select(StateInterval).join(Agent, Agent.id == StateInterval.agent_id) \
            .where(StateInterval.started_at < end,
                   (StateInterval.ended_at.is_(None)) | (StateInterval.ended_at > lo))
        if team:
            q = q.where(Agent.team == team)
        intervals = s.execute(q).scalars().all()
    for interval in intervals:
        a, b = max(interval.started_at, lo), min(interval.ended_at or end, end)
        while a < b:
            index = int((a - lo).total_seconds() // 3600)
            boundary = min(b, lo + timedelta(hours=index + 1))
            hours[index]["seconds"][interval.state_id] += (boundary - a).total_seconds()
            a = boundary
    return [{**h, "seconds": {k: round(v) for k, v in h["seconds"].items() if round(v)}} for h in hours]
