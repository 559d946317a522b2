"""Counters per agent and day for Salesforce: one record in their own object when configured.

With ``SF_COUNTER_FIELDS`` set, each agent and day that has counters gets the record
``agent id|YYYY-MM-DD`` in the counters object (``SF_COUNTER_OBJECT``, default ``Presence_Counters__c``:
kept apart from the time per state, so no report of ``Presence_Time__c`` meets a counters row) carrying
the configured counters as absolute numbers. What Salesforce holds is remembered per agent, day and
counter in ``salesforce_counters_sync`` (created by ``create_all`` like the sync state table), so the
same rules as for the totals apply: only changed records are sent, a record is marked written only
after Salesforce accepted it, a data error parks it with the reason, a restart resends.

Earlier versions wrote these records into ``Presence_Time__c`` (key ``...|_counters``) and kept what they
sent in ``salesforce_counter_sync``; the new table starts empty, so every agent-day's counters go once to
the new object after the upgrade (README "Salesforce").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Date,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from connector.reports.reads import ReadContext
from connector.store.models import AgentSessionRow, Base, DailyCounter

DAYS_PER_READ = 400


class SalesforceCounterSync(Base):
    """One counter of one agent and day as Salesforce last accepted it (or why it was parked)."""

    __tablename__ = "salesforce_counters_sync"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    counter: Mapped[str] = mapped_column(String(40))
    synced_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (UniqueConstraint("agent_id", "day", "counter", name="uq_salesforce_counters_sync"),)


@dataclass(frozen=True)
class PendingCounters:
    """The counters record of one agent and day, with the absolute value of every configured counter."""

    agent_id: str
    day: date
    values: dict[str, int]

    @property
    def key(self) -> str:
        return counters_key(self.agent_id, self.day)

    def field_values(self, counter_fields: dict[str, str]) -> tuple[dict, dict]:
        """A counters record has the key, agent, user and date, and one number field per configured counter."""
        return {}, {counter_fields[name]: count for name, count in self.values.items()}

    @staticmethod
    def mark_results(conn: Connection, now: datetime, outcome: list[tuple[PendingCounters, str | None]]) -> None:
        mark_on(conn, outcome)


def counters_key(agent_id: str, day: date) -> str:
    """The external id of an agent-day's counters record: ``agent id|YYYY-MM-DD``."""
    return f"{agent_id}|{day.isoformat()}"


def pending_counters(ctx: ReadContext, names: list[str]) -> list[PendingCounters]:
    """Every counters record Salesforce should get now (oldest day first); none when ``names`` is empty."""
    if not names:
        return []
    sync = SalesforceCounterSync
    with ctx.store.read() as s:
        # agent-days with a configured counter Salesforce does not hold at its current value
        candidates = set(
            s.execute(
                select(DailyCounter.agent_id, DailyCounter.day)
                .distinct()
                .outerjoin(
                    sync,
                    and_(
                        sync.agent_id == DailyCounter.agent_id,
                        sync.day == DailyCounter.day,
                        sync.counter == DailyCounter.counter,
                    ),
                )
                .where(
                    DailyCounter.counter.in_(names),
                    or_(
                        sync.id.is_(None),
                        and_(
                            sync.parked_reason.is_(None),
                            or_(sync.synced_count.is_(None), sync.synced_count != DailyCounter.count),
                        ),
                    ),
                )
            ).all()
        )
        days = sorted({day for _, day in candidates})
        counts: dict[tuple[str, date], dict[str, int]] = {}
        parked: set[tuple[str, date]] = set()
        for i in range(0, len(days), DAYS_PER_READ):
            chunk = days[i : i + DAYS_PER_READ]
            for aid, day, name, count in s.execute(
                select(DailyCounter.agent_id, DailyCounter.day, DailyCounter.counter, DailyCounter.count).where(
                    DailyCounter.day.in_(chunk), DailyCounter.counter.in_(names)
                )
            ):
                counts.setdefault((aid, day), {})[name] = count
            parked.update(
                s.execute(
                    select(sync.agent_id, sync.day)
                    .distinct()
                    .where(sync.day.in_(chunk), sync.parked_reason.is_not(None))
                ).all()
            )
    pending = []
    for aid, day in sorted(candidates, key=lambda k: (k[1], k[0])):
        if (aid, day) in parked:
            continue
        found = counts.get((aid, day), {})
        pending.append(PendingCounters(aid, day, {name: found.get(name, 0) for name in names}))
    return pending


