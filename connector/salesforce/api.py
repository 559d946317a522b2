"""``GET /api/v1/sync/status``: the Salesforce sync health as JSON (admin role)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from connector.api.auth import require
from connector.api.openapi import describe
from connector.parts import get_parts
from connector.salesforce.status import sync_status

bp = Blueprint("salesforce", __name__, url_prefix="/api/v1/sync")


@bp.get("/status")
@require("admin")
def status():
    return jsonify(sync_status(get_parts().salesforce))


describe(
    "/api/v1/sync/status",
    "get",
    "Salesforce sync health: last success, rows pending, parked rows with reasons, API usage, next attempt",
    "admin",
)
