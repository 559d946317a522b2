"""Event streams at contact-centre scale against `presence-connector serve`.

Three parts, each on a fresh server with 1,000 agents logged in (loopback only, bounded runs):

1. 2,000 open streams (1,960 agent pages: every agent's softphone plus 960 second tabs, and 40
   dashboards that see every agent): RSS growth of the server with the streams open and idle, and
   PUT presence p50/p99 at a fixed offered rate with no stream open vs. with the 2,000 open (same run).
2. A burst of 1,000 new connections at once (GET an agent's presence, one connection each): how many
   were answered, and the time to the last answer.
3. The busy day: 1,000 softphone streams + 20 dashboards + 17 changes/s for 60 s, on one instance
   (SQLite) and on two instances sharing one PostgreSQL (streams, dashboards and PUTs spread over both):
   PUT p50/p99, change -> dashboard p50/p99 (PUT sent -> the dashboard read the agent event, across
   instances), change -> local adapter p50/p99 (the webhook adapter's POST reached a local receiver),
   RSS per instance, errors.

4. The cluster (``--only cluster``): 1, 2 and 3 instances on one PostgreSQL with fsync on: the shift start
   (every agent logs in within 60 s on 2 instances, 20 dashboards open), changes/s and p99 of a closed loop
   on 1, 2 and 3 instances (alternating rounds) with the CPU per change on the instances and on the
   PostgreSQL server, events and outbox rows per change; then the capacity model's check (docs/capacity.md):
   3 instances, streams open, half the closed-loop rate offered, predicted against measured CPU.

Stream readers run in a separate process from the PUT driver (both asyncio + aiohttp) so the PUT
latency is not the readers' event loop; time.monotonic is shared by both processes (Linux).

    make bench     # or: .venv/bin/python bench/scale_bench.py [--quick] [--only day|cluster] [--day-backend postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.ports import free_port  # noqa: E402

STATES = ["ready", "dnd", "break", "lunch", "meeting", "training"]
AGENTS = 1000


def prepare(env: dict, agents: int, supervisors: int, login: bool = True) -> dict:
    """Agents logged in on desk phones (unless not ``login``), one agent token each, supervisor tokens (20
    streams each)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from connector import create_app
    from connector.auth import accounts
    from connector.parts import get_parts

    app = create_app()
    parts = get_parts(app)
    now = parts.clock()
    tokens: dict = {"agents": {}, "supervisors": []}
    for i in range(agents):
        agent_id = f"agent{i:05d}"
        accounts.add_agent(parts.store, {"id": agent_id, "name": f"Agent {i}", "team": f"T{i % 10}"}, now)
        if login:
            parts.service.login(agent_id, "Paired Device", f"deskphone-{i}")
        tokens["agents"][agent_id] = accounts.create_token(parts.store, "agent", now, agent_id=agent_id, name=agent_id)
    tokens["supervisors"] = [
        accounts.create_token(parts.store, "supervisor", now, name=f"wall{i}") for i in range(supervisors)
    ]
    tokens["integration"] = accounts.create_token(parts.store, "integration", now, name="bench")
    parts.bus.stop()
    parts.store.dispose()
    return tokens


class Server:
    def __init__(self, agents: int, supervisors: int):
        self.tmp = tempfile.mkdtemp(prefix="pc-scale-")
        self.env = {
            "CONNECTOR_DATABASE_URL": f"sqlite:///{self.tmp}/bench.db",
            "CONNECTOR_INSTANCE_PATH": f"{self.tmp}/instance",
            "CONNECTOR_PRESENCE_CONFIG": "default",
        }
        self.tokens = prepare(self.env, agents, supervisors)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli.main", "serve", "--port", str(self.port)],
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        import requests

        for _ in range(200):
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("serve did not start")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- stream readers (a process of their own) ------------------------------------------------------


