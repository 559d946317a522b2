"""What ``serve`` runs: one asyncio server (uvicorn) in front of the Flask app, on one port.

Why this machinery: an open event stream is a long wait, not work. Waitress gave each one a worker
thread (32 of them: 32 open pages starved the API). Here the streams are coroutines on uvicorn's event
loop — a few kilobytes each, thousands per process — while every other request goes to the unchanged
Flask (WSGI) app on a pool of threads (connector/serve/wsgi_bridge.py, a2wsgi underneath), so the SQLAlchemy
store, APScheduler and the dispatcher threads keep running as real threads, exactly as tested. gevent's monkey patching was the
other candidate; it would turn those threads, SQLite's blocking calls and psycopg's sockets into
greenlets on one hub, a change to all of the code that is hard to test from the suite.

``GET /api/v1/events`` still goes through Flask first (authentication, the per-principal cap, the
snapshot or the replay), on a small pool of its own so a reconnect storm queues there and not in
front of the API; the view hands the opened stream over (``connector.api.events.STREAM_KEY``) and
this module writes it from the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

from connector.api.events import KEEPALIVE_SECONDS, LOOP_KEY, RESYNC_OVERFLOW, STREAM_KEY, StreamStart, select_event
from connector.live.subscriptions import AsyncSubscription
from connector.observe.http import Observed
from connector.parts import get_parts
from connector.serve.fast_path import FastPresence
from connector.serve.wsgi_bridge import WsgiBridge, wsgi_environ

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events"
#: threads that open streams (authenticate, snapshot); separate from the API's
OPENING_THREADS = 4
#: when ``serve`` stops, each open stream is told to reconnect after a delay drawn from this range
#: (milliseconds; an SSE ``retry:``), so a shift's pages do not all reach the other instances at once
SHUTDOWN_RETRY_MS = (500, 3000)


class ConnectorAsgi:
    """The ASGI application ``serve`` gives uvicorn."""

    def __init__(self, app: Flask, threads: int = 32):
        self.app = app
        self.wsgi = WsgiBridge(app, threads)
        self.fast = FastPresence(app)
        self.openers = ThreadPoolExecutor(max_workers=OPENING_THREADS, thread_name_prefix="stream-open")
        # every request: its id, its metrics and its access-log line (connector/observe/http.py)
        self.observed = Observed(
            self._route, app, get_parts(app).settings.value("CONNECTOR_ACCESS_LOG"), stream_path=EVENTS_PATH
        )
        #: the open event streams (in the loop's thread only)
        self.streams: set[AsyncSubscription] = set()
        self.stopping = False

    def stop_streams(self) -> int:
        """``serve`` is stopping (in the loop's thread): every open stream is told to reconnect (an SSE
        ``retry:``) and closed, and a stream opened from now on is closed the same way; returns how many."""
        self.stopping = True
        for subscription in list(self.streams):
            subscription.end()
        return len(self.streams)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.observed(scope, receive, send)

    async def _route(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == EVENTS_PATH and scope["method"] == "GET":
            await self._events(scope, receive, send)
        elif scope["type"] == "http" and (plain := FastPresence.candidate(scope)) is not None:
            await self._presence(scope, plain, receive, send)
        else:
            await self.wsgi(scope, receive, send)

    async def _presence(self, scope, plain: tuple[str, str], receive, send) -> None:
        """A presence change: answered by the fast path when it is the plain case, by Flask otherwise."""
        body = await self.wsgi.read_body(scope, receive)
        if body is None:
            return
        try:
            # in the request's context (its request id: the outbox rows and log lines of the change carry it)
            context = contextvars.copy_context()
            answer = await asyncio.get_running_loop().run_in_executor(
                self.wsgi.pool, context.run, self.fast.answer, *plain, body
            )
        except RuntimeError:  # the pool is shut down: the server is stopping
            return
        if answer is None:
            await self.wsgi.serve(scope, body, send)
            return
        status, headers, content = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                get_parts(self.app).bus.start()  # live events reach this instance's streams from now on
                tune_gc()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                get_parts(self.app).bus.stop()
                self.openers.shutdown(wait=False)
                self.wsgi.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _events(self, scope, receive, send) -> None:
        loop = asyncio.get_running_loop()
        environ = wsgi_environ(scope, b"")
        environ[LOOP_KEY] = loop
        answer: dict[str, Any] = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), headers

        def run_view() -> bytes:
            body = self.app(environ, start_response)
            try:
                return b"".join(body)
            finally:
                if hasattr(body, "close"):
                    body.close()

        try:
            body = await loop.run_in_executor(self.openers, run_view)
        except RuntimeError:  # the pool is shut down: the server is stopping
            return
        start: StreamStart | None = environ.pop(STREAM_KEY, None)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer["headers"]]
        if start is None:  # refused (401, 503, ...): Flask's answer as it is
            await send({"type": "http.response.start", "status": answer["status"], "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        headers = [h for h in headers if h[0] != b"content-length"]
        await _stream(start, answer["status"], headers, receive, send, self)


def tune_gc() -> None:
    """Thousands of open streams are thousands of long-lived objects: collect the young generation
    less often and keep what start-up built out of the collector's walks (a full collection over a big
    heap holds the GIL, so every API thread waits for it). ``serve`` does this once started; the
    benchmarks that run the app in process call it too, to measure what ``serve`` runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def reconnect_later() -> bytes:
    """What a stream gets when ``serve`` stops: reconnect (to another instance) after a short random delay."""
    return f": the server is stopping\nretry: {random.randint(*SHUTDOWN_RETRY_MS)}\n\n".encode()


