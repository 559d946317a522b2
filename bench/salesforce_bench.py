"""Salesforce sync: API calls per flush and the time to build one, against the naive one-call-per-row.

Run: ``make bench`` or ``.venv/bin/python bench/salesforce_bench.py``.

Each scenario builds the real app on a fresh SQLite file, fills the store in bulk and runs one real
flush against a fake org (``responses``, counting every HTTP request):

* 10 % dirty: N agents x 5 states of closed totals for today, 10 % of them changed since the last write.
* all mid-state: every agent is in a state right now (an open interval), so every agent's current
  total grows and is pending at every interval — the steady state of a staffed contact centre.
* 7 days history: 1,000 agents with a week of intervals behind them (``bench/history.py``), mid-state now.

Then PUT presence latency while flushes run (``put_latency_rounds``): rounds without a flush, with flushes
back to back and with one flush every 15 s, alternated. ``--only totals`` / ``--only put`` run one part.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import responses
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from connector import create_app  # noqa: E402
from connector.parts import get_parts  # noqa: E402
from connector.salesforce.pending import pending_totals  # noqa: E402
from connector.serve.asgi import tune_gc  # noqa: E402
from connector.store.models import Agent, AgentSessionRow, DailyTotal, StateInterval  # noqa: E402

NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
TODAY = date(2026, 3, 6)
STATES = ("ready", "dnd", "break", "lunch", "meeting")
LOGIN = "https://login.bench.test"
INSTANCE = "https://bench.my.salesforce.com"
UPSERT = INSTANCE + "/services/data/v62.0/composite/sobjects/Presence_Time__c/Key__c"
DAY_SECONDS = 86400
DEFAULT_INTERVAL = 60


def build(tmp: Path, agents: int, dirty_share: float, mid_state: bool):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp / "instance"),
            "CLOCK": lambda: NOW,
            "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "CONNECTOR_TIMEZONE": "UTC",
            "CONNECTOR_SECRET_KEY": "bench",
            "SF_LOGIN_URL": LOGIN,
            "SF_CLIENT_ID": "bench",
            "SF_CLIENT_SECRET": "bench-secret",
        }
    )
    store = get_parts(app).store
    every = round(1 / dirty_share) if dirty_share else 0
    with store.write() as s:
        s.execute(
            insert(Agent),
            [
                {
                    "id": f"a{i:05d}",
                    "name": f"Agent {i}",
                    "team": "",
                    "extension": "",
                    "email": "",
                    "salesforce_user_id": "",
                    "active": True,
                    "created_at": NOW,
                }
                for i in range(agents)
            ],
        )
        s.execute(
            insert(AgentSessionRow),
            [{"agent_id": f"a{i:05d}", "logons": [], "version": 0, "logoff_pending": False} for i in range(agents)],
        )
        rows, n = [], 0
        for i in range(agents):
            for state in STATES:
                seconds = 1200.0 + n % 97
                dirty = every and n % every == 0
                rows.append(
                    {
                        "agent_id": f"a{i:05d}",
                        "day": TODAY,
                        "state_id": state,
                        "status": 1,
                        "reason_code": "",
                        "seconds": seconds,
                        "synced_seconds": None if dirty else round(seconds),
                        "updated_at": NOW,
                    }
                )
                n += 1
        s.execute(insert(DailyTotal), rows)
        if mid_state:
            s.execute(
                insert(StateInterval),
                [
                    {
                        "agent_id": f"a{i:05d}",
                        "state_id": "ready",
                        "status": 1,
                        "reason_code": "",
                        "source": "softphone",
                        "started_at": NOW - timedelta(seconds=30 + i % 50),
                    }
                    for i in range(agents)
                ],
            )
    return app


def run_flush(app) -> tuple[int, int, int, float, float]:
    """(token calls, upsert calls, records sent, seconds for the whole flush, CPU seconds of this thread)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _fake_org(rsps)
        started, cpu = time.perf_counter(), time.thread_time()
        report = get_parts(app).salesforce.flush()
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
        tokens = sum(1 for c in rsps.calls if c.request.method == "POST")
        upserts = sum(1 for c in rsps.calls if c.request.method == "PATCH")
    return tokens, upserts, report.written, elapsed, cpu


def timed_builds(app, builds: int, wall: list[float], cpu: list[float]) -> list:
    """Build the pending totals ``builds`` times, adding each build's wall and thread CPU seconds to the
    lists; returns the last build's totals."""
    for _ in range(builds):
        started, cpu_started = time.perf_counter(), time.thread_time()
        pending = pending_totals(get_parts(app).reads)
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
    return pending


