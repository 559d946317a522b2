"""Work several instances share: the flush runs once per interval across them, ``sync now`` never runs
beside it, a timed rule fires once, and a rate budget is one budget (SQLite here; PostgreSQL too, see
test_postgres)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from connector.auth import accounts
from connector.jobs.leases import Leases
from connector.parts import get_parts
from connector.salesforce.flush import FLUSH_LEASE
from connector.store.models import DailyTotal, JobLease, OutboxRow, StateInterval
from tests.helpers.adapter_doubles import Recorder
from tests.helpers.fakes.salesforce import SF_ENV, add_totals


def _together(fns) -> None:
    threads = [threading.Thread(target=fn) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def test_three_instances_flush_once_per_interval_between_them(make_app, clock, org):
    apps = [make_app(**SF_ENV) for _ in range(3)]  # three instances: each its own parts and lease holder
    parts = get_parts(apps[0])
    add_totals(parts, agents=2, states=("ready",))
    syncs = [get_parts(app).salesforce for app in apps]
    assert len({s.leases.holder for s in syncs}) == 3
    for _minute in range(5):  # a tick a second on every instance for five tracking intervals (60 s)
        for _ in range(60):
            _together([s.tick for s in syncs])
            clock.advance(1)
        with parts.store.write() as s:
            for total in s.execute(select(DailyTotal)).scalars():
                total.seconds += 5  # something new to send each interval
    assert len(org.upsert_calls()) == 5
    with parts.store.read() as s:
        assert s.get(JobLease, FLUSH_LEASE).acquisitions == 5


def test_sync_now_does_not_flush_beside_a_running_flush(make_app, org):
    app = make_app(**SF_ENV)
    parts = get_parts(app)
    add_totals(parts, agents=1, states=("ready",))
    server = Leases(parts.store, parts.clock, holder="server-1")
    assert server.acquire(FLUSH_LEASE, 600)  # the server is flushing right now
    report = parts.salesforce.flush(force=True, wait_seconds=0.3)
    assert report.skipped == "a flush is running on server-1; nothing sent, try again shortly"
    assert org.upsert_calls() == []
    server.release(FLUSH_LEASE)
    assert parts.salesforce.flush(force=True).written == 1


def test_a_lapsed_job_lease_is_taken_over_and_a_live_one_is_not(make_app, clock):
    parts = get_parts(make_app())
    first, second = Leases(parts.store, clock, "a"), Leases(parts.store, clock, "b")
    assert first.acquire("job:omni", hold=10, every=5)
    assert not second.acquire("job:omni", hold=10, every=5)  # a live lease
    clock.advance(11)  # "a" died without releasing
    assert second.acquire("job:omni", hold=10, every=5)
    second.release("job:omni")
    clock.advance(1)
    assert not first.acquire("job:omni", hold=10, every=5)  # ran 1 s ago somewhere in the cluster


def test_a_wrap_up_swept_by_two_instances_at_once_ends_once(make_app, clock):
    rec = Recorder()
    apps = [make_app(ADAPTERS=[rec]), make_app(ADAPTERS=[Recorder()])]
    parts = get_parts(apps[0])
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred"}, clock())
    service = parts.service
    service.login("edred", "Softphone", "browser")
    service.call_event("edred", "c1", "started", "inbound")
    service.call_event("edred", "c1", "ended", "inbound", 30)
    clock.advance(31)  # the default wrap-up (30 s) is due
    _together([get_parts(app).sweeper.settle_due for app in apps for _ in range(3)])
    with parts.store.read() as s:
        states = [iv.state_id for iv in s.execute(select(StateInterval).order_by(StateInterval.id)).scalars()]
        outbox = [
            r.payload["state"]["id"]
            for r in s.execute(select(OutboxRow).where(OutboxRow.adapter == rec.name).order_by(OutboxRow.id)).scalars()
        ]
    assert states == ["ready", "on-a-call", "wrap-up", "ready"]
    assert outbox == ["ready", "on-a-call", "wrap-up", "ready"]


def test_a_rate_budget_is_shared_by_the_instances(make_app, clock):
    hosts = [get_parts(make_app()).dispatcher.host for _ in range(2)]
    assert hosts[0].spend("graph", 3, 30, 4).granted
    refused = hosts[1].spend("graph", 2, 30, 4)
    assert (refused.granted, refused.used, refused.retry_after) == (False, 3, 30.0)
    assert hosts[1].spend("graph", 1, 30, 4).granted
    clock.advance(30)
    assert hosts[1].spend("graph", 0, 30, 4).used == 0
    hosts[0].remember("asterisk_ami:expected:PJSIP/3000", [["1", "Break", 1.0]], ttl=30)
    assert hosts[1].recall("asterisk_ami:expected:PJSIP/3000") == [["1", "Break", 1.0]]
    clock.advance(31)
    assert hosts[1].recall("asterisk_ami:expected:PJSIP/3000") is None
