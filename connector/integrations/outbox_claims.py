"""Claiming outbox lanes for delivery, safely beside other ``serve`` instances on the same database.

A lane is one agent x one adapter; only its head (the oldest row not yet delivered, superseded or
parked) may go out, so per-lane order holds across instances. A claim locks the heads it wants with
``SELECT ... FOR UPDATE SKIP LOCKED`` (another instance claiming the same lane at the same moment
skips it), coalesces the run of presence rows at the head (only the latest goes out), and writes a
lease on the row it will deliver: ``claimed_by`` and ``lease_until``. A lane whose head is leased is
skipped; a lease that lapsed (its instance died mid-delivery) is claimed again and the row goes out
once more with the same idempotency key (``outbox-<id>``). On SQLite, the store's single writer makes
the same code safe (``FOR UPDATE`` renders to nothing there).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from connector.store import Store
from connector.store.models import OutboxRow


class Claim(NamedTuple):
    """A row leased for delivery, with what the push needs (no second read)."""

    row_id: int
    adapter: str
    agent_id: str
    kind: str
    payload: dict
    source: str
    lease_until: datetime | None = None


def _pending(adapters: Iterable[str]):
    return select(OutboxRow).where(
        OutboxRow.adapter.in_(list(adapters)),
        OutboxRow.delivered_at.is_(None),
        OutboxRow.superseded.is_(False),
        OutboxRow.next_attempt_at.is_not(None),
    )


def _lanes(rows: Iterable[OutboxRow]) -> dict[tuple[str, str], list[OutboxRow]]:
    lanes: dict[tuple[str, str], list[OutboxRow]] = {}
    for row in rows:
        lanes.setdefault((row.adapter, row.agent_id), []).append(row)
    return lanes


def _leased(row: OutboxRow, now: datetime) -> bool:
    return row.lease_until is not None and row.lease_until > now


def due_heads(store: Store, free: dict[str, int], now: datetime) -> list[int]:
    """Ids of lane heads that are due and not leased, oldest first, at most ``free[adapter]`` each."""
    with store.read() as s:
        return due_heads_in(s, free, now)


def due_heads_in(s: Session, free: dict[str, int], now: datetime) -> list[int]:
    chosen: list[int] = []
    for adapter, slots in free.items():
        if slots <= 0:
            continue
        heads = _pending([adapter]).with_only_columns(func.min(OutboxRow.id)).group_by(OutboxRow.agent_id)
        chosen += (
            s.execute(
                select(OutboxRow.id)
                .where(
                    OutboxRow.id.in_(heads),
                    OutboxRow.next_attempt_at <= now,
                    or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                )
                .order_by(OutboxRow.id)
                .limit(slots)
            )
            .scalars()
            .all()
        )
    return sorted(chosen)


def claim(store: Store, head_ids: list[int], now: datetime, holder: str, lease: timedelta) -> list[Claim]:
    """Lease the lanes of ``head_ids`` to ``holder``; returns the rows to deliver (one per lane)."""
    if not head_ids:
        return []
    with store.write() as s:
        return claim_in(s, head_ids, now, holder, lease)


def claim_in(s: Session, head_ids: list[int], now: datetime, holder: str, lease: timedelta) -> list[Claim]:
    """:func:`claim` inside the caller's transaction (a finished delivery claims the next row in the
    transaction that records it: one commit for both)."""
    if not head_ids:
        return []
    claims: list[Claim] = []
    locked = (
        s.execute(
            select(OutboxRow)
            .where(
                OutboxRow.id.in_(head_ids),
                OutboxRow.delivered_at.is_(None),
                OutboxRow.superseded.is_(False),
                OutboxRow.next_attempt_at.is_not(None),
                or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
            )
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not locked:
        return []
    adapters = {r.adapter for r in locked}
    agents = {r.agent_id for r in locked}
    fresh = s.execute(_pending(adapters).where(OutboxRow.agent_id.in_(agents)).order_by(OutboxRow.id)).scalars()
    lanes = _lanes(fresh)
    for head in locked:
        lane = lanes.get((head.adapter, head.agent_id), [])
        if not lane or lane[0].id != head.id:
            continue  # no longer the head (delivered or coalesced elsewhere meanwhile)
        row = _coalesce(lane)
        assert row.next_attempt_at is not None  # a lane holds pending rows only (_pending): none is parked
        if row.next_attempt_at > now or _leased(row, now):
            continue
        row.claimed_by, row.lease_until = holder, now + lease
        claims.append(
            Claim(row.id, row.adapter, row.agent_id, row.kind, dict(row.payload or {}), row.source, row.lease_until)
        )
    return claims


def _coalesce(lane: list[OutboxRow]) -> OutboxRow:
    """Mark the presence rows at the lane's head that a later one replaces as superseded; return the row
    to deliver. The newest keeps the back-off the remote earned, so coalescing is no retry storm."""
    run = []
    for row in lane:
        if row.kind != "presence":
            break
        run.append(row)
    if len(run) < 2:
        return lane[0]
    latest = run[-1]
    for older in run[:-1]:
        older.superseded = True
        older.claimed_by, older.lease_until = None, None
        latest.attempts = max(latest.attempts or 0, older.attempts or 0)
        latest_due, older_due = latest.next_attempt_at, older.next_attempt_at
        assert latest_due is not None and older_due is not None  # pending rows (_pending): none is parked
        latest.next_attempt_at = max(latest_due, older_due)
    return latest


def release(store: Store, holder: str) -> int:
    """Hand back every undelivered row ``holder`` has claimed (``serve`` stopping), so another instance
    claims it at its next scan instead of after the lease; returns how many. A push still under way
    may then be made twice, with the same idempotency key, as after a lapsed lease."""
    t = OutboxRow.__table__
    with store.write_connection() as conn:
        done = conn.execute(
            update(t)
            .where(t.c.claimed_by == holder, t.c.delivered_at.is_(None), t.c.lease_until.is_not(None))
            .values(claimed_by=None, lease_until=None)
        )
    return int(done.rowcount or 0)