async def _stream(start: StreamStart, status: int, headers: list, receive, send, server: ConnectorAsgi) -> None:
    subscription = start.subscription
    assert isinstance(subscription, AsyncSubscription)  # subscribed with the loop (LOOP_KEY) by the events view
    server.streams.add(subscription)
    if server.stopping:  # opened while the server stops: told to reconnect at once
        subscription.end()

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        subscription.end()

    watcher = asyncio.ensure_future(watch_disconnect())
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        opening, start.opening = start.opening, b""
        await send({"type": "http.response.body", "body": opening, "more_body": True})
        del opening  # the snapshot is not kept while the stream waits
        last_id = start.last_id
        while True:
            wait = start.wait(KEEPALIVE_SECONDS)
            if wait is None:  # the credential expired: the client reconnects and is asked for a valid one
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            item = await subscription.get(wait)
            if item is subscription.CLOSED:
                if server.stopping:
                    await send({"type": "http.response.body", "body": reconnect_later(), "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            chunks = []
            if subscription.overflowed:
                subscription.overflowed = False
                chunks.append(RESYNC_OVERFLOW)
            if item is None and start.wait(KEEPALIVE_SECONDS) is not None:
                chunks.append(": keepalive\n\n")
            # everything already queued goes out in one write
            while item is not None:
                if item is subscription.CLOSED:
                    if server.stopping:  # what was queued first, then the reconnect
                        body = "".join(chunks).encode() + reconnect_later()
                        await send({"type": "http.response.body", "body": body, "more_body": True})
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if start.ended_by(item):  # the credential was revoked: end the response
                    if chunks:
                        await send({"type": "http.response.body", "body": "".join(chunks).encode(), "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if select_event(item, start.only, last_id):
                    last_id = item["id"]
                    chunks.append(item["sse"])
                item = subscription.queue.get_nowait() if not subscription.queue.empty() else None
            if chunks:
                await send({"type": "http.response.body", "body": "".join(chunks).encode(), "more_body": True})
    except OSError:  # the client went away mid-write
        return
    except asyncio.CancelledError:  # the server is stopping: the page reconnects to the next one
        return
    finally:
        server.streams.discard(subscription)
        watcher.cancel()
        subscription.close()
