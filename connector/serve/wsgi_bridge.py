"""The Flask (WSGI) app behind uvicorn's event loop, with one thread hop per request.

a2wsgi's own bridge hands every message across threads separately (the request body, the response
start, each body chunk): three or more hand-offs per call, each a future and a wake-up of the loop,
all under the GIL. Here the loop reads the request body first (API bodies are small: Flask refuses
more than 1 MiB), one worker thread runs the app, and:
- an answer that says its length (every ordinary one) comes back whole and the loop writes it: one
  hand-off each way;
- an answer without a length (a streamed export) is sent chunk by chunk as the app yields it, from
  the worker thread, so an export never sits whole in memory.
A chunked request body is read the same way and handed over with its length (through a2wsgi Flask
read such a body as empty); a body declared longer than the limit is not read at all
and Flask answers 413 when the view asks for it.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from a2wsgi.wsgi import Body, build_environ

log = logging.getLogger(__name__)


def wsgi_environ(scope: Any, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an HTTP ``scope`` whose ``body`` is read already (a2wsgi builds it).

    a2wsgi types the environ as a TypedDict of the PEP 3333 keys, and its input as its own reader of the
    ASGI messages; here the environ is the plain dict WSGI says it is (it also carries the HTTP_* headers
    and our own keys), and ``wsgi.input`` only needs to be readable, as BytesIO is.
    """
    return cast("dict[str, Any]", build_environ(scope, cast(Body, io.BytesIO(body))))


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
        if name == b"transfer-encoding":
            return None
    return 0


class WsgiBridge:
    """An ASGI app serving a WSGI app on ``threads`` worker threads."""

    def __init__(self, app, threads: int = 32):
        self.app = app
        #: Flask's request size limit: the most a body is read before the app runs (required: without a
        #: limit a body would have to be buffered whatever its size)
        self.max_body = int(app.config["MAX_CONTENT_LENGTH"])
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False)

    async def __call__(self, scope, receive, send) -> None:
        body = await self.read_body(scope, receive)
        if body is not None:
            await self.serve(scope, body, send)

    async def read_body(self, scope, receive) -> bytes | None:
        """The request body, up to the limit; None when the client went away."""
        declared = _content_length(scope)
        body = bytearray()
        if declared is None or declared <= self.max_body:  # a longer one is refused by Flask unread (413)
            while len(body) <= self.max_body:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        return bytes(body)

    async def serve(self, scope, body: bytes, send) -> None:
        """The Flask app's answer to a request whose body is read."""
        declared = _content_length(scope)
        environ = wsgi_environ(scope, body)
        if declared is None:  # chunked: now a body of known length (over the limit: Flask answers 413)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(len(body))
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self.pool, self._run, environ, loop, send)
        except RuntimeError:  # the pool is shut down: the server is stopping
            return
        if answer is None:  # streamed from the worker thread, or the client went away
            return
        status, headers, content = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _run(self, environ: dict, loop: asyncio.AbstractEventLoop, send) -> tuple[int, list, bytes] | None:
        """In a worker thread: run the app; a response with a length comes back whole, any other is streamed."""
        started: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = int(status.split(" ", 1)[0]), headers
            return written.append  # PEP 3333's write(): nothing here uses it, but it must work

        result = self.app(environ, start_response)
        try:
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in started["headers"]]
            if any(name == b"content-length" for name, _ in headers):
                return started["status"], headers, b"".join(written) + b"".join(result)

            def out(message: dict) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            try:
                out({"type": "http.response.start", "status": started["status"], "headers": headers})
                for chunk in itertools.chain(written, result):  # as the app yields them
                    if chunk:
                        out({"type": "http.response.body", "body": chunk, "more_body": True})
                out({"type": "http.response.body", "body": b""})
            except (OSError, RuntimeError) as exc:  # the client went away mid-stream, or the loop is closing
                log.info("a streamed answer to %s ended early: %s", environ.get("PATH_INFO"), type(exc).__name__)
            return None
        finally:
            if hasattr(result, "close"):
                result.close()
