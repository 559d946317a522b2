"""Background jobs (APScheduler): timed presence rules and the scheduled log off.

Each job is idempotent and computes what is due from the store, so a missed or late run, or a
restart, changes nothing but the moment the work is done.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from .parts import get_parts

log = logging.getLogger(__name__)


def _guarded(name: str, fn):
    def run():
        try:
            fn()
        except Exception:  # a failing job must not kill the scheduler; the log says why
            log.exception("scheduled job %s failed", name)
    return run


def start(app) -> BackgroundScheduler:
    ext = get_parts(app)
    scheduler = BackgroundScheduler(timezone=ext.settings.timezone, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    scheduler.add_job(_guarded("timed-rules", ext.service.settle_due), "interval", seconds=1, id="timed-rules")
    scheduler.add_job(_guarded("scheduled-log-off", ext.service.scheduled_logoff), "interval", seconds=30,
                      id="scheduled-log-off")
    for job_id, fn, seconds in ext.jobs:
        scheduler.add_job(_guarded(job_id, fn), "interval", seconds=seconds, id=job_id)
    scheduler.start()
    log.info("scheduler started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    return scheduler