def mark_on(conn: Connection, items: list[tuple[PendingCounters, str | None]]) -> None:
    """Record what Salesforce accepted (parked reason None: the values sent) or rejected, on ``conn``'s
    transaction."""
    if not items:
        return
    sync = SalesforceCounterSync.__table__
    agents = sorted({p.agent_id for p, _ in items})
    if conn.dialect.name != "sqlite":  # (SQLite has one writer: nothing to lock)
        # lock the agents' session rows first, as ``pending.mark_on`` does, so two flushes (server and
        # ``sync now``) cannot both create the same sync row (PostgreSQL)
        conn.execute(
            select(AgentSessionRow.agent_id)
            .where(AgentSessionRow.agent_id.in_(agents))
            .order_by(AgentSessionRow.agent_id)
            .with_for_update()
        ).all()
    existing = {
        tuple(row)
        for row in conn.execute(
            select(sync.c.agent_id, sync.c.day, sync.c.counter).where(
                sync.c.agent_id.in_(agents), sync.c.day.in_({p.day for p, _ in items})
            )
        )
    }
    new: dict[tuple, dict] = {}
    synced, parked_rows = [], []
    for p, parked in items:
        for name, value in p.values.items():
            key = (p.agent_id, p.day, name)
            if key not in existing:
                new[key] = {
                    "agent_id": p.agent_id,
                    "day": p.day,
                    "counter": name,
                    "synced_count": None,
                    "parked_reason": None,
                }
            if parked is not None:
                parked_rows.append({"k_agent": p.agent_id, "k_day": p.day, "k_counter": name, "v_parked": parked})
            else:
                synced.append({"k_agent": p.agent_id, "k_day": p.day, "k_counter": name, "v_count": value})
    if new:
        conn.execute(insert(sync), list(new.values()))
    same_row = (
        sync.c.agent_id == bindparam("k_agent"),
        sync.c.day == bindparam("k_day"),
        sync.c.counter == bindparam("k_counter"),
    )
    if synced:
        conn.execute(
            update(sync).where(*same_row).values(synced_count=bindparam("v_count"), parked_reason=None), synced
        )
    if parked_rows:
        conn.execute(update(sync).where(*same_row).values(parked_reason=bindparam("v_parked")), parked_rows)


def forget_synced(ctx: ReadContext, start: date, end: date) -> int:
    """Make every counters record in [start, end] pending again (parked ones too); returns how many counters."""
    with ctx.store.write() as s:
        # a DML statement: a CursorResult (SQLAlchemy types Session.execute's answer as a plain Result)
        result = cast(
            "CursorResult[Any]",
            s.execute(
                delete(SalesforceCounterSync).where(
                    SalesforceCounterSync.day >= start, SalesforceCounterSync.day <= end
                )
            ),
        )
        return result.rowcount or 0


def parked_records(ctx: ReadContext, limit: int) -> tuple[int, list[dict]]:
    """How many counters records are parked, and the newest ``limit`` of them with their reasons."""
    sync = SalesforceCounterSync
    where = sync.parked_reason.is_not(None)
    with ctx.store.read() as s:
        total = s.scalar(
            select(func.count()).select_from(select(sync.agent_id, sync.day).distinct().where(where).subquery())
        )
        rows = s.execute(
            select(sync.agent_id, sync.day, func.max(sync.parked_reason))
            .where(where)
            .group_by(sync.agent_id, sync.day)
            .order_by(sync.day.desc(), sync.agent_id)
            .limit(limit)
        ).all()
    return total or 0, [
        {
            "key": counters_key(aid, day),
            "agent_id": aid,
            "date": day.isoformat(),
            "state_id": None,
            "seconds": None,
            "reason": reason,
        }
        for aid, day, reason in rows
    ]
