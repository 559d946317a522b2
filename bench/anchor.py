"""The anchor for the API benchmark: the least a durable state change can cost through Flask.

A tiny Flask app whose one endpoint, ``PUT /agents/<id>/presence``, does only the minimal durable
write: in one SQLite WAL transaction (``BEGIN IMMEDIATE``, ``synchronous=FULL``, like the store),
close the agent's open interval and insert the new one, with an index on the open-interval lookup.
No authentication, no engine, no totals, no session row, no outbox. It is served the same way as
``presence-connector serve`` serves the app (uvicorn, the WSGI app on 32 worker threads through connector/serve/wsgi_bridge.py) and queues writers on a
process-wide lock the same way, so ``bench/api_bench.py`` can put the app's rate next to it in one
run.

    .venv/bin/python bench/anchor.py --db /tmp/anchor.db --agents 1000 --port 5099
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, abort, jsonify, request

SCHEMA = """
CREATE TABLE IF NOT EXISTS intervals (
    id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, state_id TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT);
CREATE INDEX IF NOT EXISTS ix_intervals_open ON intervals (agent_id) WHERE ended_at IS NULL;
"""


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def prepare(path: str, agents: int) -> None:
    conn = connect(path)
    conn.executescript(SCHEMA)
    now = datetime.now(UTC).isoformat()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO intervals (agent_id, state_id, started_at) VALUES (?, 'ready', ?)",
        [(f"agent{i:05d}", now) for i in range(agents)],
    )
    conn.execute("COMMIT")
    conn.close()


def create_anchor_app(path: str) -> Flask:
    app = Flask("anchor")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # as the app's
    local = threading.local()
    write_lock = threading.Lock()  # one writer at a time, as connector/store/database.py does

    def conn() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = connect(path)
        return local.conn

    @app.put("/agents/<agent_id>/presence")
    def put_presence(agent_id: str):
        data = json.loads(request.get_data() or b"{}")
        state = data.get("state")
        if not isinstance(state, str):
            abort(422)
        now = datetime.now(UTC).isoformat()
        c = conn()
        with write_lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("UPDATE intervals SET ended_at = ? WHERE agent_id = ? AND ended_at IS NULL", (now, agent_id))
                c.execute(
                    "INSERT INTO intervals (agent_id, state_id, started_at) VALUES (?, ?, ?)", (agent_id, state, now)
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return jsonify({"id": agent_id, "state": state, "since": now})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--port", type=int, default=5099)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--prepare", action="store_true", help="create the table and the agents' open intervals")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.db, args.agents)
    # served as `presence-connector serve` serves the app: uvicorn, the WSGI app on worker threads through
    # the same bridge (connector/serve/wsgi_bridge.py)
    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from connector.serve.wsgi_bridge import WsgiBridge

    uvicorn.run(
        WsgiBridge(create_anchor_app(args.db), threads=args.threads),
        host="127.0.0.1",
        port=args.port,
        http="httptools",
        loop="asyncio",
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
