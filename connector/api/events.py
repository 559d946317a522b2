"""GET /api/v1/events: Server-Sent Events of presence and logon changes.

One stream serves a whole page. An agent's stream carries only that agent's events (and
``config`` events: a new presence configuration was applied). On connect
the stream starts with a ``snapshot`` of the agents the caller may see, so a client that
reconnects is in step again without a second request.
"""
from __future__ import annotations

import json

from flask import Response, stream_with_context

from .auth import current_principal, require
from .routes import _grid_view, bp
from ..parts import get_parts

KEEPALIVE_SECONDS = 15


def _format(event: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@bp.get("/events")
@require()
def events():
    ext = get_parts()
    principal = current_principal()
    only = principal.agent_id if principal.role == "agent" else None
    grid = _grid_view()
    subscription = ext.bus.subscribe()  # before the snapshot, so nothing falls between the two
    try:
        snapshot = (ext.service.agent_grid if grid else ext.service.agents)([only] if only else None)
    except BaseException:
        subscription.close()
        raise

    def stream():
        try:
            yield "retry: 2000\n\n"
            yield _format("snapshot", {"agents": snapshot})
            while True:
                item = subscription.get(timeout=KEEPALIVE_SECONDS)
                if subscription.overflowed:
                    subscription.overflowed = False
                    yield _format("resync", {"reason": "too many events; read the snapshot again"})
                if item is None:
                    yield ": keepalive\n\n"
                    continue
                if only and item["event"] != "config" and \
                        item["data"].get("agent_id", item["data"].get("id")) != only:
                    continue
                yield _format(item["event"], item["data"], item["id"])
        finally:
            subscription.close()

    return Response(stream_with_context(stream()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
