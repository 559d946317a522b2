"""Which (agent, day, state) totals Salesforce does not hold yet, with their absolute seconds.

A total is pending when its current value — closed seconds plus the open interval's share up to
now, exactly as ``reports.time_tracking`` counts it — rounded to whole seconds differs from what
Salesforce last accepted (``DailyTotal.synced_seconds``), and it is not parked. A total that
was never written and is still 0 s is not worth a record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, exists, func, insert, or_, select, tuple_, update

from .. import reports
from ..reads import ReadContext
from ..store.models import AgentSessionRow, DailyTotal, StateInterval
from ..tracking import split_by_day

MAX_RANGE_DAYS = 366  # reports.check_range refuses more in one read


@dataclass(frozen=True)
class PendingTotal:
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
        return {"state": self.state_label, "status": self.status, "reason_code": self.reason_code,
                "seconds": self.seconds}, {}

    @staticmethod
    def mark_results(ctx: ReadContext, outcome: list[tuple["PendingTotal", str | None]]) -> None:
        """Record what Salesforce accepted (reason None) or parked (the reason)."""
        mark(ctx, [(p, None if parked else p.seconds, parked) for p, parked in outcome])


def external_key(agent_id: str, day: date, state_id: str) -> str:
    return f"{agent_id}|{day.isoformat()}|{state_id}"


def _days_to_read(ctx: ReadContext) -> list[date]:
    """Days that may hold a pending total: days of changed totals, and every day an open interval spans."""
    tz = ctx.tz
    today = ctx.clock().astimezone(tz).date()
    with ctx.store.read() as s:
        # a cheap superset in SQL (|seconds - synced| >= 0.5); the exact test is done on the read rows
        days = set(s.execute(select(DailyTotal.day).distinct().where(
            DailyTotal.parked_reason.is_(None),
            or_(DailyTotal.synced_seconds.is_(None),
                func.abs(DailyTotal.seconds - DailyTotal.synced_seconds) >= 0.5))).scalars())
        oldest_open = s.scalar(select(func.min(StateInterval.started_at)).where(StateInterval.ended_at.is_(None)))
    if oldest_open is not None:
        day = min(oldest_open.astimezone(tz).date(), today)
        while day <= today:
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into ranges of at most MAX_RANGE_DAYS."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1 and (day - runs[-1][0]).days < MAX_RANGE_DAYS:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def pending_totals(ctx: ReadContext) -> list[PendingTotal]:
    """Every total Salesforce should get now, oldest day first."""
    pending: list[PendingTotal] = []
    for start, end in _runs(_days_to_read(ctx)):
        pending += _pending_in(ctx, start, end)
    return pending


def _pending_in(ctx: ReadContext, start: date, end: date) -> list[PendingTotal]:
    """The pending totals of [start, end], counted as ``reports.time_tracking`` counts them.

    Set-based: SQL reads only the totals that may be pending (changed since the last write, parked,
    or with an open interval in the same agent and state), as plain columns; the open intervals'
    shares up to now are added in Python and the exact test is done on what was read.
    """
    reports.check_range(start, end)
    ctx.settle_due()
    tz, now = ctx.tz, ctx.clock()
    t, i = DailyTotal, StateInterval
    open_same_state = exists().where(i.agent_id == t.agent_id, i.state_id == t.state_id, i.ended_at.is_(None))
    candidates = select(t.agent_id, t.day, t.state_id, t.status, t.reason_code, t.seconds, t.synced_seconds,
                        t.parked_reason).where(
        t.day >= start, t.day <= end,
        or_(t.parked_reason.is_not(None), t.synced_seconds.is_(None),
            func.abs(t.seconds - t.synced_seconds) >= 0.5, open_same_state))
    with ctx.store.reader.connect() as conn:  # one snapshot for the intervals and the totals
        labels = {state.id: state.label for state in ctx.configs.active(conn).states}
        extra: dict[tuple, list] = {}
        for aid, state_id, status, reason_code, started_at in conn.execute(
                select(i.agent_id, i.state_id, i.status, i.reason_code, i.started_at).where(i.ended_at.is_(None))):
            for day, seconds in split_by_day(started_at, max(now, started_at), tz):
                if start <= day <= end:
                    extra.setdefault((aid, day, state_id), [status, reason_code, 0.0])[2] += seconds
        rows = {(aid, day, sid): (status, reason, seconds, synced, parked) for aid, day, sid, status, reason, seconds,
                synced, parked in conn.execute(candidates)}
    pending: list[PendingTotal] = []
    for key in sorted(rows.keys() | extra.keys()):
        status, reason, seconds, synced, parked = rows.get(key) or (*extra[key][:2], 0.0, None, None)
        if parked is not None:
            continue
        total = round(seconds + (extra[key][2] if key in extra else 0.0))
        if total == (synced if synced is not None else 0):
            continue
        pending.append(PendingTotal(key[0], key[1], key[2], labels.get(key[2], key[2]), status, reason, total))
    return pending


def mark(ctx: ReadContext, items: list[tuple[PendingTotal, int | None, str | None]]) -> None:
    """Record what Salesforce accepted (synced seconds) or rejected (parked reason), in one transaction.

    A total that so far lived only in an open interval gets its ``DailyTotal`` row here (0 closed
    seconds), so what Salesforce holds is remembered across restarts.
    """
    if not items:
        return
    now = ctx.clock()
    keys = [(p.agent_id, p.day, p.state_id) for p, _, _ in items]
    with ctx.store.write() as s:
        # lock the agents' session rows first, in the order a presence change does (session row, then its
        # totals), so creating a total here cannot collide with a change creating the same one (PostgreSQL)
        s.execute(select(AgentSessionRow.agent_id).where(AgentSessionRow.agent_id.in_(sorted({k[0] for k in keys})))
                  .order_by(AgentSessionRow.agent_id).with_for_update()).all()
        # plain statements, no ORM objects: a flush of 10,000 agents marks 10,000 totals
        conn = s.connection()
        t = DailyTotal.__table__
        existing = {tuple(row) for row in conn.execute(select(t.c.agent_id, t.c.day, t.c.state_id).where(
            tuple_(t.c.agent_id, t.c.day, t.c.state_id).in_(keys)))}
        missing = [{"agent_id": p.agent_id, "day": p.day, "state_id": p.state_id, "status": p.status,
                    "reason_code": p.reason_code, "seconds": 0.0, "updated_at": now}
                   for p in {(p.agent_id, p.day, p.state_id): p for p, _, _ in items}.values()
                   if (p.agent_id, p.day, p.state_id) not in existing]
        if missing:
            conn.execute(insert(t), missing)
        key = (t.c.agent_id == bindparam("k_agent"), t.c.day == bindparam("k_day"), t.c.state_id == bindparam("k_state"))
        synced = [{"k_agent": p.agent_id, "k_day": p.day, "k_state": p.state_id, "v_synced": value}
                  for p, value, parked in items if parked is None]
        parked = [{"k_agent": p.agent_id, "k_day": p.day, "k_state": p.state_id, "v_parked": reason}
                  for p, _, reason in items if reason is not None]
        if synced:
            conn.execute(update(t).where(*key).values(synced_seconds=bindparam("v_synced"), parked_reason=None),
                         synced)
        if parked:
            conn.execute(update(t).where(*key).values(parked_reason=bindparam("v_parked")), parked)


def forget_synced(ctx: ReadContext, start: date, end: date) -> int:
    """Make every total in [start, end] pending again (also parked ones); returns how many rows."""
    with ctx.store.write() as s:
        rows = s.execute(select(DailyTotal).where(DailyTotal.day >= start, DailyTotal.day <= end)).scalars().all()
        for row in rows:
            row.synced_seconds = None
            row.parked_reason = None
        return len(rows)
