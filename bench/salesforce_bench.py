"""Salesforce sync: API calls per flush and the time to build one, against the naive one-call-per-row.

Run: ``make bench`` or ``.venv/bin/python bench/salesforce_bench.py``.

Each scenario builds the real app on a fresh SQLite file, fills the store in bulk and runs one real
flush against a fake org (``responses``, counting every HTTP request):

* 10 % dirty: N agents x 5 states of closed totals for today, 10 % of them changed since the last write.
* all mid-state: every agent is in a state right now (an open interval), so every agent's current
  total grows and is pending at every interval — the steady state of a staffed contact centre.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import responses
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from connector import create_app  # noqa: E402
from connector.parts import get_parts  # noqa: E402
from connector.salesforce.pending import pending_totals  # noqa: E402
from connector.store.models import Agent, AgentSessionRow, DailyTotal, StateInterval  # noqa: E402

NOW = datetime(2026, 3, 6, 15, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 6)
STATES = ("ready", "dnd", "break", "lunch", "meeting")
LOGIN = "https://login.bench.test"
INSTANCE = "https://bench.my.salesforce.com"
UPSERT = INSTANCE + "/services/data/v62.0/composite/sobjects/Presence_Time__c/Key__c"
DAY_SECONDS = 86400
DEFAULT_INTERVAL = 60


def build(tmp: Path, agents: int, dirty_share: float, mid_state: bool):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp / "instance"), "CLOCK": lambda: NOW,
                      "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "CONNECTOR_TIMEZONE": "UTC",
                      "CONNECTOR_SECRET_KEY": "bench", "SF_LOGIN_URL": LOGIN, "SF_CLIENT_ID": "bench",
                      "SF_CLIENT_SECRET": "bench-secret"})
    store = get_parts(app).store
    every = round(1 / dirty_share) if dirty_share else 0
    with store.write() as s:
        s.execute(insert(Agent), [{"id": f"a{i:05d}", "name": f"Agent {i}", "team": "", "extension": "", "email": "",
                                   "salesforce_user_id": "", "active": True, "created_at": NOW} for i in range(agents)])
        s.execute(insert(AgentSessionRow), [{"agent_id": f"a{i:05d}", "logons": [], "version": 0,
                                             "logoff_pending": False} for i in range(agents)])
        rows, n = [], 0
        for i in range(agents):
            for state in STATES:
                seconds = 1200.0 + n % 97
                dirty = every and n % every == 0
                rows.append({"agent_id": f"a{i:05d}", "day": TODAY, "state_id": state, "status": 1, "reason_code": "",
                             "seconds": seconds, "synced_seconds": None if dirty else round(seconds),
                             "updated_at": NOW})
                n += 1
        s.execute(insert(DailyTotal), rows)
        if mid_state:
            s.execute(insert(StateInterval), [{"agent_id": f"a{i:05d}", "state_id": "ready", "status": 1,
                                               "reason_code": "", "source": "softphone",
                                               "started_at": NOW - timedelta(seconds=30 + i % 50)}
                                              for i in range(agents)])
    return app


def run_flush(app) -> tuple[int, int, int, float]:
    """(token calls, upsert calls, records sent, seconds for the whole flush)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, LOGIN + "/services/oauth2/token",
                 json={"access_token": "00D!bench", "instance_url": INSTANCE, "token_type": "Bearer"})

        def upsert(request):
            records = json.loads(request.body)["records"]
            return 200, {"Sforce-Limit-Info": "api-usage=10/100000"}, json.dumps(
                [{"id": "a01000000000001", "success": True, "errors": [], "created": True} for _ in records])
        rsps.add_callback(responses.PATCH, UPSERT, callback=upsert)
        started = time.perf_counter()
        report = get_parts(app).salesforce.flush()
        elapsed = time.perf_counter() - started
        tokens = sum(1 for c in rsps.calls if c.request.method == "POST")
        upserts = sum(1 for c in rsps.calls if c.request.method == "PATCH")
    return tokens, upserts, report.written, elapsed


