"""The supervisors' live dashboard and the wallboard."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from connector.parts import get_parts
from connector.presence.engine import LogonSource
from connector.web.guard import page_role

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.get("")
@page_role("supervisor", "admin")
def page():
    service = get_parts().service
    today = service.clock().astimezone(service.settings.tz).date().isoformat()
    return render_template("dashboard.html", logon_sources=LogonSource.ALL, today=today)


@bp.get("/wallboard")
@page_role("supervisor", "admin")
def wallboard():
    """``?team=Sales`` shows one team (a TV per team)."""
    return render_template("wallboard.html", team=(request.args.get("team") or "")[:100])
