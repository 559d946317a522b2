"""The WSGI bridge `serve` puts behind uvicorn (connector/serve/wsgi_bridge.py), on a real uvicorn server:
ordinary calls in one piece, streamed answers as they are produced, chunked and oversized bodies."""

from __future__ import annotations

import threading

import requests
from flask import Flask, Response, jsonify, request, stream_with_context

from connector.serve.wsgi_bridge import WsgiBridge
from tests.helpers.web_server import uvicorn_server


def served(app: Flask):
    return uvicorn_server(WsgiBridge(app, threads=4))


def make_app() -> tuple[Flask, threading.Event]:
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    first_chunk_read = threading.Event()

    @app.post("/echo")
    def echo():
        return jsonify(
            {"got": request.get_json()["text"], "length": request.content_length, "query": request.args.get("q")}
        )

    @app.get("/export")
    def export():
        def rows():
            yield "header\n"
            # the rest only once the client has the first line: a buffered answer would never get here
            if not first_chunk_read.wait(10):
                yield "TIMEOUT\n"
                return
            for i in range(3):
                yield f"row {i}\n"

        return Response(stream_with_context(rows()), mimetype="text/csv")

    @app.post("/upload")
    def upload():
        return jsonify({"bytes": len(request.get_data())})

    return app, first_chunk_read


def test_an_ordinary_call_gets_its_answer_with_status_headers_and_body():
    app, _ = make_app()
    with served(app) as base:
        r = requests.post(f"{base}/echo?q=1", json={"text": "grüße"}, timeout=5)
        missing = requests.get(f"{base}/nowhere", timeout=5)
        head = requests.head(f"{base}/nowhere", timeout=5)
    assert r.status_code == 200 and r.json() == {"got": "grüße", "length": len(r.request.body), "query": "1"}
    assert r.headers["Content-Type"] == "application/json"
    assert missing.status_code == 404 and head.status_code == 404 and head.content == b""


def test_an_answer_without_a_length_is_streamed_as_it_is_produced():
    app, first_chunk_read = make_app()
    with served(app) as base:
        with requests.get(f"{base}/export", stream=True, timeout=10) as r:
            lines = r.iter_lines()
            assert next(lines) == b"header"  # arrives before the rest exists
            first_chunk_read.set()
            rest = list(lines)
    assert rest == [b"row 0", b"row 1", b"row 2"]


def test_a_chunked_body_is_read_whole_and_a_body_over_the_limit_is_refused():
    app, _ = make_app()

    def chunks(*sizes: int):
        for size in sizes:
            yield b"a" * size

    with served(app) as base:
        chunked = requests.post(f"{base}/upload", data=chunks(1000, 2000), timeout=5)
        too_big = requests.post(f"{base}/upload", data=b"x" * (1024 * 1024 + 10), timeout=5)
        too_big_chunked = requests.post(f"{base}/upload", data=chunks(*[64 * 1024] * 17), timeout=5)
    assert chunked.status_code == 200 and chunked.json() == {"bytes": 3000}
    assert too_big.status_code == 413 and too_big_chunked.status_code == 413
