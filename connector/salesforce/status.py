"""Sync health for admins: the same facts for ``sync status`` and ``GET /api/v1/sync/status``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from connector.clock import iso
from connector.salesforce.counters import parked_records
from connector.salesforce.flush import SalesforceSync
from connector.salesforce.pending import external_key
from connector.salesforce.state import sync_state
from connector.store.models import DailyTotal

NOT_CONFIGURED = "Salesforce not configured"
#: Salesforce is deprecating the OAuth username-password flow (help article 000886201)
PASSWORD_FLOW_NOTICE = (
    "the username-password flow is being deprecated by Salesforce: switch to JWT bearer "
    "(SF_PRIVATE_KEY_FILE) or client credentials on your My Domain login URL"
)


def sync_status(sync: SalesforceSync, parked_limit: int = 50) -> dict:
    """Last success, rows pending, parked rows with reasons, API usage, next attempt. No secrets."""
    settings = sync.settings
    if not settings.configured:
        return {
            "configured": False,
            "message": NOT_CONFIGURED,
            "detail": settings.problem,
            "totals": "kept in the local store only",
        }
    reads = sync.reads
    now = reads.clock()
    pending = sync.pending()
    with reads.store.read() as s:
        st = sync_state(s)
        parked_count = s.execute(
            select(func.count()).select_from(DailyTotal).where(DailyTotal.parked_reason.is_not(None))
        ).scalar_one()  # a count: always one row
        parked = (
            s.execute(
                select(DailyTotal)
                .where(DailyTotal.parked_reason.is_not(None))
                .order_by(DailyTotal.day.desc(), DailyTotal.agent_id)
                .limit(parked_limit)
            )
            .scalars()
            .all()
        )
        parked_rows: list[dict[str, Any]] = [
            {
                "key": external_key(t.agent_id, t.day, t.state_id),
                "agent_id": t.agent_id,
                "date": t.day.isoformat(),
                "state_id": t.state_id,
                "seconds": round(t.seconds),
                "reason": t.parked_reason,
            }
            for t in parked
        ]
    parked_counters, counter_rows = parked_records(reads, parked_limit)
    parked_rows = sorted(
        sorted(parked_rows + counter_rows, key=lambda r: r["agent_id"]), key=lambda r: r["date"], reverse=True
    )
    return {
        "configured": True,
        "message": _message(st, now),
        "connection": settings.describe(),
        "tracking_interval_seconds": sync.interval_seconds(),
        "last_success_at": iso(st.last_success_at),
        "last_attempt_at": iso(st.last_attempt_at),
        "next_attempt_at": iso(_later(st.next_attempt_at, st.paused_until, now)),
        "paused_until": iso(st.paused_until) if st.paused_until and st.paused_until > now else None,
        "consecutive_failures": st.failures or 0,
        "last_error": st.last_error,
        "last_error_at": iso(st.last_error_at),
        "rows_pending": len(pending),
        "rows_parked": parked_count + parked_counters,
        "parked": parked_rows[:parked_limit],
        "api_usage": (
            {"used": st.api_used, "limit": st.api_limit, "at": iso(st.api_usage_at)} if st.api_limit else None
        ),
        "api_calls_made": st.calls_made or 0,
        "records_written": st.records_written or 0,
        "retention": (
            {
                "days": settings.retention_days,
                "last_run_at": iso(st.retention_at),
                "records_deleted": st.retention_deleted or 0,
                "note": st.retention_note,
            }
            if settings.retention_days
            else None
        ),
        "notice": PASSWORD_FLOW_NOTICE if settings.auth_mode == "password" else None,
    }


def _later(a: datetime | None, b: datetime | None, now: datetime) -> datetime | None:
    """The next attempt when something holds the flush back; None means: on the next interval."""
    times = [t for t in (a, b) if t and t > now]
    return max(times) if times else None


def _message(st, now: datetime) -> str:
    if st.paused_until and st.paused_until > now:
        return f"API request limit reached (REQUEST_LIMIT_EXCEEDED): no calls until {iso(st.paused_until)}"
    if st.failures:
        return f"failing ({st.failures} in a row), retrying with backoff: {st.last_error}"
    if st.last_success_at is None:
        return "configured; nothing written yet"
    return "ok"


def status_text(status: dict) -> str:
    """The status as lines for the terminal."""
    if not status["configured"]:
        lines = [status["message"] + " — totals stay in the local store."]
        if status.get("detail"):
            lines.append(f"  ({status['detail']})")
        return "\n".join(lines)
    conn = status["connection"]
    usage = status["api_usage"]
    lines = [
        f"Salesforce sync: {status['message']}",
        f"  org              : {conn['login_url']} ({conn['auth_mode']}, API v{conn['api_version']}, "
        f"object {conn['object']} by {conn['external_id_field']})",
        f"  interval         : every {status['tracking_interval_seconds']} s",
        "  daily counters   : "
        + (
            ", ".join(f"{k} -> {v}" for k, v in conn["counter_fields"].items())
            or "not sent (SF_COUNTER_FIELDS not set)"
        )
        + (f" into {conn['counter_object']}" if conn["counter_fields"] else ""),
        f"  last success     : {status['last_success_at'] or 'never'}",
        f"  next attempt     : {status['next_attempt_at'] or 'on the next interval'}",
        f"  rows pending     : {status['rows_pending']}",
        f"  rows parked      : {status['rows_parked']}",
        "  API usage (org)  : " + (f"{usage['used']}/{usage['limit']} at {usage['at']}" if usage else "not known yet"),
    ]
    retention = status.get("retention")
    lines.append(
        "  retention        : "
        + (
            f"{retention['days']} days kept; last run {retention['last_run_at'] or 'not yet'}, "
            f"{retention['records_deleted']} records deleted" + (f" ({retention['note']})" if retention["note"] else "")
            if retention
            else "off (SF_RETENTION_DAYS not set): every record stays in the org"
        )
    )
    if status.get("notice"):
        lines.append(f"  notice           : {status['notice']}")
    if status["last_error"]:
        lines.append(f"  last error       : {status['last_error']} ({status['last_error_at']})")
    for row in status["parked"]:
        lines.append(f"    parked {row['key']}: {row['reason']}")
    return "\n".join(lines)
