"""Reports and the dashboard's first snapshot at history scale, through HTTP, with the server's memory.

Fills a store with ``bench/history.py`` (1,000 agents x 30 days: ~800,000 intervals, ~160,000
daily totals, 61,000 logon events), serves it with `presence-connector serve` (scheduler off, so
only the measured requests run) and times each report (median of 3), then reads the server's
resident memory. A second store with 10,000 agents (1 day of history, all mid-state) serves the
dashboard's first requests: GET /api/v1/agents and the snapshot of GET /api/v1/events, each in the
full agent views and in the grid view the dashboard asks for (``view=grid``).

    make bench    # or: .venv/bin/python bench/reports_bench.py [--agents 1000 --days 30 --big 10000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.helpers.ports import free_port  # noqa: E402


def build(tmp: str, agents: int, days: int) -> tuple[dict, str, object]:
    """A store with history; returns (env for the server, supervisor token, today)."""
    from history import generate

    env = {
        "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/presence.db",
        "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
        "CONNECTOR_PRESENCE_CONFIG": "default",
        "CONNECTOR_SCHEDULER": "off",
    }
    os.environ.update(env)
    from connector import create_app
    from connector.auth import accounts
    from connector.parts import get_parts

    app = create_app()
    parts = get_parts(app)
    started = time.perf_counter()
    counts = generate(parts.store, parts.settings.tz, agents, days, parts.clock())
    print(f"  history {counts} written in {time.perf_counter() - started:.1f} s", flush=True)
    token = accounts.create_token(parts.store, "supervisor", parts.clock(), name="bench")
    today = parts.clock().astimezone(parts.settings.tz).date()
    parts.store.dispose()
    return env, token, today


class Server:
    def __init__(self, env: dict):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli.main", "serve", "--port", str(self.port)],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                self.get("/healthz", {})
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def get(self, path: str, headers: dict, first_event: bool = False) -> tuple[int, int, float]:
        """(status, bytes, seconds); for an event stream, up to the end of its first event."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if first_event:
            body = b""
            while body.count(b"\n\n") < 2:  # the retry line, then the snapshot
                chunk = resp.read1(65536)
                if not chunk:
                    break
                body += chunk
        else:
            body = resp.read()
        elapsed = time.perf_counter() - t0
        conn.close()
        return resp.status, len(body), elapsed

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def timed(server: Server, name: str, path: str, headers: dict, first_event: bool = False) -> dict:
    runs = [server.get(path, headers, first_event) for _ in range(3)]
    assert all(r[0] == 200 for r in runs), (name, runs[0])
    return {"name": name, "ms": statistics.median(r[2] for r in runs) * 1000, "kb": runs[-1][1] / 1024}


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    print("| request | ms (median of 3) | response KB |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['ms']:.0f} | {r['kb']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--big", type=int, default=10000, help="agents for the dashboard snapshot")
    args = parser.parse_args()

    print(f"reports: {args.agents} agents x {args.days} days of history", flush=True)
    tmp = tempfile.mkdtemp(prefix="pc-reports-")
    env, token, today = build(tmp, args.agents, args.days)
    headers = {"Authorization": f"Bearer {token}"}
    start, yesterday = today - timedelta(days=args.days - 1), today - timedelta(days=1)
    server = Server(env)
    try:
        rss_start = server.rss_mb()
        rows = [
            timed(
                server,
                f"time-tracking {args.days} days (JSON)",
                f"/api/v1/time-tracking?from={start}&to={today}",
                headers,
            ),
            timed(
                server,
                f"time-tracking {args.days} days (CSV)",
                f"/api/v1/time-tracking?from={start}&to={today}&format=csv",
                headers,
            ),
            timed(server, "state-mix yesterday", f"/api/v1/state-mix?date={yesterday}", headers),
            timed(
                server,
                f"logon-events {args.days} days (JSON, first page)",
                f"/api/v1/logon-events?from={start}&to={today}",
                headers,
            ),
            timed(
                server,
                f"logon-events {args.days} days (CSV, complete)",
                f"/api/v1/logon-events?from={start}&to={today}&format=csv",
                headers,
            ),
            timed(server, f"session-time {args.days} days", f"/api/v1/session-time?from={start}&to={today}", headers),
        ]
        rss_end = server.rss_mb()
    finally:
        server.stop()
    print_table(f"{args.agents} agents x {args.days} days, SQLite, `presence-connector serve`", rows)
    print(f"\nserver RSS: {rss_start:.0f} MB after start, {rss_end:.0f} MB after the reports")

    print(f"\ndashboard: {args.big} agents, all mid-state", flush=True)
    tmp = tempfile.mkdtemp(prefix="pc-dashboard-")
    env, token, today = build(tmp, args.big, 1)
    headers = {"Authorization": f"Bearer {token}"}
    server = Server(env)
    try:
        rows = [
            timed(server, "GET /api/v1/agents (full views)", "/api/v1/agents", headers),
            timed(server, "GET /api/v1/agents?view=grid", "/api/v1/agents?view=grid", headers),
            timed(
                server, "GET /api/v1/events (full snapshot, to its end)", "/api/v1/events", headers, first_event=True
            ),
            timed(
                server,
                "GET /api/v1/events?view=grid (the dashboard's snapshot, to its end)",
                "/api/v1/events?view=grid",
                headers,
                first_event=True,
            ),
        ]
    finally:
        server.stop()
    print_table(f"{args.big} agents, SQLite, `presence-connector serve`", rows)


if __name__ == "__main__":
    main()