def reader_process(specs: list[tuple[str, str, bool]], conn) -> None:
    """Open every stream (base URL, token, is_dashboard), report when all snapshots are in, read until told to stop."""
    asyncio.run(_read_streams(specs, conn))


async def _read_streams(specs, conn) -> None:
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[str, str, float]] = []  # dashboards: (agent, state, monotonic) per agent event
    status = {"open": 0, "failed": 0, "events": 0}
    all_open = asyncio.Event()
    started = time.monotonic()

    async def one(session, base: str, token: str, dashboard: bool) -> None:
        try:
            async with session.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status != 200:
                    status["failed"] += 1
                    return
                buf, snapshot = bytearray(), False
                async for chunk in r.content.iter_any():
                    buf += chunk
                    while (end := buf.find(b"\n\n")) >= 0:
                        block, buf = bytes(buf[:end]), buf[end + 2 :]
                        if not snapshot:
                            if b"event: snapshot" in block:
                                snapshot = True
                                status["open"] += 1
                                if status["open"] + status["failed"] >= len(specs):
                                    all_open.set()
                            continue
                        status["events"] += 1
                        if dashboard and b"event: agent\n" in block:
                            data = json.loads(block.split(b"data: ", 1)[1])
                            arrivals.append((data["id"], (data["state"] or {}).get("id"), time.monotonic()))
        except (TimeoutError, aiohttp.ClientError):
            status["failed"] += 1
        finally:
            if status["open"] + status["failed"] >= len(specs):
                all_open.set()

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=120),
    ) as session:
        tasks = [asyncio.ensure_future(one(session, base, token, dash)) for base, token, dash in specs]
        try:
            await asyncio.wait_for(all_open.wait(), 300)
        except TimeoutError:
            pass
        conn.send({"open": status["open"], "failed": status["failed"], "seconds": time.monotonic() - started})
        await loop.run_in_executor(None, conn.recv)  # "stop"
        conn.send({"arrivals": arrivals, "events": status["events"], "failed": status["failed"]})
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Readers:
    def __init__(self, specs: list[tuple[str, str, bool]]):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=reader_process, args=(specs, child), daemon=True)
        self.proc.start()
        self.opened = self.conn.recv()

    def stop(self) -> dict:
        self.conn.send("stop")
        result = self.conn.recv()
        self.proc.join(timeout=30)
        return result


# -- the PUT driver -------------------------------------------------------------------------------


