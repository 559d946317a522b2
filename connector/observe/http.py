"""The ASGI layer ``serve`` puts in front of everything (connector/serve/asgi.py): per request an id, a
metric and an access-log line.

* **Request id:** the client's ``X-Request-Id`` when it is safe (connector/observe/logs.py), else a new
  one; the request is passed on with that id (so Flask and the fast path see the same one) and the answer
  carries it back in ``X-Request-Id``.
* **Metrics:** ``connector_http_requests_total`` and the latency histogram by route *template*
  (``/api/v1/agents/<agent_id>/presence``, never the agent's id) — the fast path, Flask and the event
  streams alike, as all go through here. An event stream counts once, when it ends, and stays out of the
  latency histogram (its length is the client's).
* **Access log:** one line per request on the ``connector.access`` logger: method, path, the query with
  every token-like value replaced by ``***`` (``stream_token``, ``code`` ...), status, latency. Headers are
  never logged (no Authorization, no Cookie).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from connector.observe import metrics
from connector.observe.logs import ACCESS, REQUEST_ID, accepted_id, safe_query

_HEADER = b"x-request-id"
#: the route label of a request no route matches (so a scanner cannot make one label per URL it tries)
UNMATCHED = "(unmatched)"
#: (method, path) -> route remembered at most (an agent's presence path is one entry per agent)
ROUTE_CACHE = 20_000


class Observed:
    """Wraps the ASGI app ``inner`` serving the Flask app ``app``."""

    def __init__(self, inner: Any, app: Flask, access_log: bool, stream_path: str):
        self.inner = inner
        self.routes = app.url_map.bind("localhost")
        self._routes: dict[tuple[str, str], str] = {}
        self.access_log = access_log
        self.stream_path = stream_path

    def route(self, path: str, method: str) -> str:
        """The route template a request matched (bounded label values); remembered per method and path."""
        key = (method, path)
        found = self._routes.get(key)
        if found is None:
            if len(self._routes) >= ROUTE_CACHE:
                self._routes.clear()  # a scan of many paths: start again rather than grow
            found = self._routes[key] = self._match(path, method)
        return found

    def _match(self, path: str, method: str) -> str:
        try:
            rule, _ = self.routes.match(path, method=method, return_rule=True)
        except RequestRedirect:
            return UNMATCHED
        except HTTPException:
            return UNMATCHED
        return rule.rule

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        sent = next((v for k, v in scope["headers"] if k == _HEADER), None)
        rid = accepted_id(sent)
        rid_header = (_HEADER, rid.encode("latin-1"))
        scope = {**scope, "headers": [h for h in scope["headers"] if h[0] != _HEADER] + [rid_header]}
        started = time.perf_counter()
        status = 0

        async def observed_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0] != _HEADER]
                message = {**message, "headers": [*headers, rid_header]}
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.inner(scope, receive, observed_send)
        finally:
            REQUEST_ID.reset(token)
            self._done(scope, rid, status, time.perf_counter() - started)

    def _done(self, scope, rid: str, status: int, seconds: float) -> None:
        method, path = scope["method"], scope["path"]
        route = self.route(path, method)
        stream = path == self.stream_path and status == 200
        metrics.request_done(route, method, status, None if stream else seconds)
        if self.access_log and ACCESS.isEnabledFor(logging.INFO):
            query = safe_query(scope.get("query_string", b""))
            client = (scope.get("client") or ("", 0))[0]
            ACCESS.info(
                "%s %s%s %s %.1f ms",
                method,
                path,
                f"?{query}" if query else "",
                status,
                seconds * 1000,
                extra={
                    "request_id": rid,
                    "method": method,
                    "path": path,
                    "query": query,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "client": client,
                },
            )


def init_app(app: Flask) -> None:
    """Flask's side: the request id of every request (from ``serve``'s layer above, or made here when Flask
    runs alone: tests, another WSGI server) is set while the view runs and returned in ``X-Request-Id``."""

    @app.before_request
    def _request_id() -> None:
        g.request_id_token = REQUEST_ID.set(accepted_id(request.headers.get("X-Request-Id")))

    @app.after_request
    def _request_id_header(response):
        rid = REQUEST_ID.get()
        if rid is not None:
            response.headers["X-Request-Id"] = rid
        return response

    @app.teardown_request
    def _request_id_reset(exc=None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            REQUEST_ID.reset(token)
