"""State adapters share across ``serve`` instances, kept in the store (the Host's remember/recall/spend).

Echo suppression (what we asked a PBX to do a moment ago), what was last sent to a remote, and rate
budgets such as Microsoft Graph's 1,500 presence calls per 30 s per app and tenant used to live in one
process; with several instances on one database each would have its own view. Here they live in two
small tables, so every instance sees the same.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from adapters.base import BudgetUse
from connector.clock import Clock
from connector.jobs.leases import ensure_lease_row
from connector.store import Store
from connector.store.models import BudgetSpend, JobLease, SharedValue


class SharedState:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def remember(self, key: str, value: object, ttl: float | None = None) -> None:
        """Keep ``value`` (JSON) under ``key`` for ``ttl`` seconds (None: until replaced)."""
        expires = self.clock() + timedelta(seconds=ttl) if ttl is not None else None
        for attempt in range(2):
            try:
                with self.store.write() as s:
                    row = s.get(SharedValue, key, with_for_update=True)
                    if row is None:
                        s.add(SharedValue(key=key, value=value, expires_at=expires))
                    else:
                        row.value, row.expires_at = value, expires
                return
            except IntegrityError:  # another instance inserted the key at the same moment: update it
                if attempt:
                    raise

    def recall(self, key: str) -> object | None:
        """The value remembered under ``key``, or None when there is none or it expired."""
        with self.store.read() as s:
            row = s.get(SharedValue, key)
            if row is None or (row.expires_at is not None and row.expires_at <= self.clock()):
                return None
            return row.value

    def spend(self, budget: str, calls: int, window: float, limit: int) -> BudgetUse:
        """Draw ``calls`` from a budget of ``limit`` calls per sliding ``window`` seconds, shared by all
        instances; nothing is drawn when it would go over (``calls`` 0 reads the use)."""
        now = self.clock()
        since = now - timedelta(seconds=window)
        lock_name = f"budget:{budget}"[:64]
        ensure_lease_row(self.store, lock_name)
        with self.store.write() as s:
            # one row lock per budget serialises the count-then-spend of every instance
            s.execute(select(JobLease).where(JobLease.name == lock_name).with_for_update()).scalar_one()
            s.execute(delete(BudgetSpend).where(BudgetSpend.budget == budget, BudgetSpend.at <= since))
            used = s.execute(
                select(func.coalesce(func.sum(BudgetSpend.calls), 0)).where(
                    BudgetSpend.budget == budget, BudgetSpend.at > since
                )
            ).scalar_one()  # an aggregate: always one row
            if calls and used + calls > limit:
                oldest = s.scalar(
                    select(func.min(BudgetSpend.at)).where(BudgetSpend.budget == budget, BudgetSpend.at > since)
                )
                wait = window - (now - oldest).total_seconds() if oldest is not None else window
                return BudgetUse(False, int(used), max(0.0, wait))
            if calls:
                s.add(BudgetSpend(budget=budget, at=now, calls=calls))
            return BudgetUse(True, int(used) + calls, 0.0)