async def offered_puts(
    bases: str | list[str], token: str, rate: float, seconds: float, agents: int, seed: int = 1
) -> dict:
    """PUT presence at a fixed offered rate (open loop), round-robin over ``bases``; each picks an agent and
    a state it is not in. ``sent``: (agent, state, monotonic, wall clock) per change."""
    bases = [bases] if isinstance(bases, str) else bases
    rng = random.Random(seed)
    current = {f"agent{i:05d}": "ready" for i in range(agents)}
    latencies, sent, errors = [], [], 0

    async def put(session, base: str, agent: str, state: str) -> None:
        nonlocal errors
        t0 = time.monotonic()
        sent.append((agent, state, t0, time.time()))
        try:
            async with session.put(
                f"{base}/api/v1/agents/{agent}/presence",
                json={"state": state},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                await r.read()
                errors += r.status != 200
        except (TimeoutError, aiohttp.ClientError):
            errors += 1
        latencies.append(time.monotonic() - t0)

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        tasks, start, n = [], time.monotonic(), int(rate * seconds)
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            agent = f"agent{rng.randrange(agents):05d}"
            state = rng.choice([s for s in STATES if s != current[agent]])
            current[agent] = state
            tasks.append(asyncio.ensure_future(put(session, bases[i % len(bases)], agent, state)))
        await asyncio.gather(*tasks)
    return {"latencies": latencies, "sent": sent, "errors": errors}


async def burst(base: str, token: str, n: int, agents: int) -> dict:
    """n connections at once, each one GET of an agent's presence on a connection of its own."""
    results = []

    async def one(session, i: int) -> None:
        t0 = time.monotonic()
        try:
            async with session.get(
                f"{base}/api/v1/agents/agent{i % agents:05d}/presence", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                await r.read()
                results.append((r.status, time.monotonic() - t0))
        except (TimeoutError, aiohttp.ClientError) as exc:
            results.append((type(exc).__name__, time.monotonic() - t0))

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        start = time.monotonic()
        await asyncio.gather(*[one(session, i) for i in range(n)])
        return {
            "answered": sum(1 for s, _ in results if s == 200),
            "n": n,
            "last_s": time.monotonic() - start,
            "p99_s": pct([t for _, t in results], 99),
        }


def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[p - 1]


def ms(values: list[float], p: int) -> str:
    return f"{pct(values, p) * 1000:.1f}"


def change_to_dashboard(sent, arrivals, dashboards: int) -> tuple[list[float], int]:
    """For every change and every dashboard: sent -> that dashboard read the agent event with the new state."""
    by_key: dict[tuple[str, str], list[float]] = {}
    for agent, state, t in arrivals:
        by_key.setdefault((agent, state), []).append(t)
    delays, missing = [], 0
    for agent, state, t0, _ in sent:
        seen = sorted(t for t in by_key.get((agent, state), []) if t >= t0)[:dashboards]
        missing += dashboards - len(seen)
        delays += [t - t0 for t in seen]
    return delays, missing


# -- the parts ------------------------------------------------------------------------------------


def part_streams(args) -> list[str]:
    """Rounds of: PUTs with no stream open, open 2,000 streams, PUTs with them open, close them.

    Alternating rounds and taking the median of each condition keeps the load of other work on a
    shared machine from landing on one condition only."""
    server = Server(AGENTS, supervisors=2)
    rounds = []
    try:
        token = server.tokens["integration"]
        asyncio.run(offered_puts(server.base, token, args.rate, 3, AGENTS, seed=9))  # warm-up
        agents = list(server.tokens["agents"].values())
        specs = (
            [(server.base, t, False) for t in agents]
            + [(server.base, t, False) for t in agents[:960]]
            + [(server.base, server.tokens["supervisors"][i // 20], True) for i in range(40)]
        )
        for n in range(args.rounds):
            rss0 = server.rss_mb()
            without = asyncio.run(offered_puts(server.base, token, args.rate, args.seconds, AGENTS, seed=2 * n))
            readers = Readers(specs)
            time.sleep(3)  # idle
            rss_open = server.rss_mb()
            with_streams = asyncio.run(
                offered_puts(server.base, token, args.rate, args.seconds, AGENTS, seed=2 * n + 1)
            )
            read = readers.stop()
            time.sleep(2)  # the server notices the closed streams
            rounds.append(
                {
                    "rss0": rss0,
                    "rss_open": rss_open,
                    "opened": readers.opened,
                    "read": read,
                    "without": without,
                    "with": with_streams,
                }
            )
    finally:
        server.stop()
    lines = [
        f"### 2,000 streams, {AGENTS} agents (PUT at {args.rate:.0f}/s offered, {args.seconds:.0f} s per "
        f"phase, {args.rounds} rounds of: no stream / 2,000 streams)",
        "",
        "| round | streams opened (failed) | last snapshot s | RSS before MB | RSS with streams MB | growth MB "
        "| PUT p50 / p99 ms, none | PUT p50 / p99 ms, 2,000 streams | p99 ratio | PUT errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in enumerate(rounds, 1):
        w, s = r["without"]["latencies"], r["with"]["latencies"]
        lines.append(
            f"| {n} | {r['opened']['open']} ({r['opened']['failed']}) | {r['opened']['seconds']:.1f} | "
            f"{r['rss0']:.0f} | {r['rss_open']:.0f} | +{r['rss_open'] - r['rss0']:.0f} | "
            f"{ms(w, 50)} / {ms(w, 99)} | {ms(s, 50)} / {ms(s, 99)} | {pct(s, 99) / pct(w, 99):.2f} | "
            f"{r['without']['errors'] + r['with']['errors']} |"
        )
    med_without = statistics.median(pct(r["without"]["latencies"], 99) for r in rounds)
    med_with = statistics.median(pct(r["with"]["latencies"], 99) for r in rounds)
    lines += [
        "",
        f"median PUT p99: {med_without * 1000:.1f} ms with no stream, {med_with * 1000:.1f} ms with "
        f"2,000 streams open (ratio {med_with / med_without:.2f}); RSS growth for the first 2,000 streams: "
        f"+{rounds[0]['rss_open'] - rounds[0]['rss0']:.0f} MB",
    ]
    return lines


def part_burst(args) -> list[str]:
    server = Server(AGENTS, supervisors=1)
    try:
        result = asyncio.run(burst(server.base, server.tokens["integration"], args.burst, AGENTS))
        after = asyncio.run(burst(server.base, server.tokens["integration"], 10, AGENTS))
    finally:
        server.stop()
    return [
        f"### {args.burst:,} connections at once",
        "",
        f"- answered {result['answered']} of {result['n']}; last answer after {result['last_s']:.1f} s "
        f"(p99 {result['p99_s'] * 1000:.0f} ms); 10 requests right after: {after['answered']} of 10 answered",
    ]


def part_day(args) -> list[str]:
    backends = ["sqlite", "postgres"] if args.day_backend == "both" else [args.day_backend]
    lines = []
    for backend in backends:
        lines += day_run(args, backend) + [""]
    return lines


def change_to_adapter(sent, posts) -> tuple[list[float], int]:
    """For every change: sent -> the local receiver got the webhook adapter's POST with the new state."""
    by_agent: dict[str, list[tuple[float, str]]] = {}
    for post in posts:
        by_agent.setdefault(post["agent"], []).append((post["at"], post["state"]))
    delays, missing = [], 0
    for agent, state, _, wall in sent:
        arrived = [at for at, s in by_agent.get(agent, []) if s == state and at >= wall]
        if arrived:
            delays.append(min(arrived) - wall)
        else:
            missing += 1  # not delivered (or coalesced with a later change of the same agent)
    return delays, missing


def day_run(args, backend: str) -> list[str]:
    """The busy day on one instance (SQLite) or two sharing one PostgreSQL: streams and dashboards spread
    over the instances, PUTs round-robin, every change also delivered by the webhook adapter to a local receiver."""
    from tests.helpers.cluster import Cluster, Receiver

    receiver, pg = Receiver(), None
    tmp = tempfile.mkdtemp(prefix="pc-day-")
    if backend == "postgres":
        try:
            from tests.helpers.postgres import PostgresServer

            pg = PostgresServer()
        except Exception as exc:  # no PostgreSQL on this machine
            receiver.stop()
            return [f"### two instances on PostgreSQL: skipped ({exc})"]
        url, instances = pg.new_database(), 2
    else:
        url, instances = f"sqlite:///{tmp}/bench.db", 1
    cluster = Cluster(url, Path(tmp), receiver.url)
    try:
        tokens = prepare(
            {k: v for k, v in cluster.env.items() if k.startswith(("CONNECTOR_", "WEBHOOK_"))}, AGENTS, supervisors=1
        )
        urls = cluster.start(instances, threads=32)
        deadline = time.monotonic() + 120
        while len(receiver.snapshot()) < AGENTS and time.monotonic() < deadline:  # the logins' deliveries
            time.sleep(0.2)
        rss0 = [cluster.rss_mb(n) for n in range(instances)]
        specs = [(urls[i % instances], t, False) for i, t in enumerate(tokens["agents"].values())] + [
            (urls[i % instances], tokens["supervisors"][0], True) for i in range(20)
        ]
        readers = Readers(specs)
        rss_open = [cluster.rss_mb(n) for n in range(instances)]
        run = asyncio.run(offered_puts(urls, tokens["integration"], 17, args.day_seconds, AGENTS))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # let the last events and deliveries arrive
            time.sleep(1)
            if change_to_adapter(run["sent"], receiver.snapshot())[1] == 0:
                break
        read = readers.stop()
        rss_end = [cluster.rss_mb(n) for n in range(instances)]
        adapter, not_delivered = change_to_adapter(run["sent"], receiver.snapshot())
    finally:
        cluster.stop()
        receiver.stop()
        if pg is not None:
            pg.stop()
    delays, missing = change_to_dashboard(run["sent"], read["arrivals"], 20)
    opened = readers.opened
    where = "one instance, SQLite" if backend == "sqlite" else f"{instances} instances, one PostgreSQL"
    rss = "; ".join(f"{a:.0f} / {b:.0f} / {c:.0f}" for a, b, c in zip(rss0, rss_open, rss_end))
    return [
        f"### 1,000 softphones + 20 dashboards + 17 changes/s for {args.day_seconds:.0f} s ({where})",
        "",
        f"- streams: {opened['open']} of {len(specs)} opened at once in {opened['seconds']:.1f} s "
        f"(spread over {instances} instance(s)), {read['failed']} failed; PUTs round-robin; the webhook "
        "adapter posts every change to a local receiver",
        "",
        "| PUT p50 / p99 ms | change -> dashboard p50 / p99 ms | change -> adapter p50 / p99 ms | changes "
        "| dashboard deliveries (missing) | adapter deliveries (missing) | PUT errors "
        "| RSS MB per instance (before / streams open / end) |",
        "|---|---|---|---:|---|---|---:|---|",
        f"| {ms(run['latencies'], 50)} / {ms(run['latencies'], 99)} | {ms(delays, 50)} / {ms(delays, 99)} | "
        f"{ms(adapter, 50)} / {ms(adapter, 99)} | {len(run['sent'])} | {len(delays)} of "
        f"{len(run['sent']) * 20} ({missing}) | {len(adapter)} of {len(run['sent'])} ({not_delivered}) | "
        f"{run['errors']} | {rss} |",
    ]


# -- the cluster: 1, 2 and 3 instances on one PostgreSQL (fsync on) -----------------------------------------


def proc_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (/proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def shift_start(bases: list[str], tokens: dict[str, str], seconds: float) -> dict:
    """Every agent logs in once, arrivals spread evenly over ``seconds`` (each on its own agent token, the
    instances round-robin): latencies, errors, and when the last answer came (from the first request)."""
    latencies, errors = [], 0
    agents = list(tokens.items())

    async def one(session, base: str, agent: str, token: str) -> None:
        nonlocal errors
        t0 = time.monotonic()
        try:
            async with session.post(
                f"{base}/api/v1/agents/{agent}/login",
                json={"logon_source": "Paired Device", "device": f"desk-{agent}"},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                await r.read()
                errors += r.status != 200
        except (TimeoutError, aiohttp.ClientError):
            errors += 1
        latencies.append(time.monotonic() - t0)

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        tasks, start = [], time.monotonic()
        for i, (agent, token) in enumerate(agents):
            await asyncio.sleep(max(0.0, start + i * seconds / len(agents) - time.monotonic()))
            tasks.append(asyncio.ensure_future(one(session, bases[i % len(bases)], agent, token)))
        await asyncio.gather(*tasks)
        return {"latencies": latencies, "errors": errors, "last_s": time.monotonic() - start, "n": len(agents)}


def wrk_over(bases: list[str], token: str, seconds: float, clients: int, tmp: str) -> dict:
    """Closed loop: one wrk per instance, ``clients`` connections shared out between them, all at once;
    changes/s summed, p99 the highest of the instances' (wrk reports percentiles per process)."""
    from bench.api_bench import WRK_SCRIPT, parse_wrk

    text = WRK_SCRIPT % {
        "method": "PUT",
        "prefix": "/api/v1/agents/agent",
        "suffix": "/presence",
        "agents": AGENTS,
        "headers": f'["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"',
    }
    scripts = []
    for n in range(len(bases)):  # a seed of its own per wrk process (else all send the same agents and states)
        script = Path(tmp) / f"cluster-{n}.lua"
        script.write_text(
            text.replace("math.randomseed(seed * 7919 + 17)", f"math.randomseed(seed * 7919 + {17 + n * 104729})")
        )
        scripts.append(script)
    shares = [clients // len(bases) + (1 if i < clients % len(bases) else 0) for i in range(len(bases))]
    procs = [
        subprocess.Popen(
            ["wrk", "-t1", f"-c{c}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), base],
            stdout=subprocess.PIPE,
            text=True,
        )
        for base, c, script in zip(bases, shares, scripts)
    ]
    runs = [parse_wrk(proc.communicate()[0]) for proc in procs]
    return {
        "per_second": sum(r["per_second"] for r in runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def table_counts(url: str) -> tuple[int, int]:
    """(events, outbox rows) written so far."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        # the highest ids, not the row counts: the poller prunes old events, the dispatcher deletes delivered rows
        events = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        outbox = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
    return events, outbox


def part_cluster(args) -> list[str]:
    """Instances sharing one PostgreSQL (fsync on, synchronous_commit on), the webhook adapter delivering every
    change to a local receiver. (1) Shift start on 2 instances: every agent logs in within ``--shift-seconds``
    while 20 dashboards watch. (2) Closed loop (wrk, 16 connections shared out) on 1, 2 and 3 of the instances
    in alternating rounds: changes/s, p99, CPU per change on the instances and on the PostgreSQL server,
    events and outbox rows per change. (3) The model check: 3 instances with agent streams and the 20
    dashboards open, an offered rate of half the 3-instance closed-loop rate; the CPU the capacity model
    (docs/capacity.md) predicts from (2)'s inputs against the CPU measured."""
    from tests.helpers.cluster import Cluster, Receiver
    from tests.helpers.postgres import PostgresServer

    receiver, pg = Receiver(), PostgresServer(fsync=True)
    tmp = tempfile.mkdtemp(prefix="pc-cluster-")
    url = pg.new_database()
    cluster = Cluster(url, Path(tmp), receiver.url)
    lines = []
    try:
        print("[cluster] preparing agents ...", flush=True)
        tokens = prepare(
            {k: v for k, v in cluster.env.items() if k.startswith(("CONNECTOR_", "WEBHOOK_"))},
            AGENTS,
            supervisors=1,
            login=False,
        )
        urls = cluster.start(3, threads=32)
        pids = [proc.pid for proc in cluster.processes]

        # (1) shift start on two instances, 20 dashboards watching
        print("[cluster] shift start ...", flush=True)
        dashboards = Readers([(urls[i % 2], tokens["supervisors"][0], True) for i in range(20)])
        cpu0, pg0 = proc_cpu_seconds(pids), pg.cpu_seconds()
        shift = asyncio.run(shift_start(urls[:2], tokens["agents"], args.shift_seconds))
        cpu_shift, pg_shift = proc_cpu_seconds(pids) - cpu0, pg.cpu_seconds() - pg0
        dashboards.stop()
        lines += [
            f"### Shift start: {shift['n']} agents log in over {args.shift_seconds:.0f} s on 2 instances, "
            "20 dashboards open (one PostgreSQL, fsync on)",
            "",
            "| logged in | last answer after s | p50 ms | p99 ms | errors | instances CPU s | PostgreSQL CPU s |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {shift['n'] - shift['errors']} of {shift['n']} | {shift['last_s']:.1f} | {ms(shift['latencies'], 50)} | "
            f"{ms(shift['latencies'], 99)} | {shift['errors']} | {cpu_shift:.1f} | {pg_shift:.1f} |",
            "",
        ]

        # (2) closed loop on 1, 2 and 3 instances, alternating rounds
        token = tokens["integration"]
        wrk_over(urls, token, 2, 16, tmp)  # warm-up
        time.sleep(3)  # the warm-up's deliveries
        idle0, t0 = proc_cpu_seconds(pids) + pg.cpu_seconds(), time.monotonic()
        time.sleep(5)
        # what the 3 instances and the server use with no change and no stream (pollers, jobs): not a change's cost
        idle_cores = (proc_cpu_seconds(pids) + pg.cpu_seconds() - idle0) / (time.monotonic() - t0)
        rounds: dict[int, list[dict]] = {1: [], 2: [], 3: []}
        for _ in range(args.cluster_rounds):
            for n in (1, 2, 3):
                load = os.getloadavg()[0]
                counts0, cpu0, pg0 = table_counts(url), proc_cpu_seconds(pids), pg.cpu_seconds()
                t0 = time.monotonic()
                run = wrk_over(urls[:n], token, args.cluster_seconds, 16, tmp)
                counts1, cpu1, pg1 = table_counts(url), proc_cpu_seconds(pids), pg.cpu_seconds()
                changes = max(1, run["requests"])
                # the idle share (measured above) taken off, split between instances and server as measured
                idle_share = idle_cores * (time.monotonic() - t0)
                busy = max(1e-9, (cpu1 - cpu0) + (pg1 - pg0))
                run.update(
                    load=load,
                    instance_cpu_ms=max(0.0, (cpu1 - cpu0) - idle_share * (cpu1 - cpu0) / busy) / changes * 1000,
                    pg_cpu_ms=max(0.0, (pg1 - pg0) - idle_share * (pg1 - pg0) / busy) / changes * 1000,
                    events=(counts1[0] - counts0[0]) / changes,
                    outbox=(counts1[1] - counts0[1]) / changes,
                )
                rounds[n].append(run)
        med = {n: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for n, runs in rounds.items()}
        lines += [
            f"### Closed loop: wrk, 16 connections shared out over the instances, {args.cluster_rounds} alternating "
            f"rounds of {args.cluster_seconds:g} s, medians",
            "",
            f"(CPU per change: what the round used beyond the idle {idle_cores:.2f} cores of 3 instances and the "
            "server measured for 5 s before; events and outbox rows: ids taken per PUT answered, a PUT to the "
            "state the agent is in changes nothing)",
            "",
            "| instances | changes/s | p50 ms | p99 ms | errors | instance CPU ms per change | PostgreSQL CPU ms per "
            "change | events per change | outbox rows per change | load average |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for n, m in med.items():
            errors = sum(r["errors"] for r in rounds[n])
            lines.append(
                f"| {n} | {m['per_second']:.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {errors} | "
                f"{m['instance_cpu_ms']:.2f} | {m['pg_cpu_ms']:.2f} | {m['events']:.2f} | {m['outbox']:.2f} | "
                f"{m['load']:.1f} |"
            )
        lines.append("")
        lines.append(
            "per round, changes/s: "
            + "; ".join(f"{n}: " + ", ".join(f"{r['per_second']:.0f}" for r in runs) for n, runs in rounds.items())
        )
        lines.append("")

        # (3) the model check: 3 instances, streams open, half the closed-loop rate offered
        rate = max(5.0, med[3]["per_second"] / 2)
        per_change = med[1]["instance_cpu_ms"] + med[1]["pg_cpu_ms"]
        streams = [
            (urls[i % 3], t, False) for i, t in enumerate(list(tokens["agents"].values())[: args.cluster_streams])
        ]
        streams += [(urls[i % 3], tokens["supervisors"][0], True) for i in range(20)]
        rss0 = [cluster.rss_mb(n) for n in range(3)]
        readers = Readers(streams)
        rss1 = [cluster.rss_mb(n) for n in range(3)]
        idle0, pidle0, t0 = proc_cpu_seconds(pids), pg.cpu_seconds(), time.monotonic()
        time.sleep(5)  # the streams open and idle: the instances' own CPU without changes
        idle = (proc_cpu_seconds(pids) - idle0 + pg.cpu_seconds() - pidle0) / (time.monotonic() - t0)
        cpu0, pg0, t0 = proc_cpu_seconds(pids), pg.cpu_seconds(), time.monotonic()
        run3 = asyncio.run(offered_puts(urls, token, rate, args.cluster_seconds * 2, AGENTS, seed=5))
        elapsed = time.monotonic() - t0
        cores = (proc_cpu_seconds(pids) - cpu0 + pg.cpu_seconds() - pg0) / elapsed
        read = readers.stop()
        predicted = idle + rate * per_change / 1000
        per_stream_kb = (sum(rss1) - sum(rss0)) * 1024 / max(1, len(streams))
        lines += [
            f"### Model check: 3 instances, {len(streams)} streams open ({args.cluster_streams} agents' + 20 "
            f"dashboards), {rate:.0f} changes/s offered for {args.cluster_seconds * 2:g} s",
            "",
            f"- inputs from the 1-instance closed loop above (idle taken off): {med[1]['instance_cpu_ms']:.2f} ms "
            "instance CPU + "
            f"{med[1]['pg_cpu_ms']:.2f} ms PostgreSQL CPU per change; idle CPU with the streams open "
            f"{idle:.2f} cores (measured 5 s before the changes); memory per open stream {per_stream_kb:.0f} KB "
            f"(RSS of the 3 instances before / after opening: {sum(rss0):.0f} / {sum(rss1):.0f} MB)",
            f"- predicted CPU (instances + PostgreSQL): {predicted:.2f} cores; measured: {cores:.2f} cores "
            f"({(cores - predicted) / predicted * 100:+.0f} %)",
            f"- PUT p50 / p99: {ms(run3['latencies'], 50)} / {ms(run3['latencies'], 99)} ms, errors "
            f"{run3['errors']}, events read by the streams {read['events']}",
            "",
        ]
    finally:
        cluster.stop()
        receiver.stop()
        pg.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=40.0, help="PUTs per second offered in part 1")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each PUT phase of part 1")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of part 1")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--day-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="short phases (a smoke run, not figures)")
    parser.add_argument("--only", choices=["streams", "burst", "day", "cluster"])
    parser.add_argument("--shift-seconds", type=float, default=60.0, help="cluster: the shift start's length")
    parser.add_argument("--cluster-seconds", type=float, default=5.0, help="cluster: seconds per closed-loop round")
    parser.add_argument("--cluster-rounds", type=int, default=3, help="cluster: alternating rounds")
    parser.add_argument("--cluster-streams", type=int, default=300, help="cluster: agent streams in the model check")
    parser.add_argument(
        "--day-backend",
        choices=["sqlite", "postgres", "both"],
        default="both",
        help="the day on one SQLite instance, on two instances sharing PostgreSQL, or both",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.day_seconds, args.rounds = 5.0, 10.0, 1
        args.shift_seconds, args.cluster_seconds, args.cluster_rounds = 10.0, 2.0, 1
    lines = [
        f"{os.cpu_count()} cores; `presence-connector serve` (uvicorn, the API on 32 threads) on SQLite "
        "(WAL, synchronous=FULL) or PostgreSQL (throwaway server, tests/helpers/postgres.py); clients on the same "
        "machine",
        "",
    ]
    parts = (("streams", part_streams), ("burst", part_burst), ("day", part_day), ("cluster", part_cluster))
    for name, part in parts:
        if args.only in (None, name):
            print(f"running part: {name} ...", flush=True)
            lines += part(args) + [""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
