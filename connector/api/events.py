"""GET /api/v1/events: Server-Sent Events of presence and logon changes.

One stream serves a whole page. An agent's stream carries only that agent's events (and
``config`` events: a new presence configuration was applied). On connect the stream starts with a
``snapshot`` of the agents the caller may see (its ``id`` is the last event it covers), so a client
that reconnects is in step again without a second request.

A client that sends ``Last-Event-ID`` (the header, or ``?lastEventId=`` since a new ``EventSource``
cannot set headers) gets the events it missed from the store instead of a snapshot; when they can no
longer be replayed (older than the retention window) it gets ``resync`` and then a fresh snapshot.

Under ``serve`` the stream itself is written by the asyncio front (connector/serve/asgi.py): this view
authenticates, takes a slot of the per-principal cap, subscribes and builds the opening, then hands
it over (``connector.stream`` in the WSGI environ) and is done; the opening is dropped once sent. Under
any other WSGI server the view streams from a thread as before.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Response, request, stream_with_context

from connector.api.auth import require, signed_in_principal, stream_ends, stream_until
from connector.api.common import bp, grid_view
from connector.auth.accounts import still_enabled
from connector.errors import Unauthorized
from connector.live.bus import CREDENTIAL_ENDED
from connector.live.subscriptions import AsyncSubscription, Subscription, format_event
from connector.parts import Parts, get_parts

KEEPALIVE_SECONDS = 15
#: more missed events than this are not replayed: a snapshot is cheaper
MAX_REPLAY = 2000
#: the all-agents snapshot is shared by streams opening within this many seconds of each other
SNAPSHOT_REUSE_SECONDS = 1.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: WSGI environ keys shared with connector/serve/asgi.py
LOOP_KEY = "connector.event_loop"
STREAM_KEY = "connector.stream"


RESYNC_OVERFLOW = format_event("resync", {"reason": "too many events; read the snapshot again"})


@dataclass
class StreamStart:
    """What a stream sends first, and what it then listens to."""

    opening: bytes
    subscription: Subscription | AsyncSubscription
    #: an agent's stream: only this agent's events (and config)
    only: str | None
    #: the last event id the opening covers; live events up to it are not sent again
    last_id: int
    #: the credential keys whose end (a ``credential_ended`` event) ends the stream
    ends: frozenset[str] = frozenset()
    #: when the credential expires (``time.monotonic()``); the stream ends then
    deadline: float | None = None

    def ended_by(self, item: dict) -> bool:
        """Whether this live event says the stream's credential no longer holds."""
        return item["event"] == CREDENTIAL_ENDED and not self.ends.isdisjoint(item["data"].get("ends") or ())

    def wait(self, keepalive: float) -> float | None:
        """How long to wait for the next event; None when the credential has expired."""
        if self.deadline is None:
            return keepalive
        left = self.deadline - time.monotonic()
        return None if left <= 0 else min(keepalive, left)


def select_event(item: dict, only: str | None, last_id: int) -> bool:
    """Whether a live event goes to this stream (never an internal ``credential_ended``)."""
    if item["id"] <= last_id or item["event"] == CREDENTIAL_ENDED:
        return False
    if only and item["event"] != "config" and item["agent"] != only:
        return False
    return True


class _SnapshotCache:
    """The all-agents snapshot, built once for a crowd of streams opening together (a shift, a restart)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: int | None = None
        self.at = 0.0
        self.text = ""

    def get(self, parts: Parts, watermark: int, grid: bool) -> str:
        with self.lock:
            if self.key == watermark and time.monotonic() - self.at < SNAPSHOT_REUSE_SECONDS:
                return self.text
            read = parts.service.agent_grid if grid else parts.service.agents
            text = json.dumps({"agents": read(None)}, separators=(",", ":"))
            self.key, self.at, self.text = watermark, time.monotonic(), text
            return text


_snapshots: weakref.WeakKeyDictionary[object, dict[bool, _SnapshotCache]] = weakref.WeakKeyDictionary()
_snapshots_lock = threading.Lock()


def _snapshot(parts: Parts, only: str | None, watermark: int, grid: bool) -> str:
    """All agents the caller may see; ``grid``: only what the dashboard grid shows (view=grid)."""
    if only is not None:
        read = parts.service.agent_grid if grid else parts.service.agents
        return format_event("snapshot", {"agents": read([only])}, watermark)
    with _snapshots_lock:
        cache = _snapshots.setdefault(parts.service, {}).setdefault(grid, _SnapshotCache())
    return f"id: {watermark}\nevent: snapshot\ndata: {cache.get(parts, watermark, grid)}\n\n"


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if raw is None or not raw.strip().isdigit():
        return None  # an id this server never sent: start afresh with a snapshot
    return int(raw)


def _opening(
    parts: Parts, only: str | None, resume_from: int | None, after: int, grid: bool = False
) -> tuple[str, int]:
    """The first bytes of a stream and the last event id they cover."""
    chunks = ["retry: 2000\n\n"]
    if resume_from is not None:
        missed = parts.bus.replay(resume_from, after, only, MAX_REPLAY)
        if missed is not None:
            chunks += [
                format_event(e["event"], e["data"], e["id"]) for e in missed if select_event(e, only, resume_from)
            ]
            return "".join(chunks), max(after, resume_from)
        chunks.append(
            format_event(
                "resync", {"reason": "the events since your last one are no longer kept; here is a fresh snapshot"}
            )
        )
    chunks.append(_snapshot(parts, only, after, grid))
    return "".join(chunks), after


@bp.get("/events")
@require()
def events():
    parts = get_parts()
    principal = signed_in_principal()
    only = principal.agent_id if principal.role == "agent" else None
    if only is not None and not still_enabled(parts.store, only, with_pin=True):
        raise Unauthorized("this agent is disabled", field="Authorization")
    ends, until = stream_ends(), stream_until()
    deadline = None
    if until is not None:
        deadline = time.monotonic() + (until - parts.clock()).total_seconds()
    loop = request.environ.get(LOOP_KEY)
    # before the opening, so nothing falls between the two; counts against the principal's cap
    subscription = parts.bus.subscribe(loop=loop, principal=principal.name, only=only)
    try:
        opening, last_id = _opening(parts, only, _last_event_id(), subscription.after, grid_view())
    except BaseException:
        subscription.close()
        raise
    start = StreamStart(opening.encode(), subscription, only, last_id, ends, deadline)
    if loop is not None:
        request.environ[STREAM_KEY] = start
        return Response(b"", mimetype="text/event-stream", headers=HEADERS)
    return Response(stream_with_context(_thread_stream(start)), mimetype="text/event-stream", headers=HEADERS)


def _thread_stream(start: StreamStart) -> Iterator[bytes]:
    subscription = start.subscription
    assert isinstance(subscription, Subscription)  # subscribed without an event loop (see events())
    try:
        opening, start.opening = start.opening, b""
        yield opening
        del opening
        last_id = start.last_id
        while True:
            wait = start.wait(KEEPALIVE_SECONDS)
            if wait is None:
                return  # the credential expired
            item = subscription.get(timeout=wait)
            if item is not None and start.ended_by(item):
                return
            if subscription.overflowed:
                subscription.overflowed = False
                yield RESYNC_OVERFLOW.encode()
            if item is None:
                if start.wait(KEEPALIVE_SECONDS) is not None:
                    yield b": keepalive\n\n"
                continue
            if select_event(item, start.only, last_id):
                last_id = item["id"]
                yield item["sse"].encode()
    finally:
        subscription.close()
