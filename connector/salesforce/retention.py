"""Rows kept in the org bounded (``SF_RETENTION_DAYS``): older records deleted in batches, on the flush's budget.

Off by default. When set, at most once per RETENTION_EVERY seconds across the cluster (the job lease
``salesforce-retention``, taken while the flush lease is held, so it never runs beside a flush or ``sync
now``), the connector asks the org for the ids of the records whose date field (``SF_FIELD_DATE``) is
before today minus ``SF_RETENTION_DAYS`` days (one SOQL query, up to QUERY_LIMIT ids) and deletes them
with sObject Collections (``DELETE /composite/sobjects?ids=...&allOrNone=false``, up to 200 ids a call),
in the time object and in the counters object. It goes through the flush's connection and its rules:
no call while the API-limit pause holds (``REQUEST_LIMIT_EXCEEDED`` pauses both), every call counted
in ``api_calls_made``, and it stops for the day's budget once the org's own usage (``Sforce-Limit-Info``,
its 24-hour API limit) reaches ``SF_RETENTION_API_PERCENT`` of the limit, leaving the rest to the flush.
At most MAX_CALLS calls a run; what remains goes in the next runs.

Only the org's records are deleted: the local store keeps its totals (reports read them there).

Salesforce documentation followed: "sObject Collections: Delete Records" (REST API Developer Guide,
``DELETE /services/data/vXX.X/composite/sobjects?ids=...&allOrNone=false``, up to 200 ids) and
"Query" (``GET /services/data/vXX.X/query?q=...``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, update
from sqlalchemy.engine import Connection as DbConnection

from connector.salesforce.connection import Connection, LimitExceeded, SalesforceProblem
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.state import SalesforceSyncState, note_api_usage, record_attempt
from connector.store import Store

log = logging.getLogger(__name__)
RETENTION_LEASE = "salesforce-retention"
#: how often the retention runs (any instance); a run with nothing to delete costs one query per object
RETENTION_EVERY = 3600.0
QUERY_LIMIT = 2000
DELETE_BATCH = 200  # the sObject Collections maximum
#: calls one run may make at most (queries and deletes): the rest waits for the next run
MAX_CALLS = 40


@dataclass
class RetentionReport:
    """What one run did."""

    cutoff: date | None = None
    calls: int = 0
    deleted: int = 0
    failed: int = 0
    stopped: str = ""
    #: the call that failed (the run stopped on it), empty when none did
    error: str = ""
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.cutoff is None:
            return "retention off (SF_RETENTION_DAYS not set)"
        text = f"records dated before {self.cutoff}: {self.deleted} deleted, {self.failed} not deleted, {self.calls} API calls"
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


def cutoff_day(today: date, days: int) -> date:
    """Records dated before this day are deleted (``days`` whole days are kept, today included)."""
    return today - timedelta(days=days - 1)


def objects_to_prune(settings: SalesforceSettings) -> list[str]:
    """The org objects whose records carry the date field: the time object, and the counters object when
    counters are sent."""
    objects = [settings.object_name]
    if settings.counter_fields and settings.counter_object not in objects:
        objects.append(settings.counter_object)
    return objects


def prune(
    connection: Connection, settings: SalesforceSettings, store: Store, today: date, now: datetime
) -> RetentionReport:
    """Delete the org's records dated before the cutoff, within the budget; the outcome goes on the sync state."""
    report = RetentionReport(cutoff=cutoff_day(today, settings.retention_days))
    date_field = settings.fields["date"]  # SF_RETENTION_DAYS is refused when SF_FIELD_DATE is '-'
    problem: SalesforceProblem | None = None
    try:
        for object_name in objects_to_prune(settings):
            if not _prune_object(connection, settings, object_name, date_field, report):
                break
    except SalesforceProblem as exc:
        problem = exc
        report.stopped = report.error = exc.message
        log.warning("Salesforce retention stopped (%s): %s", exc.kind, exc.message)
    usage = connection.api_usage

    def work(conn: DbConnection) -> None:
        _note(conn, now, report)
        if usage is not None:
            note_api_usage(conn, *usage)
        if isinstance(problem, LimitExceeded):  # the flush's pause too: one budget
            record_attempt(conn, now, 0, 0, problem.message, pause=timedelta(seconds=settings.limit_pause_seconds))

    store.write_shared(work)
    if report.deleted or report.failed:
        log.info("Salesforce retention: %s", report.summary())
    return report


