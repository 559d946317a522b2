"""Outbox dispatch: change -> local adapter latency, sustained deliveries/s, and two instances on PostgreSQL.

Real processes on this machine: `presence-connector serve` with the webhook example adapter posting
to a local HTTP receiver on 127.0.0.1 (tests/helpers/cluster.py).

1. latency: one instance (SQLite), changes offered at --rate per second for --seconds (each agent
   changes once a second, so nothing is coalesced): PUT -> receiver p50/p99;
2. throughput: a backlog of --backlog outbox rows (one per agent, so every row is its own lane) is
   drained by one instance: deliveries/s for one adapter, at its default concurrency and at
   CONNECTOR_DISPATCH_CONCURRENCY_WEBHOOK=8;
3. two instances on one throwaway PostgreSQL, 17 changes/s for --pg-seconds, round-robin: PUT
   p50/p99, change -> adapter p50/p99, RSS per instance, errors (skipped without PostgreSQL).

    make bench            # or: .venv/bin/python bench/dispatch_bench.py --seconds 10 --pg-seconds 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.cluster import Cluster, Receiver  # noqa: E402

STATES = ["break", "lunch", "meeting", "ready"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def offer(
    cluster: Cluster, token: str, agents: list[str], rate: float, seconds: float, receiver: Receiver, clients: int = 8
) -> dict:
    """PUT presence at ``rate``/s round-robin over the instances; match each change to its delivery."""
    urls = cluster.urls
    sent: dict[str, list[tuple[str, float]]] = {a: [] for a in agents}
    put_ms: list[float] = []
    errors = [0]
    lock = threading.Lock()
    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    session_local = threading.local()

    def worker(k: int) -> None:
        session_local.s = requests.Session()
        for n in range(k, total, clients):
            due = start + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            agent = agents[n % len(agents)]
            state = STATES[(n // len(agents)) % len(STATES)]
            t0 = time.time()
            try:
                reply = session_local.s.put(
                    f"{urls[n % len(urls)]}/api/v1/agents/{agent}/presence",
                    json={"state": state},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                ok = reply.status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    put_ms.append((time.time() - t0) * 1000)
                    sent[agent].append((state, t0))
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = sum(len(v) for v in sent.values())
    first = min((t0 for changes in sent.values() for _, t0 in changes), default=0.0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # every accepted change delivered (the logins before are not counted)
        got = {p["key"] for p in receiver.snapshot() if p["agent"] in sent and p["at"] >= first}
        if len(got) >= expected:
            break
        time.sleep(0.2)
    delivery_ms = []
    posts_of: dict[str, list[dict]] = {}
    for post in receiver.snapshot():
        posts_of.setdefault(post["agent"], []).append(post)
    for agent, changes in sent.items():
        posts = iter(posts_of.get(agent, []))
        for state, t0 in sorted(changes, key=lambda c: c[1]):
            # the first delivery of this state after it was sent (the agent's earlier posts are skipped)
            post = next((p for p in posts if p["state"] == state and p["at"] >= t0), None)
            if post is not None:
                delivery_ms.append((post["at"] - t0) * 1000)
    return {
        "offered": total,
        "accepted": len(put_ms),
        "errors": errors[0],
        "put_p50": pct(put_ms, 0.5),
        "put_p99": pct(put_ms, 0.99),
        "adapter_p50": pct(delivery_ms, 0.5),
        "adapter_p99": pct(delivery_ms, 0.99),
        "matched": len(delivery_ms),
    }


def logged_in(cluster: Cluster, token: str, agents: list[str]) -> None:
    for agent in agents:
        requests.post(
            f"{cluster.urls[0]}/api/v1/agents/{agent}/login",
            json={"device": "bench"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).raise_for_status()


def latency_run(rate: float, seconds: float) -> dict:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        agents = [f"agent{i:04d}" for i in range(int(rate))]
        cluster = Cluster(f"sqlite:///{tmp}/presence.db", Path(tmp), receiver.url)
        token = cluster.prepare(agents)
        try:
            cluster.start(1)
            logged_in(cluster, token, agents)
            time.sleep(1)
            return offer(cluster, token, agents, rate, seconds, receiver)
        finally:
            cluster.stop()
            receiver.stop()


def backlog_run(rows: int, concurrency: int | None) -> dict:
    """Queue ``rows`` logins (one outbox row each) with the dispatcher off, then let one serve drain them."""
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        agents = [f"agent{i:05d}" for i in range(rows)]
        extra = {"CONNECTOR_DISPATCH_CONCURRENCY_WEBHOOK": str(concurrency)} if concurrency else {}
        cluster = Cluster(f"sqlite:///{tmp}/presence.db", Path(tmp), receiver.url, extra)
        cluster.prepare(agents)
        os.environ.update({k: v for k, v in cluster.env.items() if k.startswith(("CONNECTOR_", "WEBHOOK_"))})
        from connector import create_app
        from connector.parts import get_parts

        parts = get_parts(create_app())
        for agent in agents:
            parts.service.login(agent, "Softphone", "bench")  # queued; no dispatcher runs in this process
        parts.store.dispose()
        try:
            cluster.start(1)
            deadline = time.monotonic() + 120
            while len(receiver.snapshot()) < rows and time.monotonic() < deadline:
                time.sleep(0.1)
            posts = receiver.snapshot()
            span = posts[-1]["at"] - posts[0]["at"] if len(posts) > 1 else float("nan")
            return {
                "rows": rows,
                "delivered": len(posts),
                "per_second": (len(posts) - 1) / span if span else 0,
                "concurrency": concurrency or "default (2)",
            }
        finally:
            cluster.stop()
            receiver.stop()


def postgres_run(seconds: float, instances: int = 2, rate: float = 17.0, agents_count: int = 1000) -> dict | None:
    try:
        from tests.helpers.postgres import PostgresServer

        server = PostgresServer()
    except Exception as exc:  # no PostgreSQL on this machine
        print(f"PostgreSQL run skipped: {exc}")
        return None
    receiver = Receiver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            agents = [f"agent{i:05d}" for i in range(agents_count)]
            cluster = Cluster(server.new_database(), Path(tmp), receiver.url)
            token = cluster.prepare(agents)
            try:
                cluster.start(instances)
                logged_in(cluster, token, agents[: int(rate * 4)])
                active = agents[: int(rate * 4)]  # each changes every 4 s: no coalescing
                time.sleep(1)
                result = offer(cluster, token, active, rate, seconds, receiver)
                result["rss_mb"] = [round(cluster.rss_mb(n)) for n in range(instances)]
                return result
            finally:
                cluster.stop()
    finally:
        receiver.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--pg-seconds", type=float, default=60.0)
    args = parser.parse_args()

    r = latency_run(args.rate, args.seconds)
    print(
        f"latency, 1 instance (SQLite), {args.rate:g} changes/s for {args.seconds:g} s: "
        f"{r['accepted']}/{r['offered']} accepted, {r['errors']} errors; PUT p50 {r['put_p50']:.1f} ms "
        f"p99 {r['put_p99']:.1f} ms; change -> adapter p50 {r['adapter_p50']:.1f} ms p99 {r['adapter_p99']:.1f} ms "
        f"({r['matched']} matched)"
    )
    for concurrency in (None, 8, 16):
        b = backlog_run(args.backlog, concurrency)
        print(
            f"throughput, 1 adapter, concurrency {b['concurrency']}: {b['delivered']}/{b['rows']} rows, "
            f"{b['per_second']:.0f} deliveries/s"
        )
    p = postgres_run(args.pg_seconds)
    if p:
        print(
            f"2 instances (PostgreSQL), 17 changes/s for {args.pg_seconds:g} s: {p['accepted']}/{p['offered']} "
            f"accepted, {p['errors']} errors; PUT p50 {p['put_p50']:.1f} ms p99 {p['put_p99']:.1f} ms; "
            f"change -> adapter p50 {p['adapter_p50']:.1f} ms p99 {p['adapter_p99']:.1f} ms "
            f"({p['matched']} matched); RSS per instance {p['rss_mb']} MB"
        )


if __name__ == "__main__":
    main()