def scenario(agents: int, dirty_share: float, mid_state: bool, repeats: int = 3, builds: int = 3) -> dict:
    """``repeats`` fresh stores; on each, ``builds`` times the pending totals (wall and this thread's CPU),
    then one whole flush. Medians over all of them."""
    build_times, build_cpu, flush_times, flush_cpu, result = [], [], [], [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            app = build(Path(tmp), agents, dirty_share, mid_state)
            pending = timed_builds(app, builds, build_times, build_cpu)
            tokens, upserts, written, elapsed, cpu = run_flush(app)
            flush_times.append(elapsed)
            flush_cpu.append(cpu)
            get_parts(app).store.dispose()
            result = {
                "agents": agents,
                "rows": agents * len(STATES),
                "pending": len(pending),
                "token_calls": tokens,
                "api_calls": upserts,
                "written": written,
                "naive_calls": len(pending),
            }
    result["build_ms"] = statistics.median(build_times) * 1000
    result["build_cpu_ms"] = statistics.median(build_cpu) * 1000
    result["build_range"] = (min(build_times) * 1000, max(build_times) * 1000)
    result["flush_ms"] = statistics.median(flush_times) * 1000
    result["flush_cpu_ms"] = statistics.median(flush_cpu) * 1000
    return result


def history_scenario(agents: int = 1_000, days: int = 7, builds: int = 5) -> dict:
    """A store with ``days`` days of history before today (``bench/history.py``: a shift a day of
    intervals of a few minutes each) and every agent mid-state now; the same medians as ``scenario``."""
    from history import generate

    now = NOW.replace(hour=14)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": f"{tmp}/instance",
                "CLOCK": lambda: now,
                "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "CONNECTOR_TIMEZONE": "UTC",
                "CONNECTOR_SECRET_KEY": "bench",
                "SF_LOGIN_URL": LOGIN,
                "SF_CLIENT_ID": "bench",
                "SF_CLIENT_SECRET": "bench-secret",
            }
        )
        counts = generate(get_parts(app).store, get_parts(app).settings.tz, agents, days, now)
        build_times, build_cpu = [], []
        pending = timed_builds(app, builds, build_times, build_cpu)
        tokens, upserts, written, elapsed, cpu = run_flush(app)
        get_parts(app).store.dispose()
    return {
        "agents": agents,
        "intervals": counts["intervals"],
        "pending": len(pending),
        "api_calls": upserts,
        "written": written,
        "naive_calls": len(pending),
        "build_ms": statistics.median(build_times) * 1000,
        "build_cpu_ms": statistics.median(build_cpu) * 1000,
        "build_range": (min(build_times) * 1000, max(build_times) * 1000),
        "flush_ms": elapsed * 1000,
        "flush_cpu_ms": cpu * 1000,
    }


def _fake_org(rsps) -> None:
    """The org's token endpoint and upsert, every answer with Sforce-Limit-Info as a real org sends it."""
    rsps.add(
        responses.POST,
        LOGIN + "/services/oauth2/token",
        json={"access_token": "00D!bench", "instance_url": INSTANCE, "token_type": "Bearer"},
    )

    def upsert(request):
        records = json.loads(request.body)["records"]
        return (
            200,
            {"Sforce-Limit-Info": "api-usage=10/100000"},
            json.dumps([{"id": "a01000000000001", "success": True, "errors": [], "created": False} for _ in records]),
        )

    rsps.add_callback(responses.PATCH, UPSERT, callback=upsert)


