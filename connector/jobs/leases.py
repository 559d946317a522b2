"""Leases in the store: which ``serve`` instance does a piece of work, so several instances never do it twice.

A lease row per job name records who holds it until when, and when it was last acquired. ``acquire``
succeeds when nobody holds a live lease and (with ``every``) the job has not run within that many
seconds anywhere in the cluster: exactly one instance runs each tick, and a dead holder's lease
lapses after ``hold`` seconds so another instance takes over. The row is locked (``SELECT ... FOR
UPDATE``) while it is read and changed; on SQLite the store's single writer does the same.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from connector.clock import Clock
from connector.store import Store
from connector.store.models import JobLease

log = logging.getLogger(__name__)


def instance_name() -> str:
    """This process as other instances see it in lease rows: host, pid and a random tail."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leases:
    """Job leases held by one instance (``holder``)."""

    def __init__(self, store: Store, clock: Clock, holder: str | None = None):
        self.store = store
        self.clock = clock
        self.holder = holder or instance_name()

    def acquire(self, name: str, hold: float, every: float = 0.0) -> bool:
        """Take the lease ``name`` for ``hold`` seconds; False when another instance holds it or the job
        ran less than ``every`` seconds ago (its lease released or not)."""
        self._ensure_row(name)
        now = self.clock()
        t = JobLease.__table__

        def take(conn) -> bool:
            row = conn.execute(
                select(t.c.holder, t.c.lease_until, t.c.acquired_at).where(t.c.name == name).with_for_update()
            ).one()
            if row.lease_until is not None and row.lease_until > now and row.holder != self.holder:
                return False
            if every and row.acquired_at is not None and (now - row.acquired_at).total_seconds() < every:
                return False
            conn.execute(
                update(t)
                .where(t.c.name == name)
                .values(
                    holder=self.holder,
                    lease_until=now + timedelta(seconds=hold),
                    acquired_at=now,
                    acquisitions=func.coalesce(t.c.acquisitions, 0) + 1,
                )
            )
            return True

        # plain statements in a write shared with the changes being committed (Store.write_shared): a job
        # ticking every second on every instance holds the store's write lock for two statements, no commit
        return self.store.write_shared(take)

    def release(self, name: str) -> None:
        """Let the next tick (on any instance) take the lease; the time it was acquired stays."""
        t = JobLease.__table__
        self.store.write_shared(
            lambda conn: conn.execute(
                update(t).where(t.c.name == name, t.c.holder == self.holder).values(lease_until=None)
            )
        )

    def release_all(self) -> int:
        """Let other instances take every lease this one holds (``serve`` stopping); returns how many."""
        t = JobLease.__table__
        with self.store.write_connection() as conn:
            done = conn.execute(
                update(t).where(t.c.holder == self.holder, t.c.lease_until.is_not(None)).values(lease_until=None)
            )
        return int(done.rowcount or 0)

    def holder_of(self, name: str) -> str | None:
        """The instance holding a live lease ``name``, or None."""
        with self.store.read() as s:
            row = s.get(JobLease, name)
            if row is None or row.lease_until is None or row.lease_until <= self.clock():
                return None
            return row.holder

    def run(self, name: str, fn: Callable[[], object], hold: float, every: float = 0.0) -> bool:
        """Run ``fn`` under the lease when it can be had; returns whether it ran."""
        if not self.acquire(name, hold, every):
            return False
        try:
            fn()
        finally:
            self.release(name)
        return True

    def _ensure_row(self, name: str) -> None:
        ensure_lease_row(self.store, name)


def ensure_lease_row(store: Store, name: str) -> None:
    """The lease row ``name`` exists (rows are created once and then only locked and updated)."""
    with store.read() as s:
        if s.get(JobLease, name) is not None:
            return
    try:
        with store.write() as s:
            if s.get(JobLease, name) is None:
                s.add(JobLease(name=name, acquisitions=0))
    except IntegrityError:
        pass  # another instance created it first: fine
