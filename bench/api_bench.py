"""State changes per second and p50/p99 latency through the HTTP API of the served app.

Starts `presence-connector serve` (uvicorn + a2wsgi, the production server) on a temporary SQLite store
with 1,000 agents, then drives it from client threads on this machine: first a trivial endpoint
(GET /healthz), then PUT /api/v1/agents/{id}/presence — same server, same run, so the ratio
between the two says what the presence path costs beyond HTTP itself.

    make bench            # or: .venv/bin/python bench/api_bench.py --requests 4000 --clients 8
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from connector.parts import get_parts

ROOT = Path(__file__).resolve().parent.parent
STATES = ["ready", "dnd", "break", "lunch", "meeting", "training"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict, agents: int) -> str:
    """Create agents, log them in on desk phones, and return an integration token."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from connector import accounts, create_app

    app = create_app()
    ext = get_parts(app)
    now = ext.clock()
    for i in range(agents):
        accounts.add_agent(ext.store, {"id": f"agent{i:05d}", "name": f"Agent {i}", "team": f"T{i % 10}"}, now)
        ext.service.login(f"agent{i:05d}", "Paired Device", f"deskphone-{i}")
    token = accounts.create_token(ext.store, "integration", now, name="bench")
    ext.store.dispose()
    return token


def drive(base: str, make_request, total: int, clients: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        session = requests.Session()
        mine, bad = [], 0
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            t0 = time.perf_counter()
            r = make_request(session, rng, n)
            mine.append(time.perf_counter() - t0)
            bad += r.status_code != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, errors


def summary(name: str, latencies: list[float], elapsed: float, errors: int) -> dict:
    q = statistics.quantiles(latencies, n=100)
    return {"name": name, "requests": len(latencies), "errors": errors, "per_second": len(latencies) / elapsed,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="pc-bench-")
    env = {"CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
           "CONNECTOR_PRESENCE_CONFIG": "default"}
    print(f"preparing {args.agents} agents in {tmp} ...", flush=True)
    token = prepare(env, args.agents)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "connector.cli", "serve", "--port", str(port)],
                              env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}

        def healthz(session, rng, n):
            return session.get(f"{base}/healthz")

        def change(session, rng, n):
            agent = f"agent{rng.randrange(args.agents):05d}"
            return session.put(f"{base}/api/v1/agents/{agent}/presence", json={"state": rng.choice(STATES)},
                               headers=headers)

        drive(base, healthz, 200, args.clients)  # warm-up
        results = [summary("GET /healthz (trivial)", *drive(base, healthz, args.requests, args.clients)),
                   summary("PUT presence (state change)", *drive(base, change, args.requests, args.clients))]
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"\n{args.agents} agents, {args.requests} requests per endpoint, {args.clients} client threads, "
          f"SQLite (WAL, synchronous=FULL), uvicorn + a2wsgi, {os.cpu_count()} cores\n")
    print("| endpoint | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['per_second']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |")
    ratio = results[1]["per_second"] / results[0]["per_second"]
    print(f"\nstate changes run at {ratio:.0%} of the trivial endpoint's rate on the same server")


if __name__ == "__main__":
    main()