def scenario(agents: int, dirty_share: float, mid_state: bool, repeats: int = 3) -> dict:
    build_times, flush_times, result = [], [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            app = build(Path(tmp), agents, dirty_share, mid_state)
            started = time.perf_counter()
            pending = pending_totals(get_parts(app).reads)
            build_times.append(time.perf_counter() - started)
            tokens, upserts, written, elapsed = run_flush(app)
            flush_times.append(elapsed)
            get_parts(app).store.dispose()
            result = {"agents": agents, "rows": agents * len(STATES), "pending": len(pending), "token_calls": tokens,
                      "api_calls": upserts, "written": written, "naive_calls": len(pending)}
    result["build_ms"] = statistics.median(build_times) * 1000
    result["flush_ms"] = statistics.median(flush_times) * 1000
    return result


def put_p99_during_flush(agents: int = 1_000, changes: int = 2_000, clients: int = 16) -> dict:
    """PUT presence latency (16 client threads, in process) without and with flushes running back to back.

    In process, because the question is what the flush's CPU under the GIL does to changes served by
    the same process (the scheduler runs the flush inside `presence-connector serve`).
    """
    import random
    import threading

    from connector import accounts
    from history import generate

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "INSTANCE_PATH": f"{tmp}/instance", "CONNECTOR_DATABASE_URL":
                          f"sqlite:///{tmp}/bench.db", "CONNECTOR_SECRET_KEY": "bench", "SF_LOGIN_URL": LOGIN,
                          "SF_CLIENT_ID": "bench", "SF_CLIENT_SECRET": "bench-secret"})
        parts = get_parts(app)
        generate(parts.store, parts.settings.tz, agents, 1, parts.clock())
        headers = {"Authorization": "Bearer " + accounts.create_token(parts.store, "integration", parts.clock())}

        def changes_p99() -> tuple[float, float]:
            latencies: list[float] = []
            lock = threading.Lock()

            def worker(seed: int) -> None:
                rng, client, mine = random.Random(seed), app.test_client(), []
                for _ in range(changes // clients):
                    t0 = time.perf_counter()
                    r = client.put(f"/api/v1/agents/agent{rng.randrange(agents):05d}/presence",
                                   json={"state": rng.choice(("ready", "dnd", "break", "lunch"))}, headers=headers)
                    mine.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.data
                with lock:
                    latencies.extend(mine)
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            q = statistics.quantiles(latencies, n=100)
            return q[49] * 1000, q[98] * 1000

        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            rsps.add(responses.POST, LOGIN + "/services/oauth2/token",
                     json={"access_token": "00D!bench", "instance_url": INSTANCE, "token_type": "Bearer"})
            rsps.add_callback(responses.PATCH, UPSERT, callback=lambda request: (200, {}, json.dumps(
                [{"id": "a01000000000001", "success": True, "errors": [], "created": False}
                 for _ in json.loads(request.body)["records"]])))
            parts.salesforce.flush()  # the first flush writes every total; later ones what changed since
            quiet = changes_p99()
            stop, flushes, flush_ms = threading.Event(), [0], []

            def flusher() -> None:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    parts.salesforce.flush()
                    flush_ms.append((time.perf_counter() - t0) * 1000)
            background = threading.Thread(target=flusher)
            background.start()
            try:
                busy = changes_p99()
            finally:
                stop.set()
                background.join()
        parts.store.dispose()
    return {"quiet": quiet, "busy": busy, "flushes": len(flush_ms),
            "flush_ms": statistics.median(flush_ms) if flush_ms else float("nan")}


def main() -> None:
    print("Salesforce sync benchmark (median of 3 runs; API calls counted at the HTTP layer)")
    print(f"{'scenario':<26}{'agents':>8}{'pending':>9}{'API calls':>11}{'naive':>8}{'build ms':>10}{'flush ms':>10}")
    results = {}
    for agents in (1_000, 10_000):
        for name, share, mid in (("10% dirty", 0.10, False), ("all mid-state", 0.0, True)):
            r = scenario(agents, share, mid)
            results[(agents, name)] = r
            assert r["api_calls"] == math.ceil(r["pending"] / 200) and r["written"] == r["pending"]
            print(f"{name:<26}{agents:>8}{r['pending']:>9}{r['api_calls']:>11}{r['naive_calls']:>8}"
                  f"{r['build_ms']:>10.0f}{r['flush_ms']:>10.0f}")
    steady = results[(1_000, "all mid-state")]["api_calls"]
    per_day = steady * DAY_SECONDS // DEFAULT_INTERVAL
    print(f"\nprojected per 1,000 agents at the default {DEFAULT_INTERVAL} s interval, all logged in:")
    print(f"  {steady} calls per flush -> {per_day:,} API calls/day over 24 h ({per_day // 3:,} over an 8-hour shift)")
    print(f"  naive one call per changed row: {1_000 * DAY_SECONDS // DEFAULT_INTERVAL:,} calls/day over 24 h")
    print("  (the token request is an OAuth call, made once per process and again only on expiry)")
    r = put_p99_during_flush()
    print(f"\nPUT presence in process, 1,000 agents, 16 client threads, {2_000} changes each way:")
    print(f"  no flush running:            p50 {r['quiet'][0]:.1f} ms, p99 {r['quiet'][1]:.1f} ms")
    print(f"  flushes back to back:        p50 {r['busy'][0]:.1f} ms, p99 {r['busy'][1]:.1f} ms "
          f"({r['flushes']} flushes, median {r['flush_ms']:.0f} ms each)")
    print(f"  p99 with flushes / without:  {r['busy'][1] / r['quiet'][1]:.2f}x")


if __name__ == "__main__":
    main()
