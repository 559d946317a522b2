"""Background jobs (APScheduler): timed presence rules and the scheduled log off.

Each job is idempotent and computes what is due from the store, so a missed or late run, or a
restart, changes nothing but the moment the work is done.

With several ``serve`` instances on one database, periodic jobs run under a lease row
(:mod:`connector.jobs.leases`): exactly one instance runs each tick. The Salesforce flush takes its own
lease (``sync now`` takes the same one). The 1 s timed-rule sweep runs on every instance and claims
the sessions it settles (:mod:`connector.changes.sweep`): on PostgreSQL a batch of due sessions is locked with
``SELECT ... FOR UPDATE SKIP LOCKED`` in the transaction that settles them, so the instances share the
due sessions between them, never settle one at the same time, and a settled session is no longer due
once its batch commits: no rule fires twice.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from connector.parts import get_parts
from connector.upkeep.retention import Retention

log = logging.getLogger(__name__)


def _guarded(name: str, fn):
    def run():
        try:
            fn()
        except Exception:  # a failing job must not kill the scheduler; the log says why
            log.exception("scheduled job %s failed", name)

    return run


#: the longest one run of the retention job may take; what is left waits for the next run
RETENTION_BUDGET = 600.0
#: jobs that take their own lease (the flush: ``sync now`` must take the same one)
SELF_LEASED = {"salesforce-flush"}


def _leased(leases, name: str, fn, seconds: float):
    """``fn`` run by one instance of the cluster per tick of ``seconds``."""

    def run():
        leases.run(f"job:{name}", fn, hold=max(60.0, 4 * seconds), every=0.8 * seconds)

    return run


def start(app) -> BackgroundScheduler:
    parts = get_parts(app)
    scheduler = BackgroundScheduler(
        timezone=parts.settings.timezone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    )
    scheduler.add_job(_guarded("timed-rules", parts.sweeper.settle_due), "interval", seconds=1, id="timed-rules")
    leases = parts.leases
    scheduler.add_job(
        _guarded("scheduled-log-off", _leased(leases, "scheduled-log-off", parts.service.scheduled_logoff, 30)),
        "interval",
        seconds=30,
        id="scheduled-log-off",
    )
    # the purge of rows past their retention (connector/upkeep/retention.py): small batches, at most
    # RETENTION_BUDGET seconds a run, one instance of the cluster per interval
    retention = Retention(parts.store, parts.settings, parts.clock)
    every = int(parts.settings.value("CONNECTOR_RETENTION_INTERVAL"))
    scheduler.add_job(
        _guarded("retention", _leased(leases, "retention", lambda: retention.run(RETENTION_BUDGET), every)),
        "interval",
        seconds=every,
        id="retention",
    )
    for job_id, fn, seconds in parts.jobs:
        run = fn if job_id in SELF_LEASED else _leased(leases, job_id, fn, seconds)
        scheduler.add_job(_guarded(job_id, run), "interval", seconds=seconds, id=job_id)
    scheduler.start()
    log.info("scheduler started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    return scheduler