def put_latency_rounds(
    agents: int = 1_000, clients: int = 16, rounds: int = 8, seconds: float = 15.0, cadence: float = 15.0
) -> dict:
    """PUT presence latency in process, in rounds of ``seconds`` that alternate three conditions.

    * none: no flush;
    * back to back: a thread calls ``flush()`` again as soon as the last one returned;
    * every ``cadence`` s: a thread calls ``flush()`` at 2 s into the round and every ``cadence`` s after
      (one flush per 15 s round), as the scheduler does at that tracking interval.

    ``clients`` threads each send PUTs one after the other (Flask test client) for the whole round. The
    conditions run in a rotated order in each of ``rounds`` rounds, so drift of the shared machine and the
    growing store fall on all three alike; each condition's figure is the median of its per-round p99s.
    In process, because the question is what the flush's work under the GIL and the store's write lock
    does to changes served by the same process (the scheduler runs the flush inside ``serve``).
    """
    import random
    import threading

    from history import generate

    from connector.auth import accounts

    kinds = ("none", "back to back", f"every {cadence:g} s")
    out: dict = {
        k: {
            "p50": [],
            "p99": [],
            "changes": [],
            "flush_ms": [],
            "flush_cpu_ms": [],
            "records": [],
            "during": [],
            "outside": [],
            "per_flush": [],
        }
        for k in kinds
    }
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": f"{tmp}/instance",
                "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "CONNECTOR_SECRET_KEY": "bench",
                "SF_LOGIN_URL": LOGIN,
                "SF_CLIENT_ID": "bench",
                "SF_CLIENT_SECRET": "bench-secret",
            }
        )
        parts = get_parts(app)
        generate(parts.store, parts.settings.tz, agents, 1, parts.clock())
        headers = {"Authorization": "Bearer " + accounts.create_token(parts.store, "integration", parts.clock())}

        def one_round(kind: str, seed: int) -> None:
            latencies: list[tuple[float, float]] = []  # (sent, answered)
            flushes: list[tuple[float, float]] = []
            lock, stop = threading.Lock(), threading.Event()
            started = time.perf_counter()
            deadline = started + seconds

            def worker(n: int) -> None:
                rng, client, mine = random.Random(seed * 1000 + n), app.test_client(), []
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    r = client.put(
                        f"/api/v1/agents/agent{rng.randrange(agents):05d}/presence",
                        json={"state": rng.choice(("ready", "dnd", "break", "lunch"))},
                        headers=headers,
                    )
                    mine.append((t0, time.perf_counter()))
                    assert r.status_code == 200, r.data
                with lock:
                    latencies.extend(mine)

            def one_flush() -> None:
                t0, cpu = time.perf_counter(), time.thread_time()
                report = parts.salesforce.flush()
                out[kind]["flush_ms"].append((time.perf_counter() - t0) * 1000)
                out[kind]["flush_cpu_ms"].append((time.thread_time() - cpu) * 1000)
                out[kind]["records"].append(report.written)
                flushes.append((t0, time.perf_counter()))

            def flusher() -> None:
                if kind == "back to back":
                    while not stop.is_set():
                        one_flush()
                    return
                at = started + 2.0
                while not stop.wait(max(0.0, at - time.perf_counter())):
                    one_flush()
                    at += cadence

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
            background = threading.Thread(target=flusher) if kind != "none" else None
            for t in threads:
                t.start()
            if background:
                background.start()
            for t in threads:
                t.join()
            if background:
                stop.set()
                background.join()
            q = statistics.quantiles([(t1 - t0) * 1000 for t0, t1 in latencies], n=100)
            out[kind]["p50"].append(q[49])
            out[kind]["p99"].append(q[98])
            out[kind]["changes"].append(len(latencies))
            # pooled over the rounds: the PUTs in flight while a flush ran, and the others of the same rounds
            for t0, t1 in latencies:
                during = any(t0 < f1 and t1 > f0 for f0, f1 in flushes)
                out[kind]["during" if during else "outside"].append((t1 - t0) * 1000)
            if kind == "back to back":
                return
            # each flush on its own: the PUTs in flight while it ran against those of as long a time right
            # before and right after it (no flush running then), so a burst of other load on the machine
            # falls on one flush's pair, not on the whole comparison
            for f0, f1 in flushes:
                span = f1 - f0
                near = [
                    (t1 - t0) * 1000
                    for t0, t1 in latencies
                    if (f0 - span <= t0 and t1 < f0) or (f1 <= t0 and t1 < f1 + span)
                ]
                inside = [(t1 - t0) * 1000 for t0, t1 in latencies if t0 < f1 and t1 > f0]
                if len(near) >= 100 and len(inside) >= 100:
                    out[kind]["per_flush"].append((p99_of(inside), p99_of(near)))

        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            _fake_org(rsps)
            parts.salesforce.flush()  # the first flush writes every total; later ones what changed since
            tune_gc()  # the collector as `serve` sets it once started
            one_round("none", 0)  # warm-up, not counted
            for kind in kinds:
                out[kind] = {k: [] for k in out[kind]}
            for r in range(rounds):
                for kind in kinds[r % 3 :] + kinds[: r % 3]:
                    rsps.calls.reset()  # responses keeps every request it answered: not a heap that grows
                    one_round(kind, r + 1)
        parts.store.dispose()
    return out


