"""The admin page's list of the org's Omni-Channel statuses, for the presence-state mapping.

``GET /admin/api/omni-channel/statuses`` reads ``ServicePresenceStatus`` through the shared Salesforce
connection (SF_* settings), cached for five minutes (``?refresh=1`` reads again). When Salesforce is
not configured, or the query fails, the answer says so and the editor keeps a free-text field.
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, jsonify, request

from adapters.base import AdapterError
from connector.integrations.host import salesforce_query_of
from connector.parts import get_parts
from connector.web.guard import page_role

bp = Blueprint("admin_omni", __name__, url_prefix="/admin")
CACHE_SECONDS = 300.0
SOQL = "SELECT Id, DeveloperName, MasterLabel FROM ServicePresenceStatus ORDER BY MasterLabel"

_cache: dict[int, tuple[float, list[dict]]] = {}
_lock = threading.Lock()


@bp.get("/api/omni-channel/statuses")
@page_role("admin")
def omni_statuses():
    sync = get_parts().salesforce
    query = salesforce_query_of(sync.connection) if sync.settings.configured else None
    if query is None:
        return jsonify({"configured": False, "statuses": [], "error": None})
    key = id(sync)
    with _lock:
        cached = _cache.get(key)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS and request.args.get("refresh") != "1":
        return jsonify({"configured": True, "statuses": cached[1], "error": None})
    try:
        rows = query(SOQL)
    except AdapterError as exc:
        return jsonify({"configured": True, "statuses": [], "error": str(exc)})
    statuses = [
        {"id": r.get("Id"), "developer_name": r.get("DeveloperName"), "label": r.get("MasterLabel")}
        for r in rows
        if r.get("DeveloperName")
    ]
    with _lock:
        _cache[key] = (time.monotonic(), statuses)
    return jsonify({"configured": True, "statuses": statuses, "error": None})
