"""The 1 s timed-rule sweep claims due sessions (connector/changes/sweep.py): with several instances on one
PostgreSQL database each due session is settled by exactly one of them, a session another transaction
holds is passed over without waiting, and a session whose decision fails does not stop the others
(SQLite here; PostgreSQL too, see test_postgres)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import create_engine, select, text

from connector.auth import accounts
from connector.parts import get_parts
from connector.presence.engine import Engine
from connector.store.models import AgentSessionRow, DailyCounter, StateInterval


def _in_wrap_up(service, clock, agent_ids: list[str]) -> None:
    """Each agent logged in, on a call, then in wrap-up (the default 30 s)."""
    for agent_id in agent_ids:
        accounts.add_agent(service.store, {"id": agent_id, "name": agent_id.title()}, clock())
        service.login(agent_id, "Softphone", "browser")
        service.call_event(agent_id, "c1", "started", "inbound")
        service.call_event(agent_id, "c1", "ended", "inbound", 30)


def _stored(store) -> tuple[dict[str, list[str]], Counter, dict[str, str]]:
    """Per agent: the states of its intervals in order, its wrap-ups completed and its stored state."""
    with store.read() as s:
        intervals: dict[str, list[str]] = {}
        for iv in s.execute(select(StateInterval).order_by(StateInterval.id)).scalars():
            intervals.setdefault(iv.agent_id, []).append(iv.state_id)
        completed = Counter(
            {
                c.agent_id: c.count
                for c in s.execute(select(DailyCounter).where(DailyCounter.counter == "wrap_ups_completed")).scalars()
            }
        )
        states = {r.agent_id: r.state_id for r in s.execute(select(AgentSessionRow)).scalars()}
    return intervals, completed, states


def _watch(service, seen: list[str]) -> None:
    """Note every agent whose state change this instance writes."""
    record = service._writer.record

    def recording(conn, agent, decision, *args, **kw):
        rows = record(conn, agent, decision, *args, **kw)
        if decision.state_changes:
            seen.append(agent.id)
        return rows

    service._writer.record = recording


def test_three_instances_sweeping_at_once_split_the_due_wrap_ups_and_end_each_once(make_app, clock, postgres):
    url = postgres.new_database()
    parts = [get_parts(make_app(CONNECTOR_DATABASE_URL=url)) for _ in range(3)]
    services, sweepers = [p.service for p in parts], [p.sweeper for p in parts]
    agents = [f"agent{n:03}" for n in range(200)]
    _in_wrap_up(services[0], clock, agents)
    clock.advance(31)  # every wrap-up is due at the same moment
    seen: list[list[str]] = [[] for _ in services]
    for service, sweeper, mine in zip(services, sweepers, seen):
        sweeper.batch = 10  # small batches, so that every sweeping thread gets some
        _watch(service, mine)
    returned = [[] for _ in services]
    start = threading.Barrier(6)

    def sweep(n: int) -> None:
        start.wait()
        returned[n].append(sweepers[n].settle_due())

    threads = [threading.Thread(target=sweep, args=(n,)) for n in range(3) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    intervals, completed, states = _stored(services[0].store)
    assert all(intervals[a] == ["ready", "on-a-call", "wrap-up", "ready"] for a in agents)
    assert all(completed[a] == 1 for a in agents) and set(states.values()) == {"ready"}
    # each wrap-up was ended by one instance, and each instance's count is what it settled
    assert sorted(a for mine in seen for a in mine) == agents
    assert [sum(r) for r in returned] == [len(mine) for mine in seen]
    assert all(len(mine) > 0 for mine in seen), [len(mine) for mine in seen]  # the work was split
    assert [s.settle_due() for s in sweepers] == [0, 0, 0]


def test_a_session_another_transaction_holds_is_skipped_and_settled_by_the_next_sweep(make_app, clock, postgres):
    url = postgres.new_database()
    parts = get_parts(make_app(CONNECTOR_DATABASE_URL=url))
    service = parts.service
    _in_wrap_up(service, clock, ["held", "free"])
    clock.advance(31)
    other = create_engine(url)
    holder = other.connect()
    result: list[int] = []
    try:
        holder.execute(text("SELECT agent_id FROM agent_sessions WHERE agent_id = 'held' FOR UPDATE"))
        sweeper = threading.Thread(target=lambda: result.append(parts.sweeper.settle_due()))
        began = time.monotonic()
        sweeper.start()
        sweeper.join(5)
        waited = time.monotonic() - began
        assert not sweeper.is_alive(), "the sweep waited for the row lock"
        assert result == [1] and waited < 2
        _, _, states = _stored(service.store)
        assert states == {"held": "wrap-up", "free": "ready"}
    finally:
        holder.rollback()  # the lock goes (a sweep stuck behind it finishes)
        holder.close()
        other.dispose()
    assert parts.sweeper.settle_due() == 1
    intervals, completed, states = _stored(service.store)
    assert intervals["held"] == ["ready", "on-a-call", "wrap-up", "ready"] and completed["held"] == 1
    assert states == {"held": "ready", "free": "ready"}


def test_a_session_whose_rules_fail_does_not_stop_the_others(make_app, clock, monkeypatch):
    parts = get_parts(make_app())
    service = parts.service
    _in_wrap_up(service, clock, ["bad"])  # due first
    clock.advance(1)
    others = ["amira", "bo", "chen", "dee"]
    _in_wrap_up(service, clock, others)
    clock.advance(31)
    parts.sweeper.batch = 2  # three batches: the failed session is not claimed again by this sweep
    settle = Engine.settle

    def failing(self, session, now):
        if session.agent_id == "bad":
            raise RuntimeError("a broken rule")
        return settle(self, session, now)

    monkeypatch.setattr(Engine, "settle", failing)
    subscription = service.bus.subscribe()
    assert parts.sweeper.settle_due() == 4
    _, completed, states = _stored(service.store)
    assert states == {"bad": "wrap-up", **{a: "ready" for a in others}}
    # the streams heard of the four as the sweep returned (its batches committed, then woke them)
    heard = [e for e in iter(lambda: subscription.get(0.01), None) if e["event"] == "presence"]
    assert sorted(e["data"]["agent_id"] for e in heard) == others
    assert {e["data"]["state"]["id"] for e in heard} == {"ready"}
    assert parts.sweeper.settle_due() == 0  # tried again at each sweep
    monkeypatch.setattr(Engine, "settle", settle)
    assert parts.sweeper.settle_due() == 1
    intervals, completed, states = _stored(service.store)
    assert intervals["bad"] == ["ready", "on-a-call", "wrap-up", "ready"] and completed["bad"] == 1
    assert set(states.values()) == {"ready"}
