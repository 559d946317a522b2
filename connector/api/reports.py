"""Reports: time per state, logon events, session time, counters and the state mix, as JSON or streamed CSV."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, jsonify, request, stream_with_context

from connector.api.auth import require, require_agent_access, signed_in_principal
from connector.api.common import bp
from connector.errors import InvalidInput
from connector.parts import get_parts
from connector.reports import exports
from connector.reports import queries as reports
from connector.serve import memory


def _day():
    """The ``date`` query parameter, today (in the configured time zone) when absent."""
    return reports.parse_day(request.args.get("date"), "date", get_parts().reads.today())


def _range():
    today = get_parts().reads.today()
    start = reports.parse_day(request.args.get("from"), "from", today)
    # without 'to': today, or a year from 'from' when today is further (a bare old 'from' is valid; session
    # time reads the day before 'from' as well, so a year is what every report can take)
    default_end = max(start, min(today, start + timedelta(days=reports.MAX_RANGE_DAYS - 1)))
    end = reports.parse_day(request.args.get("to"), "to", default_end)
    return start, end


def _wants_csv() -> bool:
    return (
        request.args.get("format") == "csv"
        or request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    )


@bp.get("/time-tracking")
@require()
def time_tracking():
    principal = signed_in_principal()
    start, end = _range()
    agent = request.args.get("agent") or None
    if principal.role == "agent":
        if agent not in (None, principal.agent_id):
            require_agent_access(agent)
        agent = principal.agent_id
    rows = reports.iter_time_tracking(get_parts().reads, start, end, agent_id=agent)
    if _wants_csv():
        return _big(
            Response(
                stream_with_context(exports.iter_csv(rows, reports.TIME_TRACKING_FIELDS)),
                mimetype="text/csv",
                headers={"Content-Disposition": f"attachment; filename=time-tracking-{start}-{end}.csv"},
            )
        )
    return _big(
        Response(
            stream_with_context(exports.iter_json({"from": start.isoformat(), "to": end.isoformat()}, "rows", rows)),
            mimetype="application/json",
        )
    )


def _big(response: Response) -> Response:
    """A big report's answer: when it is closed (a streamed one once its last chunk is written), the memory its
    rows took goes back to the system (connector/serve/memory.py)."""
    response.call_on_close(memory.give_back)
    return response


@bp.get("/logon-events")
@require("supervisor", "admin")
def logon_events():
    """Logon events: JSON in pages (``limit``, ``after`` = the previous page's ``next``), CSV complete."""
    start, end = _range()
    include = reports.parse_sources(request.args.getlist("include"), "include")
    exclude = reports.parse_sources(request.args.getlist("exclude"), "exclude")
    agent = request.args.get("agent") or None
    order = request.args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' (oldest first) or 'desc' (newest first)", field="order")
    ctx = get_parts().reads
    if _wants_csv():
        rows = reports.iter_logon_events(
            ctx, start, end, include, exclude, agent_id=agent, newest_first=order == "desc"
        )
        return _big(
            Response(
                stream_with_context(exports.iter_csv(rows, reports.LOGON_EVENT_FIELDS)),
                mimetype="text/csv",
                headers={"Content-Disposition": f"attachment; filename=logon-events-{start}-{end}.csv"},
            )
        )
    limit = _limit(request.args.get("limit"))
    events, next_cursor = reports.logon_events_page(
        ctx,
        start,
        end,
        include,
        exclude,
        agent_id=agent,
        after=request.args.get("after") or None,
        limit=limit,
        newest_first=order == "desc",
    )
    return jsonify({"from": start.isoformat(), "to": end.isoformat(), "events": events, "next": next_cursor})


def _limit(value: str | None) -> int:
    if value in (None, ""):
        return reports.LOGON_PAGE_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= reports.LOGON_PAGE_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {reports.LOGON_PAGE_MAX}", field="limit")
    return int(value)


@bp.get("/session-time")
@require("supervisor", "admin")
def session_time():
    start, end = _range()
    return _big(
        jsonify(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "rows": reports.session_time(get_parts().reads, start, end, request.args.get("agent") or None),
            }
        )
    )


@bp.get("/counters")
@require("supervisor", "admin")
def counters_for_day():
    """Today's (or ``date``'s) counters for every agent at once, for the dashboard."""
    day = _day()
    return jsonify({"date": day.isoformat(), "counters": reports.counters_for_day(get_parts().reads, day)})


@bp.get("/state-mix")
@require("supervisor", "admin")
def state_mix():
    """Seconds per state in each hour of a day, for all agents or one team."""
    day, team = _day(), request.args.get("team") or None
    return jsonify({"date": day.isoformat(), "team": team, "hours": reports.state_mix(get_parts().reads, day, team)})
