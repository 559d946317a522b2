"""GET /metrics with 2,000 open event streams, next to GET /healthz in the same run.

Starts `presence-connector serve` (the production server) on a temporary SQLite store with 1,000 agents,
all logged in, and the webhook adapter pointed at a closed local port, so the outbox holds a row per agent
that keeps failing (the outbox gauges have rows to count). Then, in alternating rounds, times GET /healthz
and GET /metrics (admin token) over one keep-alive connection: first with no stream open, then with
``--streams`` event streams open (agent tokens, two streams per agent, each read past its snapshot). Figures
are medians of the rounds; the ratio is /metrics over /healthz measured in the same phase. Also reported:
the store part of the scrape as the server measured it (``connector_metrics_scrape_seconds``).

    make bench    # or: .venv/bin/python bench/metrics_bench.py [--agents 1000 --streams 2000 --rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from connector import create_app  # noqa: E402
from connector.auth import accounts  # noqa: E402
from connector.clock import utc_now  # noqa: E402
from connector.parts import get_parts  # noqa: E402
from tests.helpers.cluster import Cluster  # noqa: E402

GOAL_MS = 50.0


def timed(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[float, bytes]:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    took = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    return took, body


def phase(base: str, admin: str, rounds: int) -> dict:
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    health, scrape, store_part, size = [], [], [], 0
    bearer = {"Authorization": f"Bearer {admin}"}
    for _ in range(3):  # warm the connection and the caches
        timed(conn, "/healthz", {})
        timed(conn, "/metrics", bearer)
    for _ in range(rounds):
        health.append(timed(conn, "/healthz", {})[0])
        took, body = timed(conn, "/metrics", bearer)
        scrape.append(took)
        size = len(body)
        for line in body.decode().splitlines():
            if line.startswith("connector_metrics_scrape_seconds "):
                store_part.append(float(line.split()[1]) * 1000)
    conn.close()
    return {
        "healthz_ms": statistics.median(health),
        "metrics_ms": statistics.median(scrape),
        "metrics_p90_ms": sorted(scrape)[int(0.9 * (len(scrape) - 1))],
        "store_part_ms": statistics.median(store_part) if store_part else float("nan"),
        "bytes": size,
    }


async def open_streams(base: str, tokens: list[str], count: int):
    """``count`` open streams (each read past its snapshot); returns the session and responses to close later."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=False), timeout=aiohttp.ClientTimeout(total=None)
    )
    gate = asyncio.Semaphore(64)

    async def one(n: int):
        async with gate:
            response = await session.get(
                f"{base}/api/v1/events", headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
            )
            if response.status != 200:
                raise RuntimeError(f"stream {n}: {response.status} {await response.text()}")
            await response.content.readuntil(b"\n\n")  # the snapshot
            return response

    responses = await asyncio.gather(*(one(n) for n in range(count)))
    return session, responses


async def with_streams(base: str, admin: str, tokens: list[str], count: int, rounds: int, cluster: Cluster) -> dict:
    session, responses = await open_streams(base, tokens, count)
    try:
        loop = asyncio.get_running_loop()
        figures = await loop.run_in_executor(None, phase, base, admin, rounds)
        figures["open_streams_seen"] = await loop.run_in_executor(None, open_count, base, admin)
        figures["serve_rss_mb"] = cluster.rss_mb(0)
        return figures
    finally:
        for response in responses:
            response.close()
        await session.close()


def open_count(base: str, admin: str) -> int:
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    _, body = timed(conn, "/metrics", {"Authorization": f"Bearer {admin}"})
    conn.close()
    for line in body.decode().splitlines():
        if line.startswith("connector_open_streams "):
            return int(float(line.split()[1]))
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = Cluster(
            f"sqlite:///{work / 'presence.db'}",
            work,
            "http://127.0.0.1:9/presence",  # the discard port: nothing listens, every delivery fails and waits
            extra_env={"CONNECTOR_STREAMS_PER_PRINCIPAL": "100", "CONNECTOR_ACCESS_LOG": "off"},
        )
        agents = [f"a{n:04d}" for n in range(args.agents)]
        cluster.cli("init-db")
        (work / "agents.csv").write_text("id,name\n" + "".join(f"{a},{a.upper()}\n" for a in agents))
        cluster.cli("agents", "import", str(work / "agents.csv"))
        # the tokens made on the store directly (a CLI call each would take minutes)
        os.environ.update(cluster.env)  # the adapters' own settings (WEBHOOK_URL) are read from the environment
        app = create_app({"INSTANCE_PATH": str(work)})
        parts = get_parts(app)
        admin = accounts.create_token(parts.store, "admin", utc_now(), name="prometheus")
        tokens = [accounts.create_token(parts.store, "agent", utc_now(), agent_id=a, name=a) for a in agents]
        for a in agents:
            parts.service.login(a, "Softphone", "browser")
        parts.bus.stop()
        parts.store.dispose()
        print(
            f"store: {args.agents} agents logged in, one waiting webhook delivery each; starting serve ...", flush=True
        )
        try:
            (base,) = cluster.start(1, threads=8)
            idle = phase(base, admin, args.rounds)
            busy = asyncio.run(with_streams(base, admin, tokens, args.streams, args.rounds, cluster))
        finally:
            cluster.stop()
    print()
    print(
        f"{'':28} {'/healthz ms':>12} {'/metrics ms':>12} {'p90 ms':>8} {'ratio':>6} {'store part ms':>14} {'bytes':>7}"
    )
    for name, f in (("no stream open", idle), (f"{busy['open_streams_seen']} streams open", busy)):
        ratio = f["metrics_ms"] / f["healthz_ms"]
        print(
            f"{name:28} {f['healthz_ms']:12.1f} {f['metrics_ms']:12.1f} {f['metrics_p90_ms']:8.1f} {ratio:6.2f}"
            f" {f['store_part_ms']:14.2f} {f['bytes']:7d}"
        )
    print(f"serve RSS with the streams open: {busy['serve_rss_mb']:.0f} MB")
    verdict = "meets" if busy["metrics_ms"] < GOAL_MS else "MISSES"
    print(
        f"scrape with {busy['open_streams_seen']} streams open: {busy['metrics_ms']:.1f} ms median, {verdict} the {GOAL_MS:.0f} ms goal"
    )


if __name__ == "__main__":
    main()
