"""The API's one blueprint (/api/v1), shared on purpose by the resource modules that hang their routes on
it, and the request helpers they all use: the JSON body, the agent's view as the answer, where a change came from."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from connector.api.auth import signed_in_principal
from connector.api.inputs import change_source, check_fields
from connector.changes.service import PresenceService
from connector.errors import InvalidInput, MalformedRequest
from connector.live.subscriptions import Encoded
from connector.parts import get_parts
from connector.presence.engine import LogonSource

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def view_answer(view: dict) -> Response:
    """An agent's view as the answer; a view a change already encoded (for its live event) is not encoded again."""
    if isinstance(view, Encoded):
        return Response(view.json + "\n", mimetype="application/json")
    return jsonify(view)


def service() -> PresenceService:
    return get_parts().service


def body(allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """The JSON object of the request: 415 when not JSON, 400 when unreadable, 422 naming a bad field."""
    if not request.content_length and not request.data:
        data: dict = {}
    else:
        if not request.mimetype == "application/json":
            raise UnsupportedMediaType("send the body as JSON with 'Content-Type: application/json'")
        try:
            data = json.loads(request.get_data(cache=True) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise MalformedRequest("the body is not valid JSON", field="body") from None
        except RecursionError:
            raise MalformedRequest("the body is nested too deeply", field="body") from None
        if not isinstance(data, dict):
            raise MalformedRequest("the body must be a JSON object", field="body")
    return check_fields(data, allowed, required)


def change_source_of(data: dict) -> str:
    """Where a change came from, for the no-echo rule and the record."""
    return change_source(signed_in_principal(), data)


def logon_source_of(data: dict, default: str) -> str:
    value = data.get("logon_source", default)
    by_lower = {s.lower(): s for s in LogonSource.ALL}
    if not isinstance(value, str) or value.lower() not in by_lower:
        raise InvalidInput(f"logon_source must be one of: {', '.join(LogonSource.ALL)}", field="logon_source")
    return by_lower[value.lower()]


def grid_view() -> bool:
    """``view=grid``: only what the dashboard grid shows of each agent (its state by id)."""
    view = request.args.get("view", "full")
    if view not in ("full", "grid"):
        raise InvalidInput("view must be 'full' or 'grid'", field="view")
    return view == "grid"
