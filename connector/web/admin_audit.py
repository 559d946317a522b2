"""The admin page's Audit tab: the trail of admin and supervisor actions, filtered and paged, and its export.

``GET /admin/api/audit?actor=&action=&target=&from=&to=&offset=&limit=`` answers one page (newest first);
``GET /admin/audit.csv`` and ``/admin/audit.json`` answer every matching row (CSV cells neutralised as the
report exports are, connector/reports/exports.py). ``from``/``to`` are days in CONNECTOR_TIMEZONE, both included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, jsonify, request

from connector.audit import trail
from connector.errors import InvalidInput
from connector.parts import get_parts
from connector.reports import exports
from connector.reports.queries import parse_day
from connector.web.guard import page_role

bp = Blueprint("admin_audit", __name__, url_prefix="/admin")


def _text(name: str, limit: int = 200) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} must be at most {limit} characters", field=name)
    return value or None


def _whole(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _start_of(day: date) -> datetime:
    tz = get_parts().settings.tz
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def filters_from_request() -> trail.Filters:
    start = parse_day(request.args.get("from"), "from", None)
    end = parse_day(request.args.get("to"), "to", None)
    if start is not None and end is not None and end < start:
        raise InvalidInput("to must not be before from", field="to")
    return trail.Filters(
        actor=_text("actor"),
        action=trail.check_action(_text("action", 64)),
        target=_text("target"),
        since=_start_of(start) if start is not None else None,
        until=_start_of(end + timedelta(days=1)) if end is not None else None,
    )


@bp.get("/api/audit")
@page_role("admin")
def audit_page():
    filters = filters_from_request()
    answer = trail.page(
        get_parts().store,
        filters,
        limit=_whole("limit", 50, 1, trail.MAX_PAGE),
        offset=_whole("offset", 0, 0, 10_000_000),
    )
    return jsonify({**answer, "actions": trail.ACTIONS})


@bp.get("/audit.<fmt>")
@page_role("admin")
def audit_export(fmt: str):
    if fmt not in ("csv", "json"):
        raise InvalidInput("the export is audit.csv or audit.json", field="format")
    rows = trail.every(get_parts().store, filters_from_request())
    if fmt == "csv":
        text = exports.to_csv([trail.flat(r) for r in rows], trail.FIELDS)
        mimetype = "text/csv"
    else:
        text = exports.to_json(rows) + "\n"
        mimetype = "application/json"
    return Response(text, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename=audit.{fmt}"})
