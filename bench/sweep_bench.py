"""The 1 s timed-rule sweep: --agents wrap-ups falling due in the same second, swept by --instances.

Each instance is a process of its own running the scheduler `serve` runs (connector/jobs/scheduler.py, the
1 s timed-rules job among them) on one throwaway PostgreSQL database (tests/helpers/postgres.py), or one
instance on SQLite (--backend sqlite). The agents are put in wrap-up (the default 30 s) with one fixed
clock, so every wrap-up ends at the same moment T. Measured: from T until no session is left in
wrap-up (polled every 20 ms), how many wrap-ups each instance ended (its state-change writes), how many
sessions its sweeps went through (what settle_due returned: on main every session it read as due), and
its time inside settle_due.

    .venv/bin/python bench/sweep_bench.py                        # this checkout
    .venv/bin/python bench/sweep_bench.py --code /tmp/main-tree  # another tree's connector package
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if os.environ.get("SWEEP_BENCH_CODE"):  # the connector package under test comes first
    sys.path.insert(0, os.environ["SWEEP_BENCH_CODE"])


def _config(url: str, tmp: str, **extra) -> dict:
    return {
        "TESTING": True,
        "CONNECTOR_DATABASE_URL": url,
        "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
        "CONNECTOR_TIMEZONE": "UTC",
        "CONNECTOR_SECRET_KEY": "bench",
        "CONNECTOR_PASSWORD_HASH_COST": "test",
        **extra,
    }


def prepare(url: str, tmp: str, agents: int, at: datetime) -> None:
    """``agents`` agents logged in, on a call that ended at ``at``: in wrap-up until ``at`` + 30 s."""
    from connector import create_app
    from connector.auth import accounts
    from connector.parts import get_parts

    app = create_app(_config(url, tmp, CLOCK=lambda: at))
    parts = get_parts(app)
    parts.store.create_all()

    def one(n: int) -> None:
        agent_id = f"agent{n:05d}"
        accounts.add_agent(parts.store, {"id": agent_id, "name": f"Agent {n}"}, at)
        parts.service.login(agent_id, "Softphone", "browser")
        parts.service.call_event(agent_id, "c1", "started", "inbound")
        parts.service.call_event(agent_id, "c1", "ended", "inbound", 30)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(agents)))
    parts.bus.stop()
    parts.store.dispose()


def instance(url: str, tmp: str, start_at: float, stop, results, batch: int | None) -> None:
    """One instance: the scheduler of `serve` from ``start_at`` (time.time) until ``stop`` is set."""
    from connector import create_app
    from connector.jobs import scheduler
    from connector.parts import get_parts

    app = create_app(_config(url, tmp))
    parts = get_parts(app)
    service, ended, swept, busy = parts.service, [0], [0], [0.0]
    record, settle_due = service._writer.record, parts.sweeper.settle_due

    def recording(conn, agent, decision, *args, **kw):
        rows = record(conn, agent, decision, *args, **kw)
        ended[0] += 1 if decision.state_changes else 0
        return rows

    def timed() -> int:
        t0 = time.perf_counter()
        n = settle_due()
        busy[0] += time.perf_counter() - t0
        swept[0] += n
        return n

    service._writer.record = recording
    longest = [0.0]
    from connector.changes import sweep

    settle_batch = sweep._settle_batch

    def timed_batch(*a):
        t0 = time.perf_counter()
        try:
            return settle_batch(*a)
        finally:
            longest[0] = max(longest[0], time.perf_counter() - t0)

    sweep._settle_batch = timed_batch
    if batch:
        parts.sweeper.batch = batch
    parts.sweeper.settle_due = timed  # (scheduler.start reads it from the parts)
    time.sleep(max(0.0, start_at - time.time()))
    jobs = scheduler.start(app)
    stop.wait()
    jobs.shutdown(wait=True)
    results.put(
        {
            "pid": os.getpid(),
            "code": sys.modules["connector"].__file__,
            "ended": ended[0],
            "swept": swept[0],
            "busy": busy[0],
            "longest": longest[0],
        }
    )
    parts.bus.stop()
    parts.store.dispose()


def wrap_ups_left(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM agent_sessions WHERE state_id = 'wrap-up'")).scalar()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--batch", type=int, help="sessions per sweep transaction (default: the service's)")
    parser.add_argument("--code", help="a tree whose connector package is measured (default: this checkout)")
    args = parser.parse_args()
    if args.code:
        os.environ["SWEEP_BENCH_CODE"] = os.path.abspath(args.code)
        sys.path.insert(0, os.environ["SWEEP_BENCH_CODE"])
    tmp = tempfile.mkdtemp(prefix="pc-sweep-")
    pg = None
    if args.backend == "postgres":
        from tests.helpers.postgres import PostgresServer

        pg = PostgresServer()
        url = pg.new_database()
    else:
        url, args.instances = f"sqlite:///{tmp}/bench.db", 1
    try:
        at = datetime.now(UTC)
        t0 = time.time()
        prepare(url, tmp, args.agents, at)
        print(f"prepared {args.agents} wrap-ups in {time.time() - t0:.1f} s", flush=True)
        due = (at + timedelta(seconds=30)).timestamp()
        # the instances' schedulers start 2 s before the wrap-ups end (or at once when set-up took longer)
        start_at = max(time.time() + 3, due - 2)
        due = max(due, start_at + 2)  # (set-up took longer than the wrap-up: "due" is when they look first)
        ctx = mp.get_context("spawn")
        stop, results = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=instance, args=(url, tmp, start_at, stop, results, args.batch))
            for _ in range(args.instances)
        ]
        for p in procs:
            p.start()
        time.sleep(max(0.0, due - time.time()))
        left = args.agents
        while left:
            time.sleep(0.02)
            left = wrap_ups_left(url)
        settled_after = time.time() - due
        time.sleep(3)  # let the sweeps that were still going finish
        stop.set()
        found = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        if pg is not None:
            pg.stop()
    print(f"code: {found[0]['code']}; batch: {args.batch or 'default'}")
    print(
        f"{args.agents} wrap-ups due at once, {args.instances} instance(s) on {args.backend}: all ended "
        f"{settled_after:.2f} s after they fell due (the first sweep comes within 1 s)"
    )
    for n, r in enumerate(found):
        print(
            f"  instance {n + 1}: ended {r['ended']} wrap-ups; its sweeps went through {r['swept']} sessions; "
            f"{r['busy']:.2f} s in settle_due; longest batch transaction {r['longest'] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
