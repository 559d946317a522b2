"""Concurrent changes for one agent never interleave into a wrong interval."""

from __future__ import annotations

import random
import threading

from sqlalchemy import select

from connector.auth import accounts
from connector.clock import utc_now
from connector.parts import get_parts
from connector.store.models import DailyTotal, StateInterval


def test_parallel_changes_from_two_processes_keep_intervals_contiguous(make_app):
    # two app instances on one SQLite file stand for two server processes: no shared in-process lock
    first, second = make_app(CLOCK=utc_now), make_app(CLOCK=utc_now)
    services = [get_parts(first).service, get_parts(second).service]
    store = get_parts(first).store
    accounts.add_agent(store, {"id": "edred"}, utc_now())
    services[0].login("edred", "Paired Device", "deskphone")
    errors: list[Exception] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(15):
            try:
                rng.choice(services).set_state(
                    "edred", rng.choice(["ready", "dnd", "break", "lunch", "meeting"]), source="api"
                )
            except Exception as exc:  # noqa: BLE001 - any error (a deadlock, a conflict) is a bug here
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    services[0].logout("edred", "Paired Device")
    with store.read() as s:
        intervals = s.execute(select(StateInterval).order_by(StateInterval.id)).scalars().all()
        total = sum(t.seconds for t in s.execute(select(DailyTotal)).scalars())
    assert all(iv.ended_at is not None for iv in intervals)
    for before, after in zip(intervals, intervals[1:]):
        assert before.ended_at == after.started_at  # no gap, no overlap
        assert before.state_id != after.state_id  # a change to the same state opens no interval
    elapsed = (intervals[-1].ended_at - intervals[0].started_at).total_seconds()
    assert abs(total - elapsed) < 1e-3