def _within_budget(connection: Connection, settings: SalesforceSettings, report: RetentionReport) -> bool:
    if report.calls >= MAX_CALLS:
        report.stopped = report.stopped or f"{MAX_CALLS} calls made this run; the rest in the next run"
        return False
    usage = connection.api_usage
    if usage is not None and usage[1] and usage[0] * 100 >= usage[1] * settings.retention_api_percent:
        report.stopped = (
            f"the org's API usage is {usage[0]}/{usage[1]}, at or above SF_RETENTION_API_PERCENT "
            f"({settings.retention_api_percent:g} %); the rest is left to the flush"
        )
        return False
    return True


def _prune_object(
    connection: Connection, settings: SalesforceSettings, object_name: str, date_field: str, report: RetentionReport
) -> bool:
    """Delete ``object_name``'s old records; False when the budget ran out (stop the run)."""
    failed_ids: set[str] = set()
    assert report.cutoff is not None
    soql = (
        f"SELECT Id FROM {object_name} WHERE {date_field} < {report.cutoff.isoformat()} "
        f"ORDER BY {date_field} LIMIT {QUERY_LIMIT}"
    )
    while True:
        if not _within_budget(connection, settings, report):
            return False
        answer = connection.call("GET", "query", params={"q": soql})
        report.calls += 1
        ids = [r["Id"] for r in (answer or {}).get("records", []) if isinstance(r, dict) and r.get("Id")]
        ids = [i for i in ids if i not in failed_ids]
        if not ids:
            return True
        for start in range(0, len(ids), DELETE_BATCH):
            if not _within_budget(connection, settings, report):
                return False
            batch = ids[start : start + DELETE_BATCH]
            results = connection.call(
                "DELETE", "composite/sobjects", params={"ids": ",".join(batch), "allOrNone": "false"}
            )
            report.calls += 1
            for record_id, result in zip(batch, results if isinstance(results, list) else []):
                if isinstance(result, dict) and result.get("success"):
                    report.deleted += 1
                    continue
                errors = (result.get("errors") if isinstance(result, dict) else None) or [{}]
                # already gone (deleted by someone else) is what we wanted
                if any(str(e.get("statusCode")) == "ENTITY_IS_DELETED" for e in errors):
                    report.deleted += 1
                    continue
                failed_ids.add(record_id)
                report.failed += 1
                reason = "; ".join(f"{e.get('statusCode', 'ERROR')}: {e.get('message', '')}" for e in errors)
                if len(report.reasons) < 20:
                    report.reasons.append(f"{object_name} {record_id}: {reason}"[:300])
        if len(ids) < QUERY_LIMIT and not failed_ids:
            return True


def _note(conn: DbConnection, now: datetime, report: RetentionReport) -> None:
    """The run's outcome on the sync state row: calls counted with the flush's, what was deleted and why it
    stopped (plain statements on ``conn``)."""
    st = SalesforceSyncState.__table__
    values = {
        "calls_made": func.coalesce(st.c.calls_made, 0) + report.calls,
        "retention_at": now,
        "retention_deleted": func.coalesce(st.c.retention_deleted, 0) + report.deleted,
        "retention_note": (report.stopped or ("; ".join(report.reasons[:3]) if report.failed else None)),
    }
    if not conn.execute(update(st).where(st.c.id == 1).values(**values)).rowcount:
        conn.execute(insert(st).values(id=1, failures=0, calls_made=0, records_written=0))
        conn.execute(update(st).where(st.c.id == 1).values(**values))
