"""Where one presence change's CPU goes on PostgreSQL: the instance (cProfile) and the server (pg_stat_statements).

In process, no HTTP: the change ``serve`` answers on its fast path (connector/serve/fast_path.py), on a store
with ``--agents`` logged-in agents, on a throwaway PostgreSQL server (fsync on, ``synchronous_commit=on``,
``pg_stat_statements`` loaded) and, for the ratio, on SQLite in the same run. Reports per change:

- instance CPU (this process, all threads), sequential (one change at a time: batches of one) and from
  ``--threads`` threads at once (batches of several, each change in a savepoint, as under wrk's 16 connections);
- the PostgreSQL server's CPU (every server process, /proc/<pid>/stat), same two ways;
- the statements the server ran per change (pg_stat_statements: calls and execution time per change);
- with ``--profile``, the top of cProfile's table for the sequential run (cumulative and own time).

    .venv/bin/python bench/pg_profile.py [--agents 1000 --changes 2000 --threads 16 --profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_bench import STATES, prepare  # noqa: E402


def fast_path(app, token: str, agents: int):
    from connector.serve.fast_path import FastPresence

    fast = FastPresence(app)

    def change(rng: random.Random) -> None:
        body = json.dumps({"state": rng.choice(STATES)}).encode()
        assert fast.answer(f"agent{rng.randrange(agents):05d}", token, body) is not None

    return change


def sequential(change, n: int, pg=None, profile: bool = False) -> dict:
    rng = random.Random(7)
    for _ in range(100):
        change(rng)
    rounds, server = [], []
    prof = cProfile.Profile(time.thread_time) if profile else None  # CPU of this thread, not the waits
    for _ in range(3):
        s0 = pg.cpu_seconds() if pg else 0.0
        t0 = time.process_time()
        if prof:
            prof.enable()
        for _ in range(n):
            change(rng)
        if prof:
            prof.disable()
        rounds.append((time.process_time() - t0) / n * 1000)
        if pg:
            server.append((pg.cpu_seconds() - s0) / n * 1000)
    return {
        "instance_ms": statistics.median(rounds),
        "server_ms": statistics.median(server) if server else None,
        "profile": prof,
    }


def threaded(change, n: int, threads: int, pg=None) -> dict:
    rounds, server, rates = [], [], []
    for _ in range(3):
        counter = iter(range(n))
        lock = threading.Lock()

        def worker(seed: int, counter=counter, lock=lock) -> None:
            rng = random.Random(seed)
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                change(rng)

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        s0 = pg.cpu_seconds() if pg else 0.0
        t0, w0 = time.process_time(), time.perf_counter()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        rounds.append((time.process_time() - t0) / n * 1000)
        rates.append(n / (time.perf_counter() - w0))
        if pg:
            server.append((pg.cpu_seconds() - s0) / n * 1000)
    return {
        "instance_ms": statistics.median(rounds),
        "server_ms": statistics.median(server) if server else None,
        "per_second": statistics.median(rates),
    }


def statements_per_change(pg, url: str, changes: int) -> list[tuple]:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, rows, query FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY total_exec_time DESC"
        ).fetchall()
    return [(calls / changes, total / changes, r / changes, " ".join(q.split())[:150]) for calls, total, r, q in rows]


def reset_statements(url: str) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=1000, help="changes per round (3 rounds each way)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="cProfile the sequential PostgreSQL run")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite side")
    args = parser.parse_args()

    from tests.helpers.postgres import PostgresServer

    pg = PostgresServer(
        fsync=True, options="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    )
    results = {}
    try:
        url = pg.new_database()
        tmp = tempfile.mkdtemp(prefix="pc-pgprof-")
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            c.execute("CREATE EXTENSION pg_stat_statements")
        env = {
            "CONNECTOR_DATABASE_URL": url,
            "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
            "CONNECTOR_PRESENCE_CONFIG": "default",
        }
        app, token = prepare(env, args.agents)
        from connector.serve.asgi import tune_gc

        tune_gc()
        change = fast_path(app, token, args.agents)
        reset_statements(url)
        seq = sequential(change, args.changes, pg, args.profile)
        stmts = statements_per_change(pg, url, args.changes * 3 + 100)
        reset_statements(url)
        par = threaded(change, args.changes, args.threads, pg)
        stmts_par = statements_per_change(pg, url, args.changes * 3)
        results["postgresql"] = (seq, par)
        from connector.parts import get_parts

        get_parts(app).store.dispose()
        if not args.no_sqlite:
            tmp2 = tempfile.mkdtemp(prefix="pc-pgprof-lite-")
            env = {
                "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp2}/bench.db",
                "CONNECTOR_INSTANCE_PATH": f"{tmp2}/instance",
                "CONNECTOR_PRESENCE_CONFIG": "default",
            }
            app2, token2 = prepare(env, args.agents)
            change2 = fast_path(app2, token2, args.agents)
            results["sqlite"] = (sequential(change2, args.changes), threaded(change2, args.changes, args.threads))
    finally:
        pg.stop()

    print(f"\n{args.agents} agents, {args.changes} changes x 3 rounds each way, medians; {args.threads} threads\n")
    print(
        "| backend | instance CPU ms/change (seq) | server CPU ms/change (seq) | instance (threads) | server (threads) |"
    )
    print("| changes/s (threads) |")
    for backend, (s, p) in results.items():
        server_s = f"{s['server_ms']:.2f}" if s["server_ms"] is not None else ""
        server_p = f"{p['server_ms']:.2f}" if p["server_ms"] is not None else ""
        print(
            f"| {backend} | {s['instance_ms']:.2f} | {server_s} | {p['instance_ms']:.2f} | {server_p} "
            f"| {p['per_second']:.0f} |"
        )
    for title, rows in (("sequential", stmts), (f"{args.threads} threads", stmts_par)):
        print(f"\nPostgreSQL statements per change ({title}): calls, exec ms, rows, statement")
        for calls, ms, r, q in rows:
            if calls >= 0.01:
                print(f"  {calls:6.2f} {ms:7.3f} {r:6.2f}  {q}")
    prof = results["postgresql"][0]["profile"]
    if prof is not None:
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(35)


if __name__ == "__main__":
    main()