def p99_of(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def _print_rounds(out: dict, clients: int, seconds: float) -> None:
    med, p99 = statistics.median, p99_of
    quiet = med(out["none"]["p99"])
    print(
        f"\nPUT presence in process, 1,000 agents mid-state, {clients} client threads, "
        f"{len(out['none']['p99'])} rounds of {seconds:g} s per condition (medians of the per-round figures):"
    )
    for kind, r in out.items():
        # each round against the no-flush round of the same rotation (the three ran one after the other)
        paired = med([busy / alone for busy, alone in zip(r["p99"], out["none"]["p99"])])
        line = (
            f"  {kind:<14} p50 {med(r['p50']):6.1f} ms  p99 {med(r['p99']):6.1f} ms  x{med(r['p99']) / quiet:.2f}"
            f" (paired x{paired:.2f})  ({med(r['changes']):.0f} changes a round; per-round p99 "
            + ", ".join(f"{v:.0f}" for v in r["p99"])
            + ")"
        )
        if r["flush_ms"]:
            line += (
                f"\n  {'':<14} {len(r['flush_ms'])} flushes, median {med(r['flush_ms']):.0f} ms "
                f"({med(r['flush_cpu_ms']):.0f} ms CPU of the flush thread) and {med(r['records']):.0f} "
                f"records each; p99 of the {len(r['during'])} PUTs in flight during a flush "
                f"{p99(r['during']):.1f} ms"
            )
            if len(r["outside"]) >= 100:
                line += (
                    f"; of the {len(r['outside'])} other PUTs of the same rounds {p99(r['outside']):.1f} ms "
                    f"(x{p99(r['during']) / p99(r['outside']):.2f})"
                )
            if r["per_flush"]:
                line += (
                    f"\n  {'':<14} flush by flush, p99 of the PUTs in flight during it / of those just before "
                    f"and after it: median x{med([a / b for a, b in r['per_flush']]):.2f} ("
                    + ", ".join(f"{a:.0f}/{b:.0f}" for a, b in r["per_flush"])
                    + " ms)"
                )
        print(line)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("totals", "put"), help="only the totals table, or only the PUT rounds")
    parser.add_argument("--rounds", type=int, default=8, help="PUT rounds per condition (default 8)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of one PUT round (default 15)")
    parser.add_argument("--cadence", type=float, default=15.0, help="seconds between flushes at a cadence (15)")
    parser.add_argument("--clients", type=int, default=16, help="PUT client threads (default 16)")
    args = parser.parse_args()
    if args.only != "put":
        totals_table()
    if args.only != "totals":
        out = put_latency_rounds(clients=args.clients, rounds=args.rounds, seconds=args.seconds, cadence=args.cadence)
        _print_rounds(out, args.clients, args.seconds)


def totals_table() -> None:
    print(
        "Salesforce sync benchmark (3 fresh stores each, 3 builds on each; medians; API calls counted at the "
        "HTTP layer)"
    )
    print(
        f"{'scenario':<16}{'agents':>8}{'pending':>9}{'API calls':>11}{'naive':>8}{'build ms':>10}"
        f"{'(min-max)':>14}{'build CPU ms':>14}{'flush ms':>10}{'flush CPU ms':>14}"
    )
    results = {}
    for agents in (1_000, 10_000):
        for name, share, mid in (("10% dirty", 0.10, False), ("all mid-state", 0.0, True)):
            r = scenario(agents, share, mid)
            results[(agents, name)] = r
            assert r["api_calls"] == math.ceil(r["pending"] / 200) and r["written"] == r["pending"]
            lo, hi = r["build_range"]
            print(
                f"{name:<16}{agents:>8}{r['pending']:>9}{r['api_calls']:>11}{r['naive_calls']:>8}"
                f"{r['build_ms']:>10.0f}{f'({lo:.0f}-{hi:.0f})':>14}{r['build_cpu_ms']:>14.0f}{r['flush_ms']:>10.0f}"
                f"{r['flush_cpu_ms']:>14.0f}"
            )
    r = history_scenario()
    lo, hi = r["build_range"]
    print(
        f"{'7 days history':<16}{r['agents']:>8}{r['pending']:>9}{r['api_calls']:>11}{r['naive_calls']:>8}"
        f"{r['build_ms']:>10.0f}{f'({lo:.0f}-{hi:.0f})':>14}{r['build_cpu_ms']:>14.0f}{r['flush_ms']:>10.0f}"
        f"{r['flush_cpu_ms']:>14.0f}   ({r['intervals']:,} intervals; 5 builds, 1 flush)"
    )
    steady = results[(1_000, "all mid-state")]["api_calls"]
    per_day = steady * DAY_SECONDS // DEFAULT_INTERVAL
    print(f"\nprojected per 1,000 agents at the default {DEFAULT_INTERVAL} s interval, all logged in:")
    print(f"  {steady} calls per flush -> {per_day:,} API calls/day over 24 h ({per_day // 3:,} over an 8-hour shift)")
    print(f"  naive one call per changed row: {1_000 * DAY_SECONDS // DEFAULT_INTERVAL:,} calls/day over 24 h")
    print("  (the token request is an OAuth call, made once per process and again only on expiry)")


if __name__ == "__main__":
    main()
