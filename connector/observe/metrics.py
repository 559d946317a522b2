"""Prometheus metrics (prometheus-client): what this process counted, and what the store holds now.

Two kinds, both on ``GET /metrics`` of every instance (README "Metrics"):

* **counted by the process** (module-level, as prometheus-client intends): requests by route, method and
  status with their latency (every request ``serve`` answers — the fast path, Flask, the event streams:
  connector/observe/http.py), presence changes by source and outcome, deliveries by adapter and outcome,
  store errors. Prometheus adds the instance label, and ``sum()`` across instances gives the cluster.
* **read from the store at scrape time** (:class:`StoreCollector`, one per app): the outbox per adapter
  (pending, parked, oldest pending age), who holds each job lease, the Salesforce flush (last success,
  records and calls, the org's API usage), sign-in failures and locked accounts, shared rate budgets
  (Microsoft Graph). Each is one small indexed query, so a scrape costs the same with 2,000 streams open
  (bench/metrics_bench.py, BENCHMARKS.md "Metrics"). Every instance reports the same store values: alert
  rules use ``max()`` over them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import bindparam, case, func, select

from connector.store.models import (
    Base,
    BudgetSpend,
    JobLease,
    OutboxRow,
    SignInFailure,
    SignInThrottle,
    UTCDateTime,
)
from connector.store.statements import Prepared
from connector.version import __version__

log = logging.getLogger(__name__)

#: the classic text format every Prometheus version reads (what ``generate_latest`` writes)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: the process's own metrics (one registry per process, whatever number of apps a test builds)
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

BUILD = Gauge("connector_build_info", "The running release (value 1)", ["version"], registry=REGISTRY)
BUILD.labels(version=__version__).set(1)

HTTP_REQUESTS = Counter(
    "connector_http_requests",
    "Requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "connector_http_request_duration_seconds",
    "Time from the request to the end of the answer, by route template and method (event streams excluded)",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
CHANGES = Counter(
    "connector_presence_changes",
    "Presence state changes recorded, by who asked (softphone, api, pbx, teams, omni-channel, system ...) and "
    "outcome (changed; refused: the request was turned down)",
    ["source", "outcome"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "connector_deliveries",
    "Outbox deliveries to adapters, by adapter and outcome (delivered, retry, parked)",
    ["adapter", "outcome"],
    registry=REGISTRY,
)
CREDENTIALS_REFUSED = Counter(
    "connector_adapter_credentials_refused",
    "Credentials a remote refused for good (e.g. Teams' delegated refresh token: invalid_grant), by adapter and "
    "credential (the setting's name); the adapter parks what needs it until a new one is saved",
    ["adapter", "credential"],
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "connector_store_errors",
    "Requests answered 503 because the store failed, by fault code (busy, unavailable, ...)",
    ["code"],
    registry=REGISTRY,
)


def changed(source: str, count: int = 1) -> None:
    CHANGES.labels(source=source or "unknown", outcome="changed").inc(count)


def refused(source: str) -> None:
    CHANGES.labels(source=source or "unknown", outcome="refused").inc()


def delivered(adapter: str, outcome: str) -> None:
    DELIVERIES.labels(adapter=adapter, outcome=outcome).inc()


def credential_refused(adapter: str, credential: str) -> None:
    CREDENTIALS_REFUSED.labels(adapter=adapter, credential=credential).inc()


def store_error(code: str) -> None:
    STORE_ERRORS.labels(code=code).inc()


def request_done(route: str, method: str, status: int, seconds: float | None) -> None:
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    if seconds is not None:
        HTTP_LATENCY.labels(route=route, method=method).observe(seconds)


_WAITING = OutboxRow.next_attempt_at.is_not(None)
#: the store's gauges, each one statement compiled once (statements.Prepared: SQLAlchemy's per-execution work
#: costs more than these indexed reads themselves)
_OUTBOX = Prepared(
    select(
        OutboxRow.adapter,
        func.count(case((_WAITING, 1))).label("waiting"),
        func.count(case((OutboxRow.next_attempt_at.is_(None), 1))).label("parked"),
        func.min(case((_WAITING, OutboxRow.created_at))).label("oldest"),
    )
    .where(OutboxRow.delivered_at.is_(None), OutboxRow.superseded.is_(False))
    .group_by(OutboxRow.adapter)
)
_LEASES = Prepared(select(JobLease.name, JobLease.holder, JobLease.lease_until, JobLease.acquired_at))
_FAILURES = Prepared(
    select(SignInFailure.outcome, func.count().label("count"))
    .where(SignInFailure.at > bindparam("since", type_=UTCDateTime))
    .group_by(SignInFailure.outcome)
)
_LOCKED = Prepared(
    select(func.count().label("count")).where(
        SignInThrottle.locked.is_(True),
        SignInThrottle.locked_until.is_(None) | (SignInThrottle.locked_until > bindparam("now", type_=UTCDateTime)),
    )
)
_BUDGETS = Prepared(
    select(BudgetSpend.budget, func.sum(BudgetSpend.calls).label("calls"))
    .where(BudgetSpend.at > bindparam("since", type_=UTCDateTime))
    .group_by(BudgetSpend.budget)
)
_SALESFORCE: list[Prepared] = []


def _salesforce_statement() -> Prepared | None:
    """The Salesforce sync's state row (connector/salesforce/state.py), found by its table's name so this module
    stays below the Salesforce package; None when that table is not part of the store."""
    if not _SALESFORCE:
        table = Base.metadata.tables.get("salesforce_sync_state")
        if table is None:
            return None
        _SALESFORCE.append(Prepared(select(table).where(table.c.id == 1)))
    return _SALESFORCE[0]


class StoreCollector(Collector):
    """Gauges read from the store when Prometheus scrapes (``parts`` of one app)."""

    def __init__(self, parts, stream_count: Callable[[], int]):
        self.parts = parts
        self.stream_count = stream_count

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: never while registering

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        store, now = self.parts.store, self.parts.clock()
        failed = GaugeMetricFamily(
            "connector_metrics_store_read_failed", "1 when the last scrape could not read the store"
        )
        try:
            with store.quick_read() as conn:
                found = [
                    *self._outbox(conn, now),
                    *self._leases(conn, now),
                    *self._sign_in(conn, now),
                    *self._budgets(conn, now),
                    *self._salesforce(conn, now),
                ]
            yield from found
            failed.add_metric([], 0)
        except Exception as exc:  # a scrape must still answer, with what the process knows
            log.warning("metrics: reading the store failed: %s", type(exc).__name__)
            failed.add_metric([], 1)
        yield failed
        streams = GaugeMetricFamily("connector_open_streams", "Event streams open on this instance now")
        streams.add_metric([], self.stream_count())
        yield streams
        took = GaugeMetricFamily("connector_metrics_scrape_seconds", "Time the store gauges of this scrape took")
        took.add_metric([], time.perf_counter() - started)
        yield took

    def _outbox(self, conn, now) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "connector_outbox_pending", "Outbox rows waiting for delivery, by adapter", labels=["adapter"]
        )
        parked = GaugeMetricFamily(
            "connector_outbox_parked",
            "Outbox rows refused for good (parked with a reason), by adapter",
            labels=["adapter"],
        )
        oldest = GaugeMetricFamily(
            "connector_outbox_oldest_pending_age_seconds",
            "Age of the oldest row waiting for delivery, by adapter (0: none waiting)",
            labels=["adapter"],
        )
        seen = set()
        for adapter, waiting_count, parked_count, first in _OUTBOX.run(conn, {}):
            seen.add(adapter)
            pending.add_metric([adapter], waiting_count)
            parked.add_metric([adapter], parked_count)
            oldest.add_metric([adapter], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)
        for adapter in sorted(set(self.parts.dispatcher.adapters) - seen):  # enabled, all delivered: zeros
            pending.add_metric([adapter], 0)
            parked.add_metric([adapter], 0)
            oldest.add_metric([adapter], 0.0)
        yield from (pending, parked, oldest)

    def _leases(self, conn, now) -> Iterator[Metric]:
        held = GaugeMetricFamily(
            "connector_job_lease_held",
            "1 for the instance holding a job's lease now, 0 for the last holder of a lease that lapsed or was released",
            labels=["job", "holder"],
        )
        acquired = GaugeMetricFamily(
            "connector_job_lease_acquired_timestamp_seconds",
            "When the job's lease was last taken (Unix time), with the instance that took it",
            labels=["job", "holder"],
        )
        for name, holder, until, at in _LEASES.run(conn, {}):
            if holder is None:
                continue
            held.add_metric([name, holder], 1 if until is not None and until > now else 0)
            if at is not None:
                acquired.add_metric([name, holder], at.timestamp())
        yield from (held, acquired)

    def _sign_in(self, conn, now) -> Iterator[Metric]:
        failures = GaugeMetricFamily(
            "connector_sign_in_failures_last_hour",
            "Failed or refused sign-ins in the last hour, by outcome",
            labels=["outcome"],
        )
        for outcome, count in _FAILURES.run(conn, {"since": now - timedelta(hours=1)}):
            failures.add_metric([outcome], count)
        locked = GaugeMetricFamily("connector_locked_accounts", "Accounts an admin locked (until unlocked or expiry)")
        locked.add_metric([], _LOCKED.run(conn, {"now": now})[0][0] or 0)
        yield from (failures, locked)

    def _budgets(self, conn, now) -> Iterator[Metric]:
        used = GaugeMetricFamily(
            "connector_rate_budget_calls_last_30s",
            "Calls drawn from a rate budget shared by the instances in the last 30 s (Microsoft Graph: 1,500)",
            labels=["budget"],
        )
        for budget, calls in _BUDGETS.run(conn, {"since": now - timedelta(seconds=30)}):
            used.add_metric([budget], calls or 0)
        yield used

    def _salesforce(self, conn, now) -> Iterator[Metric]:
        statement = _salesforce_statement()
        rows = statement.run(conn, {}) if statement is not None else []
        if not rows:
            return
        state = rows[0]
        last = GaugeMetricFamily(
            "connector_salesforce_last_success_timestamp_seconds", "When a flush last succeeded (Unix time)"
        )
        lag = GaugeMetricFamily(
            "connector_salesforce_flush_lag_seconds", "Seconds since a flush last succeeded (absent: never)"
        )
        if state.last_success_at is not None:
            last.add_metric([], state.last_success_at.timestamp())
            lag.add_metric([], max(0.0, (now - state.last_success_at).total_seconds()))
        records = GaugeMetricFamily(
            "connector_salesforce_records_written", "Records the flush has written to Salesforce (all instances)"
        )
        records.add_metric([], state.records_written or 0)
        calls = GaugeMetricFamily("connector_salesforce_api_calls", "API calls the flush has made (all instances)")
        calls.add_metric([], state.calls_made or 0)
        failures = GaugeMetricFamily(
            "connector_salesforce_failures", "Flushes failed in a row (0: the last one worked)"
        )
        failures.add_metric([], state.failures or 0)
        paused = GaugeMetricFamily(
            "connector_salesforce_paused", "1 while the flush pauses after the org's API limit was reached"
        )
        paused.add_metric([], 1 if state.paused_until is not None and state.paused_until > now else 0)
        used = GaugeMetricFamily("connector_salesforce_api_requests_used", "The org's API requests used (last seen)")
        limit = GaugeMetricFamily("connector_salesforce_api_requests_limit", "The org's daily API request limit")
        if state.api_used is not None and state.api_limit:
            used.add_metric([], state.api_used)
            limit.add_metric([], state.api_limit)
        yield from (last, lag, records, calls, failures, paused, used, limit)


def exposition(app_registry: CollectorRegistry) -> bytes:
    """The text Prometheus reads: the process's metrics, then the app's store gauges."""
    return generate_latest(REGISTRY) + generate_latest(app_registry)
