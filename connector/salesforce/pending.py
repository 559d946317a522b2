"""Which (agent, day, state) totals Salesforce does not hold yet, with their absolute seconds.

A total is pending when its current value — closed seconds plus the open interval's share up to
now, exactly as ``reports.time_tracking`` counts it — rounded to whole seconds differs from what
Salesforce last accepted (``DailyTotal.synced_seconds``), and it is not parked. A total that
was never written and is still 0 s is not worth a record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select, tuple_

from .. import reports
from ..reads import ReadContext
from ..store.models import AgentSessionRow, DailyTotal, StateInterval

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
        rows = reports.time_tracking(ctx, start, end)
        with ctx.store.read() as s:
            # plain columns, not ORM objects: this reads every total of the range
            known = {(aid, day, sid): (synced, parked) for aid, day, sid, synced, parked in s.execute(
                select(DailyTotal.agent_id, DailyTotal.day, DailyTotal.state_id, DailyTotal.synced_seconds,
                       DailyTotal.parked_reason).where(DailyTotal.day >= start, DailyTotal.day <= end))}
        for row in rows:
            day = date.fromisoformat(row["date"])
            synced, parked = known.get((row["agent_id"], day, row["state_id"]), (None, None))
            if parked is not None or row["seconds"] == (synced if synced is not None else 0):
                continue
            pending.append(PendingTotal(row["agent_id"], day, row["state_id"], row["state_label"], row["status"],
                                        row["reason_code"], row["seconds"]))
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
        rows = {(t.agent_id, t.day, t.state_id): t for t in s.execute(select(DailyTotal).where(
            tuple_(DailyTotal.agent_id, DailyTotal.day, DailyTotal.state_id).in_(keys))).scalars()}
        for p, synced, parked in items:
            row = rows.get((p.agent_id, p.day, p.state_id))
            if row is None:
                row = DailyTotal(agent_id=p.agent_id, day=p.day, state_id=p.state_id, status=p.status,
                                 reason_code=p.reason_code, seconds=0.0, updated_at=now)
                s.add(row)
                rows[(p.agent_id, p.day, p.state_id)] = row
            if parked is not None:
                row.parked_reason = parked
            else:
                row.synced_seconds = synced
                row.parked_reason = None


def forget_synced(ctx: ReadContext, start: date, end: date) -> int:
    """Make every total in [start, end] pending again (also parked ones); returns how many rows."""
    with ctx.store.write() as s:
        rows = s.execute(select(DailyTotal).where(DailyTotal.day >= start, DailyTotal.day <= end)).scalars().all()
        for row in rows:
            row.synced_seconds = None
            row.parked_reason = None
        return len(rows)
