"""State changes: CPU per change in process, and rate and latency through HTTP next to the anchor.

In process (no server): CPU seconds per ``PUT /api/v1/agents/{id}/presence`` through the Flask route
(test client), and per change on the path ``serve`` answers that request with (connector/serve/fast_path.py:
the token check, the body's checks, the service call and the answer, without Flask), against CPU per
change of the anchor (``bench/anchor.py``: the minimal durable write, close the
open interval + insert the new one in one SQLite WAL transaction).

Through HTTP: starts `presence-connector serve` (uvicorn, the Flask app on worker threads, the production
server, which answers a plain presence change on its fast path and everything else through Flask) on a
temporary store with 1,000 logged-in agents and the anchor served the same way, then drives
GET /healthz/live, the anchor's PUT and the app's PUT in the same run, in alternating rounds, with wrk
(``-t2 -c16``, keep-alive HTTP/1.1, random agent and state per request: the load generator the issue's
own figures came from; written in C, so it takes little of the 2 cores the servers need). The ratios say
what the presence path costs beyond the minimal durable write and beyond HTTP itself. ``--driver python``
drives them from Python client threads instead (the figures before the fast path).

With ``--postgres`` the same rounds also drive the app's PUT on a throwaway PostgreSQL server (fsync on,
``synchronous_commit=on``, both servers up side by side), and report its rate against SQLite's in each round,
its p99, and the PostgreSQL server's CPU per change (every server process, from /proc/<pid>/stat).

    make bench    # or: .venv/bin/python bench/api_bench.py [--seconds 10 --rounds 3 --clients 16] [--postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.ports import free_port  # noqa: E402

STATES = ["ready", "dnd", "break", "lunch", "meeting", "training"]


def prepare(env: dict, agents: int):
    """Create agents, log them in on desk phones; returns (app, integration token)."""
    os.environ.update(env)
    from connector import create_app
    from connector.auth import accounts
    from connector.parts import get_parts

    app = create_app()
    parts = get_parts(app)
    now = parts.clock()
    for i in range(agents):
        accounts.add_agent(parts.store, {"id": f"agent{i:05d}", "name": f"Agent {i}", "team": f"T{i % 10}"}, now)
        parts.service.login(f"agent{i:05d}", "Paired Device", f"deskphone-{i}")
    token = accounts.create_token(parts.store, "integration", now, name="bench")
    return app, token


def cpu_per_request(client, make, n: int) -> float:
    """Median over 3 rounds of CPU milliseconds (this process, all threads) per request."""
    rng = random.Random(7)
    for i in range(50):
        make(client, rng, i)
    rounds = []
    for _ in range(3):
        t0 = time.process_time()
        for i in range(n):
            make(client, rng, i)
        rounds.append((time.process_time() - t0) / n * 1000)
    return statistics.median(rounds)


def drive(port: int, method: str, path_for, body_for, headers: dict, total: int, clients: int):
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, bad = [], 0
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = body_for(rng)
            t0 = time.perf_counter()
            conn.request(method, path_for(rng), body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            bad += resp.status != 200
        conn.close()
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


WRK_SCRIPT = """
local method, prefix, suffix, agents = "%(method)s", "%(prefix)s", "%(suffix)s", %(agents)d
local headers = {%(headers)s}
local states = {"ready", "dnd", "break", "lunch", "meeting", "training"}
local counter = 0
setup = function(thread) thread:set("seed", counter); counter = counter + 1 end
init = function() math.randomseed(seed * 7919 + 17) end
request = function()
  local body = nil
  if method == "PUT" then body = '{"state": "' .. states[math.random(1, #states)] .. '"}' end
  local path = prefix
  if suffix ~= "" then path = string.format("%%s%%05d%%s", prefix, math.random(0, agents - 1), suffix) end
  return wrk.format(method, path, headers, body)
end
"""


def drive_wrk(
    port: int, method: str, prefix: str, suffix: str, headers: dict, seconds: float, clients: int, agents: int, tmp: str
) -> dict:
    """One wrk run: requests/s, p50/p99 ms (wrk's own latency percentiles), non-2xx answers and socket errors."""
    script = Path(tmp) / f"wrk-{port}-{method}.lua"
    lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    script.write_text(
        WRK_SCRIPT % {"method": method, "prefix": prefix, "suffix": suffix, "agents": agents, "headers": lua_headers}
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    def ms(text: str) -> float:
        value = float(re.match(r"[0-9.]+", text).group())
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[re.search(r"(us|ms|s)$", text).group(1)]

    p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    requests = int(re.search(r"([0-9]+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    sockets = re.search(r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in sockets.groups()) if sockets else 0)
    return {"per_second": rate, "p50_ms": p50, "p99_ms": p99, "requests": requests, "errors": errors}


def summary(name: str, latencies: list[float], elapsed: float, errors: int) -> dict:
    q = statistics.quantiles(latencies, n=100)
    return {
        "name": name,
        "requests": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


def wait_up(port: int, path: str) -> None:
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


class Backend:
    """One store with `presence-connector serve` running on it (and, for SQLite, the anchor beside it)."""

    def __init__(self, args, backend: str, database_url: str, tmp: str, pg=None):
        self.backend, self.pg = backend, pg
        env = {
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
            "CONNECTOR_PRESENCE_CONFIG": "default",
        }
        print(f"[{backend}] preparing {args.agents} agents ...", flush=True)
        app, token = prepare(env, args.agents)
        from connector.serve.asgi import tune_gc

        tune_gc()  # the collector as `serve` sets it once started (the anchor's figure is taken in this process too)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def app_put(client, rng, n):
            r = client.put(
                f"/api/v1/agents/agent{rng.randrange(args.agents):05d}/presence",
                json={"state": rng.choice(STATES)},
                headers=self.headers,
            )
            assert r.status_code == 200, r.data

        cpu_app = cpu_per_request(app.test_client(), app_put, args.cpu_requests)
        from connector.serve.fast_path import FastPresence

        fast = FastPresence(app)  # what `serve` runs for this request (connector/serve/fast_path.py)

        def fast_put(fast_path, rng, n):
            body = json.dumps({"state": rng.choice(STATES)}).encode()
            assert fast_path.answer(f"agent{rng.randrange(args.agents):05d}", token, body) is not None

        cpu_fast = cpu_per_request(fast, fast_put, args.cpu_requests)
        from connector.parts import get_parts

        get_parts(app).store.dispose()
        self.cpu = {"name": "CPU per change in process", "app_ms": cpu_app, "fast_ms": cpu_fast, "anchor_ms": None}
        self.port = free_port()
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "connector.cli.main", "serve", "--port", str(self.port)],
                env={**os.environ, **env, "PYTHONPATH": args.code or str(ROOT)},
                cwd=args.code or ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        ]
        self.anchor_port = None
        if backend == "sqlite":
            from bench.anchor import create_anchor_app
            from bench.anchor import prepare as prepare_anchor

            anchor_db = f"{tmp}/anchor.db"
            prepare_anchor(anchor_db, args.agents)
            anchor = create_anchor_app(anchor_db).test_client()

            def anchor_put(client, rng, n):
                r = client.put(
                    f"/agents/agent{rng.randrange(args.agents):05d}/presence", json={"state": rng.choice(STATES)}
                )
                assert r.status_code == 200

            self.cpu["anchor_ms"] = cpu_per_request(anchor, anchor_put, args.cpu_requests)
            self.anchor_port = free_port()
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "anchor.py"),
                        "--db",
                        anchor_db,
                        "--port",
                        str(self.anchor_port),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                )
            )
            wait_up(self.anchor_port, "/")
        wait_up(self.port, "/healthz")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)


def plan_for(backends: list[Backend]) -> list[tuple]:
    """(name, port, method, prefix, suffix, headers, PostgreSQL server or None) of each endpoint measured."""
    first = backends[0]
    plan = [("GET /healthz/live (trivial)", first.port, "GET", "/healthz/live", "", {}, None)]
    for b in backends:
        plan.append(
            (
                f"PUT presence (the app, {b.backend})",
                b.port,
                "PUT",
                "/api/v1/agents/agent",
                "/presence",
                b.headers,
                b.pg,
            )
        )
        if b.anchor_port:
            anchor_headers = {"Content-Type": "application/json"}
            plan.append(
                (
                    "PUT anchor (minimal durable write)",
                    b.anchor_port,
                    "PUT",
                    "/agents/agent",
                    "/presence",
                    anchor_headers,
                    None,
                )
            )
    return plan


def measure_python(args, plan: list[tuple]) -> list[dict]:
    """The endpoints driven from Python client threads (``--driver python``), two alternating rounds."""

    def change_body(rng):
        return json.dumps({"state": rng.choice(STATES)})

    def path_for(prefix: str, suffix: str):
        if not suffix:
            return lambda rng: prefix
        return lambda rng: f"{prefix}{rng.randrange(args.agents):05d}{suffix}"

    steps = [
        (name, p, m, path_for(prefix, suffix), change_body if m == "PUT" else (lambda rng: None), h)
        for name, p, m, prefix, suffix, h, _ in plan
    ]
    for _, p, m, path, body, h in steps:  # warm-up
        drive(p, m, path, body, h, 200, args.clients)
    # two alternating rounds each, so a noisy neighbour on the machine hits both sides alike
    measured: dict[str, list] = {}
    for _ in range(2):
        for name, p, m, path, body, h in steps:
            lat, elapsed, errors = drive(p, m, path, body, h, args.requests // 2, args.clients)
            acc = measured.setdefault(name, [[], 0.0, 0])
            acc[0].extend(lat)
            acc[1] += elapsed
            acc[2] += errors
    return [summary(name, *measured[name]) for name, *_ in steps]


def measure_wrk(args, plan: list[tuple], tmp: str) -> list[dict]:
    """The endpoints driven by wrk in ``--rounds`` alternating rounds of ``--seconds`` each, so a noisy
    neighbour on the machine hits every side alike; each figure is the median over the rounds. For an
    endpoint served on PostgreSQL, the server's CPU over the round (all its processes, /proc/<pid>/stat)
    per request, and the machine's load average at the start of each round."""
    for _, p, method, prefix, suffix, h, _ in plan:  # warm-up
        drive_wrk(p, method, prefix, suffix, h, 2, args.clients, args.agents, tmp)
    rounds: dict[str, list[dict]] = {name: [] for name, *_ in plan}
    for _ in range(args.rounds):
        for name, p, method, prefix, suffix, h, pg in plan:
            load = os.getloadavg()[0]
            cpu0 = pg.cpu_seconds() if pg else 0.0
            run = drive_wrk(p, method, prefix, suffix, h, args.seconds, args.clients, args.agents, tmp)
            if pg:
                run["server_cpu_ms"] = (pg.cpu_seconds() - cpu0) / max(1, run["requests"]) * 1000
            run["load"] = load
            rounds[name].append(run)
    results = []
    for name, runs in rounds.items():
        keys = ["per_second", "p50_ms", "p99_ms"] + (["server_cpu_ms"] if "server_cpu_ms" in runs[0] else [])
        results.append(
            {
                "name": name,
                "requests": sum(r["requests"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                **{key: statistics.median(r[key] for r in runs) for key in keys},
                "rounds": runs,
            }
        )
    return results


def report(title: str, cpus: list[tuple[str, dict]], results: list[dict], args) -> None:
    load = (
        f"wrk -t2 -c{args.clients}, {args.rounds} alternating rounds of {args.seconds:g} s per endpoint, medians"
        if args.driver == "wrk"
        else f"Python client threads, {args.requests} requests per endpoint, {args.clients} connections"
    )
    print(
        f"\n{title}: {args.agents} agents, {load}; `presence-connector serve` (uvicorn, 32 worker threads), "
        f"{os.cpu_count()} cores (client and servers share them)\n"
    )
    for backend, cpu in cpus:
        line = (
            f"CPU per change in process ({backend}): app {cpu['app_ms']:.2f} ms through Flask (test client), "
            f"{cpu['fast_ms']:.2f} ms on serve's fast path (connector/serve/fast_path.py)"
        )
        if cpu["anchor_ms"] is not None:
            line += f", anchor {cpu['anchor_ms']:.2f} ms"
        print(line)
    print("\n| endpoint | requests/s | p50 ms | p99 ms | errors | PostgreSQL server CPU ms per request |")
    print("|---|---:|---:|---:|---:|---:|")
    by_name = {}
    for r in results:
        by_name[r["name"]] = r
        server = f"{r['server_cpu_ms']:.2f}" if "server_cpu_ms" in r else ""
        print(
            f"| {r['name']} | {r['per_second']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {server} |"
        )
    puts = {n.split(", ", 1)[1].rstrip(")"): r for n, r in by_name.items() if n.startswith("PUT presence")}
    first = next(iter(puts.values()))
    trivial = by_name["GET /healthz/live (trivial)"]["per_second"]
    print(f"\nstate changes ({next(iter(puts))}) / trivial endpoint: {first['per_second'] / trivial:.2f}x")

    def per_round(a: dict, b: dict) -> str:
        if "rounds" not in a:
            return ""
        ratios = [x["per_second"] / y["per_second"] for x, y in zip(a["rounds"], b["rounds"])]
        return "; per round: " + ", ".join(f"{r:.2f}x" for r in ratios) + f" (median {statistics.median(ratios):.2f}x)"

    if "PUT anchor (minimal durable write)" in by_name:
        anchor = by_name["PUT anchor (minimal durable write)"]
        print(
            f"state changes (sqlite) / anchor (minimal durable write): "
            f"{puts['sqlite']['per_second'] / anchor['per_second']:.2f}x" + per_round(puts["sqlite"], anchor)
        )
    if "sqlite" in puts and "postgresql" in puts:
        pg, lite = puts["postgresql"], puts["sqlite"]
        print(f"state changes PostgreSQL / SQLite: {pg['per_second'] / lite['per_second']:.2f}x" + per_round(pg, lite))
    for backend, r in puts.items():
        if "rounds" in r:
            print(
                f"{backend} p99 per round: "
                + ", ".join(f"{x['p99_ms']:.1f}" for x in r["rounds"])
                + " ms; load average at each round's start: "
                + ", ".join(f"{x['load']:.1f}" for x in r["rounds"])
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--cpu-requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--driver",
        choices=("wrk", "python"),
        default="wrk",
        help="the HTTP load generator (wrk: apt-get install wrk; python: client threads)",
    )
    parser.add_argument("--seconds", type=float, default=10, help="wrk: seconds per endpoint per round")
    parser.add_argument("--rounds", type=int, default=3, help="wrk: alternating rounds (figures are medians)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also run against a throwaway PostgreSQL server (fsync on), in the same alternating rounds",
    )
    parser.add_argument(
        "--code", help="a tree whose connector and adapters packages `serve` runs (default: this checkout)"
    )
    parser.add_argument("--fsync-off", action="store_true", help="PostgreSQL with fsync=off (the tests' server)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="pc-bench-")
    pg = None
    backends: list[Backend] = []
    try:
        backends.append(Backend(args, "sqlite", f"sqlite:///{tmp}/bench.db", tmp))
        if args.postgres:
            from tests.helpers.postgres import PostgresServer

            pg = PostgresServer(fsync=not args.fsync_off)
            pg_tmp = tempfile.mkdtemp(prefix="pc-bench-pg-")
            backends.append(Backend(args, "postgresql", pg.new_database(), pg_tmp, pg=pg))
        plan = plan_for(backends)
        results = measure_wrk(args, plan, tmp) if args.driver == "wrk" else measure_python(args, plan)
    finally:
        for b in backends:
            b.stop()
        if pg is not None:
            pg.stop()
    title = "SQLite (WAL, synchronous=FULL)"
    if args.postgres:
        title += f" and PostgreSQL (throwaway server, fsync={'off' if args.fsync_off else 'on'}, synchronous_commit=on)"
    report(title, [(b.backend, b.cpu) for b in backends], results, args)


if __name__ == "__main__":
    main()
