"""Presence changes while the retention job purges: PUT p99 during a purge of 1,000 agents x 400 days, vs without.

A store with 1,000 logged-in agents (today's shift, ``bench/history.py``) and 400 days of older history for each
of them, lean (per agent and day: one closed interval, a login and a logout, a daily total, an ended call: 2
million rows), is served by ``presence-connector serve`` with its scheduler on, every retention at 30 days and
``CONNECTOR_RETENTION_INTERVAL=75``: the job's first run starts 75 s after start-up, inside ``serve``, under
its lease, as in production. Before it, PUTs are timed in ``--windows`` windows of ``--seconds`` (the anchor:
the same server, the same load, no purge); once the purge has begun (rows older than 30 days are seen to go),
the same windows again; at their end the purge must still be running (else the windows would have measured
nothing). The load is paced, as a contact centre's is (``--rate`` changes per second from ``--clients`` client
threads, random agent and state, the plain PUT ``serve`` answers on its fast path), not a saturating
closed loop, which would measure the CPU the purge takes rather than the waits it causes.

    .venv/bin/python bench/retention_bench.py [--rate 100 --clients 8 --seconds 15 --windows 3 --batch N --cache DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from history import generate  # noqa: E402

from tests.helpers.ports import free_port  # noqa: E402

AGENTS = 1000
DAYS = 400
KEEP_DAYS = 30
STATES = ["ready", "dnd", "break", "lunch", "meeting", "training"]
RETAINED = (
    "LOGON_EVENTS",
    "INTERVALS",
    "CALLS",
    "OUTBOX",
    "SIGN_IN_FAILURES",
    "WEB_SESSIONS",
    "AUDIT",
    "DAILY_TOTALS",
)


def stamp(at: datetime) -> str:
    """A UTC time as the store keeps it in SQLite (SQLAlchemy's DateTime text)."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def old_history(db: str, now: datetime) -> int:
    """The 400 lean days before today's history, written straight with sqlite3 (2 million rows)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    rows = 0
    for back in range(1, DAYS + 1):
        day = (now - timedelta(days=back)).date()
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        end = start + timedelta(hours=8)
        s, e = stamp(start), stamp(end)
        ids = [f"agent{i:05d}" for i in range(AGENTS)]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO state_intervals (agent_id, state_id, status, reason_code, source, started_at, ended_at) "
            "VALUES (?, 'ready', 1, '', 'softphone', ?, ?)",
            [(a, s, e) for a in ids],
        )
        conn.executemany(
            "INSERT INTO logon_events (at, agent_id, action, logon_source, device) VALUES (?, ?, ?, 'Softphone', 'softphone')",
            [(at, a, action) for a in ids for at, action in ((s, "Acquired"), (e, "Released"))],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO daily_totals (agent_id, day, state_id, status, reason_code, seconds, synced_seconds, updated_at) "
            "VALUES (?, ?, 'ready', 1, '', 28800.0, 28800, ?)",
            [(a, day.isoformat(), e) for a in ids],
        )
        conn.executemany(
            "INSERT INTO calls (agent_id, call_id, direction, started_at, ended_at, duration_seconds) VALUES (?, ?, 'inbound', ?, ?, 300)",
            [(a, f"old-{back}", s, s) for a in ids],
        )
        conn.execute("COMMIT")
        rows += 5 * AGENTS
    conn.close()
    return rows


def prepare(env: dict, db: str) -> str:
    os.environ.update(env)
    from connector import create_app
    from connector.auth import accounts
    from connector.parts import get_parts

    app = create_app()
    parts = get_parts(app)
    now = parts.clock()
    t0 = time.perf_counter()
    generate(parts.store, parts.settings.tz, AGENTS, 1, now)  # the agents, logged in today
    token = accounts.create_token(parts.store, "integration", now, name="bench")
    parts.bus.stop()
    parts.store.dispose()
    rows = old_history(db, now)
    print(
        f"store ready: {AGENTS} agents logged in, {rows:,} rows of {DAYS} older days ({time.perf_counter() - t0:.0f} s)"
    )
    return token


def old_rows(db: str) -> int:
    """Logon events older than the retention (the purge's first table): falls while the purge runs."""
    cutoff = stamp(datetime.now(UTC) - timedelta(days=KEEP_DAYS + 1))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM logon_events WHERE at < ?", (cutoff,)).fetchone()[0]
    finally:
        conn.close()


def drive(port: int, token: str, seconds: float, rate: float, clients: int) -> dict:
    """Paced PUTs for ``seconds``: ``rate`` a second over ``clients`` keep-alive connections."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    gap = clients / rate
    until = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, bad = [], 0
        due = time.monotonic() + rng.uniform(0, gap)
        while due < until:
            time.sleep(max(0.0, due - time.monotonic()))
            body = json.dumps({"state": rng.choice(STATES)})
            t0 = time.perf_counter()
            conn.request("PUT", f"/api/v1/agents/agent{rng.randrange(AGENTS):05d}/presence", body=body, headers=headers)
            res = conn.getresponse()
            res.read()
            mine.append((time.perf_counter() - t0) * 1000)
            bad += res.status != 200
            due += gap
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": q[49],
        "p99_ms": q[98],
        "max_ms": max(latencies),
        "latencies": latencies,
    }


def wait_up(port: int) -> None:
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz/live")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="PUTs a second")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0, help="one window")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--batch", type=int, default=None, help="CONNECTOR_RETENTION_BATCH (default: its default)")
    parser.add_argument("--cache", default=None, help="keep the generated store here and reuse it (the same day)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
        db = f"{tmp}/presence.db"
        env = {
            "CONNECTOR_DATABASE_URL": f"sqlite:///{db}",
            "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
            "CONNECTOR_PRESENCE_CONFIG": "default",
            "CONNECTOR_TIMEZONE": "UTC",
            "CONNECTOR_ADAPTERS": "",
            "CONNECTOR_PASSWORD_HASH_COST": "test",
            "CONNECTOR_RETENTION_INTERVAL": "75",
            **{f"CONNECTOR_RETAIN_{name}_DAYS": str(KEEP_DAYS) for name in RETAINED},
            **({"CONNECTOR_RETENTION_BATCH": str(args.batch)} if args.batch else {}),
        }
        cache = Path(args.cache) if args.cache else None
        if cache is not None and (cache / "presence.db").exists():  # a store made by an earlier run, today
            shutil.copy(cache / "presence.db", db)
            shutil.copytree(cache / "instance", f"{tmp}/instance")
            token = (cache / "token").read_text()
        else:
            token = prepare(env, db)
            if cache is not None:
                cache.mkdir(parents=True, exist_ok=True)
                shutil.copy(db, cache / "presence.db")
                shutil.copytree(f"{tmp}/instance", cache / "instance")
                (cache / "token").write_text(token)
        before = old_rows(db)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "connector.cli.main", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        try:
            wait_up(port)
            drive(port, token, 2, args.rate, args.clients)  # warm-up
            quiet = [drive(port, token, args.seconds, args.rate, args.clients) for _ in range(args.windows)]
            assert old_rows(db) == before, "the purge began during the anchor's windows: shorten them"
            while old_rows(db) == before:
                if time.monotonic() - started > 120:
                    raise RuntimeError("the retention job did not start within two minutes")
                time.sleep(0.5)
            began = old_rows(db)
            purging = [drive(port, token, args.seconds, args.rate, args.clients) for _ in range(args.windows)]
            after = old_rows(db)
            assert 0 < after < began, f"the purge was not running throughout ({began} -> {after} old logon events)"
            purged_per_second = (began - after) / (args.windows * args.seconds)
        finally:
            server.terminate()
            server.wait(30)
    q_p99 = statistics.median(r["p99_ms"] for r in quiet)
    p_p99 = statistics.median(r["p99_ms"] for r in purging)
    print(f"{args.rate:.0f} PUT/s from {args.clients} clients, {args.windows} windows of {args.seconds:.0f} s each")
    print("| windows | requests | errors | p50 ms (median) | p99 ms per window | p99 ms (median) | max ms |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for name, runs in (("no purge (anchor)", quiet), ("during the purge", purging)):
        windows = ", ".join(f"{r['p99_ms']:.1f}" for r in runs)
        print(
            f"| {name} | {sum(r['requests'] for r in runs)} | {sum(r['errors'] for r in runs)} | "
            f"{statistics.median(r['p50_ms'] for r in runs):.1f} | {windows} | "
            f"{statistics.median(r['p99_ms'] for r in runs):.1f} | {max(r['max_ms'] for r in runs):.0f} |"
        )
    print(f"p99 during the purge / without: {p_p99 / q_p99:.2f}x (goal: within 1.2x)")
    print(f"logon events purged meanwhile: {purged_per_second:,.0f} rows/s ({before:,} old ones at the start)")


if __name__ == "__main__":
    main()
