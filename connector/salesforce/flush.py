"""The flush: pending totals -> Salesforce, 200 records a call, each record's result checked.

Absolute totals are upserted by external id, so sending a total twice never double counts; a
total is marked written only after Salesforce accepted it, so a crash or restart resends and
never skips. Whole-call failures (5xx, timeouts, no connection, locked rows) are retried on the
next runs with capped exponential backoff; REQUEST_LIMIT_EXCEEDED pauses every call until the
next window; a record Salesforce rejects for its data is parked with the reason. With
``SF_COUNTER_FIELDS`` set, the counters records (see ``counters``) go to their own object
(``SF_COUNTER_OBJECT``) in calls after the totals'. With ``SF_RETENTION_DAYS`` set, a flush that went
well is followed (at most hourly) by the deletion of older records (``retention``), on the same lease.

The flush runs inside ``serve``, beside the changes it must not slow down (BENCHMARKS.md, Salesforce
sync): the pending totals are worked out in one SQL statement (``pending``), which SQLite runs without
Python's GIL; each call's JSON is built from plain tuples; after each step it idles PACE times the CPU
the step took; and what a call left in the store (results, API usage), like the lease and the
attempt's outcome, is written with plain statements in writes of at most MARK_ROWS records that share
their commit with the changes (``Store.write_shared``): the write lock is held for a statement or two
at a time, and the flush adds no commit of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select

from adapters.base import Job
from connector.jobs.leases import Leases
from connector.observe.logs import REQUEST_ID, job_id, request_id
from connector.reports.reads import ReadContext
from connector.salesforce import counters as counters_mod
from connector.salesforce import pending as pending_mod
from connector.salesforce import request_ids, retention
from connector.salesforce.connection import (
    LIMIT_CODE,
    RETRYABLE_CODES,
    Connection,
    LimitExceeded,
    SalesforceProblem,
    Unavailable,
)
from connector.salesforce.counters import PendingCounters
from connector.salesforce.pending import PendingTotal
from connector.salesforce.retention import RETENTION_EVERY, RETENTION_LEASE, RetentionReport
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.state import note_api_usage, record_attempt, sync_state
from connector.store.models import Agent

log = logging.getLogger(__name__)
BATCH_SIZE = 200  # the sObject Collections maximum
#: after each step (working out the pending records; each call with its write) the flush idles PACE times
#: the CPU time the step took, at least MIN_PAUSE s: the changes served by the same process get the GIL,
#: the cores and the write lock, and even flushes run back to back take at most 1 / (1 + PACE) of a core
PACE = 3.0
MIN_PAUSE = 0.002
#: results marked per write: the changes waiting behind the write lock wait for at most this many rows
MARK_ROWS = 50
FLUSH_LEASE = "salesforce-flush"
#: a flush that outlives this is taken to be dead (its instance killed) and another may start
FLUSH_HOLD_SECONDS = 600.0
Pending = PendingTotal | PendingCounters


@dataclass
class FlushReport:
    """What one flush did, in the words ``sync now`` prints."""

    configured: bool = True
    pending: int = 0
    calls: int = 0
    written: int = 0
    parked: int = 0
    retry_later: int = 0
    skipped: str = ""
    error: str = ""
    parked_reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.configured:
            return "Salesforce not configured: totals stay in the local store"
        if self.skipped:
            return self.skipped
        text = (
            f"{self.pending} totals pending, {self.calls} API calls: {self.written} written, "
            f"{self.parked} parked, {self.retry_later} to retry"
        )
        return text + (f"; error: {self.error}" if self.error else "")


class SalesforceSync:
    """Runs the flush on the tracking interval of the active presence configuration."""

    def __init__(
        self,
        reads: ReadContext,
        settings: SalesforceSettings,
        connection: Connection | None = None,
        leases: Leases | None = None,
        source: Callable[[], SalesforceSettings] | None = None,
    ):
        self.reads = reads
        #: one flush at a time across every instance and ``sync now`` (the lease ``salesforce-flush``)
        self.leases = leases or Leases(reads.store, reads.clock)
        self.settings = settings
        self.connection = connection or (Connection(settings, reads.clock) if settings.configured else None)
        #: the settings in force now (the connection saved on the admin page over SF_*; ``saved.source_of``),
        #: read again at the start of each flush; None: ``settings`` for good
        self.source = source
        self._last_tick: datetime | None = None
        self._last_refresh: datetime | None = None
        self._lock = threading.Lock()

    # -- the connection in force -------------------------------------------------------------------
    def use(self, settings: SalesforceSettings, wait_seconds: float = 30.0) -> bool:
        """Switch to ``settings`` without a restart, after the flush in progress (if any) ends.

        The existing connection object is kept and re-logs in with the new credentials at its next call,
        so whoever holds it (the adapters' SOQL queries) follows. Returns False when a flush did not end
        within ``wait_seconds``: the next flush reads the saved connection itself (``source``).
        """
        if not self._lock.acquire(timeout=wait_seconds):
            return False
        try:
            self._use(settings)
        finally:
            self._lock.release()
        return True

    def refresh(self, wait: bool = False) -> None:
        """Read the settings in force from ``source`` and switch to them if they changed."""
        if self.source is None or not self._lock.acquire(blocking=wait):
            return
        try:
            self._use(self.source())
        finally:
            self._lock.release()

    def _use(self, settings: SalesforceSettings) -> None:
        if settings == self.settings:
            return
        self.settings = settings
        if settings.configured:
            if self.connection is None:
                self.connection = Connection(settings, self.reads.clock)
            else:
                self.connection.use(settings)

    # -- the scheduled job -----------------------------------------------------------------------
    def job(self) -> Job:
        return Job("salesforce-flush", self.tick, 1)

    def interval_seconds(self) -> int:
        return self.reads.configs.active().options.tracking_interval_seconds

    def tick(self) -> FlushReport | None:
        """Called every second on every instance; one of them flushes once per tracking interval."""
        now = self.reads.clock()
        if not self.settings.configured:
            # a connection saved on the admin page of another instance: looked for once per interval
            due = self._last_refresh is None or (now - self._last_refresh).total_seconds() >= self.interval_seconds()
            if self.source is None or not due:
                return None
            self._last_refresh = now
            self.refresh()
            if not self.settings.configured:
                return None
        if self._last_tick is not None and (now - self._last_tick).total_seconds() < self.interval_seconds():
            return None
        # the lease row knows when any instance last flushed: the interval holds across the cluster
        if not self.leases.acquire(FLUSH_LEASE, FLUSH_HOLD_SECONDS, every=self.interval_seconds()):
            return None
        self._last_tick = now
        try:
            with request_id(job_id("salesforce-flush")):  # the run's log lines share an id (connector/observe/logs.py)
                report = self._flush(force=False, progress=None)
                if report.configured and not report.error and not report.skipped:
                    self._retention(every=RETENTION_EVERY)  # on the same lease: never beside a flush
            return report
        finally:
            self.leases.release(FLUSH_LEASE)

    # -- the retention (SF_RETENTION_DAYS) ---------------------------------------------------------
    def _retention(self, every: float) -> RetentionReport | None:
        """Delete the org's records older than SF_RETENTION_DAYS (``retention``), at most once per ``every``
        seconds across the cluster (its job lease); the caller holds the flush lease."""
        if not self.settings.retention_days or self.connection is None:
            return None
        now = self.reads.clock()
        with self.reads.store.read() as s:
            paused_until = sync_state(s).paused_until
        if paused_until and now < paused_until:  # REQUEST_LIMIT_EXCEEDED: the flush's pause holds it too
            return None
        if not self.leases.acquire(RETENTION_LEASE, FLUSH_HOLD_SECONDS, every=every):
            return None
        try:
            with self._lock:
                return retention.prune(self.connection, self.settings, self.reads.store, self.reads.today(), now)
        finally:
            self.leases.release(RETENTION_LEASE)

    def prune(self, wait_seconds: float = 30.0) -> RetentionReport | FlushReport:
        """Run the retention now (``sync prune``), under the flush lease; a FlushReport says why it did not."""
        self.refresh()
        if not self.settings.configured or self.connection is None:
            return FlushReport(configured=False)
        if not self.settings.retention_days:
            return RetentionReport()
        deadline = time.monotonic() + wait_seconds
        while not self.leases.acquire(FLUSH_LEASE, FLUSH_HOLD_SECONDS):
            if time.monotonic() >= deadline:
                holder = self.leases.holder_of(FLUSH_LEASE) or "another instance"
                return FlushReport(skipped=f"a flush is running on {holder}; nothing deleted, try again shortly")
            time.sleep(0.2)
        try:
            return self._retention(every=0.0) or FlushReport(skipped="the API-limit pause holds: nothing deleted")
        finally:
            self.leases.release(FLUSH_LEASE)

    # -- the flush ---------------------------------------------------------------------------------
    def flush(
        self, force: bool = False, progress: Callable[[int, int], None] | None = None, wait_seconds: float = 30.0
    ) -> FlushReport:
        """Send every pending total. ``force`` ignores the backoff (not the API-limit pause).

        Takes the flush lease first, so it never runs beside a server's flush (that would send what
        the org already has); waits up to ``wait_seconds`` for a running flush to end.
        """
        self.refresh()
        if not self.settings.configured or self.connection is None:
            return FlushReport(configured=False)
        deadline = time.monotonic() + wait_seconds
        while not self.leases.acquire(FLUSH_LEASE, FLUSH_HOLD_SECONDS):
            if time.monotonic() >= deadline:
                holder = self.leases.holder_of(FLUSH_LEASE) or "another instance"
                return FlushReport(skipped=f"a flush is running on {holder}; nothing sent, try again shortly")
            time.sleep(0.2)
        try:
            with request_id(None if REQUEST_ID.get() else job_id("salesforce-flush")):  # `sync now`: its own id
                return self._flush(force, progress)
        finally:
            self.leases.release(FLUSH_LEASE)

    def _flush(self, force: bool, progress: Callable[[int, int], None] | None) -> FlushReport:
        if not self.settings.configured or self.connection is None:
            return FlushReport(configured=False)
        with self._lock:
            if self.source is not None:  # the connection saved on the admin page, maybe on another instance
                self._use(self.source())
                if not self.settings.configured:
                    return FlushReport(configured=False)
            now = self.reads.clock()
            with self.reads.store.read() as s:
                st = sync_state(s)
                paused_until, next_attempt, since = st.paused_until, st.next_attempt_at, st.last_read_at
            if paused_until and now < paused_until:
                return FlushReport(skipped=f"paused after {LIMIT_CODE} until {paused_until.isoformat()}: no API calls")
            if not force and next_attempt and now < next_attempt:
                return FlushReport(skipped=f"waiting after a failure; next attempt at {next_attempt.isoformat()}")
            pause = _pacer()
            items = self.pending()
            report = FlushReport(pending=len(items))
            if items:
                pause()
                with self.reads.store.reader.connect() as conn:
                    zones = self.reads.zone_names(conn)
                self._send(items, report, progress, pause, _Window(since, now, zones))
            return report

    def pending(self) -> list[Pending]:
        """Every record Salesforce should get now: the totals, then the counters records when configured."""
        return [
            *pending_mod.pending_totals(self.reads),
            *counters_mod.pending_counters(self.reads, list(self.settings.counter_fields)),
        ]

    def _send(
        self,
        items: list[Pending],
        report: FlushReport,
        progress: Callable[[int, int], None] | None,
        pause: Callable[[], None],
        window: _Window,
    ) -> None:
        problem: SalesforceProblem | None = None
        failed: Mapping[str, list[str]] = {}
        retry_codes: set[str] = set()
        # a call upserts one object: the totals' batches, then the counters' (their own object)
        batches = [
            group[i : i + BATCH_SIZE]
            for kind in (PendingTotal, PendingCounters)
            for group in [[p for p in items if isinstance(p, kind)]]
            for i in range(0, len(group), BATCH_SIZE)
        ]
        for n, batch in enumerate(batches):
            changes = request_ids.Lazy(partial(self._changes_of, batch, window))
            try:
                results = self._upsert(batch, self._salesforce_users({p.agent_id for p in batch}))
            except SalesforceProblem as exc:
                problem, failed = exc, changes
                report.retry_later += sum(len(b) for b in batches[n:])
                self._store_outcome([])  # the API usage the failed call reported
                break
            report.calls += 1
            before = (report.written, report.parked, report.retry_later)
            self._store_outcome(self._outcome(batch, results, report, retry_codes, changes))
            after = (report.written, report.parked, report.retry_later)
            request_ids.log_call(log, batch, changes, self.object_of(batch[0]), [b - a for a, b in zip(before, after)])
            if progress:
                progress(len(batch), len(items))
            pause()  # after the last call too: a next flush may start right away
        if problem is None and retry_codes:
            code = LIMIT_CODE if LIMIT_CODE in retry_codes else sorted(retry_codes & RETRYABLE_CODES)[0]
            problem = (LimitExceeded if code == LIMIT_CODE else Unavailable)(
                f"{report.retry_later} records to retry: {code}"
            )
        self._record(report, problem, window.read_at, failed)

    def _changes_of(self, batch: list[Pending], window: _Window) -> dict[str, list[str]]:
        """The request ids of the changes behind each total of a call (``request_ids``; counters: none)."""
        totals = [p for p in batch if isinstance(p, PendingTotal)]
        if not totals:
            return {}
        with self.reads.store.reader.connect() as conn:
            return request_ids.of_totals(conn, totals, window.since, window.read_at, window.zones)

    def _store_outcome(self, outcome: list[tuple[Pending, str | None]]) -> None:
        """One call's results (written or parked) and the org's API usage, in writes of MARK_ROWS records that
        share their commit with the changes being written meanwhile (``Store.write_shared``): each holds the
        write lock for a statement or two, and none adds a commit of its own."""
        usage = self.connection.api_usage if self.connection else None
        now = self.reads.clock()
        pieces = [outcome[i : i + MARK_ROWS] for i in range(0, len(outcome), MARK_ROWS)] or [[]]
        for n, piece in enumerate(pieces):
            by_kind: dict[type, list[tuple[Pending, str | None]]] = {}
            for p, parked in piece:
                by_kind.setdefault(type(p), []).append((p, parked))
            last = n == len(pieces) - 1
            if not by_kind and not (last and usage is not None):
                continue

            def work(conn, by_kind=by_kind, last=last) -> None:
                for kind, done in by_kind.items():
                    kind.mark_results(conn, now, done)
                if last and usage is not None:
                    note_api_usage(conn, *usage)

            self.reads.store.write_shared(work)

    @staticmethod
    def _outcome(
        batch: list[Pending],
        results: list[dict],
        report: FlushReport,
        retry_codes: set[str],
        changes: Mapping[str, list[str]],
    ) -> list[tuple[Pending, str | None]]:
        """Each record's result: written (no reason), parked (the reason), or left out: pending for a retry."""
        outcome: list[tuple[Pending, str | None]] = []
        for p, result in zip(batch, results):
            if result.get("success"):
                outcome.append((p, None))
                report.written += 1
                continue
            errors = result.get("errors") or [{}]
            codes = {str(e.get("statusCode", "")) for e in errors}
            if codes & (RETRYABLE_CODES | {LIMIT_CODE}):
                retry_codes |= codes
                report.retry_later += 1
                continue
            reason = "; ".join(_reason(e) for e in errors)[:1000]
            outcome.append((p, reason))
            report.parked += 1
            report.parked_reasons.append(f"{p.key}: {reason}")
            named, extra = request_ids.named(changes.get(p.key, ()), request_ids.PER_RECORD)
            log.warning(
                "Salesforce rejected %s: %s (parked); changes: %s",
                p.key,
                reason,
                named,
                extra={"record": p.key, **extra},
            )
        return outcome

    def object_of(self, p: Pending) -> str:
        """The org object a record goes to: the time object, or the counters object (SF_COUNTER_OBJECT)."""
        return self.settings.counter_object if isinstance(p, PendingCounters) else self.settings.object_name

    def _upsert(self, batch: list[Pending], users: dict[str, str]) -> list[dict]:
        s = self.settings
        path = f"composite/sobjects/{self.object_of(batch[0])}/{s.fields['key']}"
        body = {"allOrNone": False, "records": [self.record(p, users.get(p.agent_id, "")) for p in batch]}
        assert self.connection is not None  # _flush returned before sending anything without one
        results = self.connection.call("PATCH", path, json=body)
        if not isinstance(results, list) or len(results) != len(batch) or not all(isinstance(r, dict) for r in results):
            raise Unavailable("Salesforce answered the upsert without one result per record")
        return results

    def record(self, p: Pending, salesforce_user_id: str = "") -> dict:
        """One record: a state's total (Presence_Time__c) or an agent-day's counters (Presence_Counters__c),
        with the configured field names."""
        f = self.settings.fields
        own, named = p.field_values(self.settings.counter_fields)
        values: dict = {"key": p.key, "agent": p.agent_id, "date": p.day.isoformat(), **own}
        if salesforce_user_id:
            values["user"] = salesforce_user_id
        record = {"attributes": {"type": self.object_of(p)}}
        record.update({f[name]: value for name, value in values.items() if name in f})
        record.update(named)
        return record

    def _salesforce_users(self, agent_ids: set[str]) -> dict[str, str]:
        with self.reads.store.reader.connect() as conn:
            return {
                aid: uid
                for aid, uid in conn.execute(
                    select(Agent.id, Agent.salesforce_user_id).where(Agent.id.in_(agent_ids))
                ).all()
                if uid
            }

    def _record(
        self,
        report: FlushReport,
        problem: SalesforceProblem | None,
        read_at: datetime | None = None,
        failed: Mapping[str, list[str]] | None = None,
    ) -> None:
        now = self.reads.clock()
        limit_pause = backoff = None
        if isinstance(problem, LimitExceeded):
            limit_pause = timedelta(seconds=self.settings.limit_pause_seconds)
        elif problem is not None:
            backoff = (self.interval_seconds(), self.settings.backoff_max_seconds)
        error = problem.message if problem is not None else None
        # shares its commit with the changes written meanwhile, as the results do (``_store_outcome``)
        self.reads.store.write_shared(
            lambda conn: record_attempt(
                conn, now, report.calls, report.written, error, limit_pause, backoff, read_at if report.calls else None
            )
        )
        if problem is not None:
            report.error = problem.message
            named, extra = request_ids.named(
                (rid for ids in (failed or {}).values() for rid in ids), request_ids.PER_LINE
            )
            log.warning(
                "Salesforce sync failed (%s): %s; changes of the call not sent: %s",
                problem.kind,
                problem.message,
                named,
                extra=extra,
            )

    # -- history -----------------------------------------------------------------------------------
    def resync(self, start: date, end: date, progress: Callable[[int, int], None] | None = None) -> FlushReport:
        """Send every total of [start, end] again (parked ones too), then flush now."""
        if not self.settings.configured:
            return FlushReport(configured=False)
        pending_mod.forget_synced(self.reads, start, end)
        counters_mod.forget_synced(self.reads, start, end)
        return self.flush(force=True, progress=progress)


@dataclass(frozen=True)
class _Window:
    """The changes a flush names: since the last flush without an error read its totals, up to this read."""

    since: datetime | None
    read_at: datetime
    #: the zones that end the agents' days (``ReadContext.zone_names``)
    zones: dict[str, ZoneInfo]


def _pacer() -> Callable[[], None]:
    """A pause that idles PACE times the CPU time this thread used since the last pause (or since now)."""
    mark = time.thread_time()

    def pause() -> None:
        nonlocal mark
        time.sleep(max(MIN_PAUSE, (time.thread_time() - mark) * PACE))
        mark = time.thread_time()

    return pause


def _reason(error: dict) -> str:
    fields = error.get("fields") or []
    where = f" ({', '.join(map(str, fields))})" if fields else ""
    return f"{error.get('statusCode', 'ERROR')}: {error.get('message', '')}{where}".strip()
