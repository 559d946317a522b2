"""Shift start: 1,000 agents signing in to the softphone within a minute, through single sign-on and through
PINs, on one instance (SQLite) and on two (one PostgreSQL), against real `presence-connector serve` processes.

Each agent is its own browser (an aiohttp session with its own cookie jar), arriving at an even pace over
the window (open loop: an agent does not wait for the one before):

- PIN: GET /auth/agent (the form and its CSRF token), POST agent id + PIN -> 302 to the softphone. The PINs
  are hashed at the production cost (scrypt N=32768), so each sign-in costs one scrypt check, at most
  ``CONNECTOR_HASH_CONCURRENCY`` (2) at once per instance.
- SSO: GET /auth/oidc/start?as=agent -> the provider's form (oidc-provider-mock, its own process on
  127.0.0.1), POST the agent's subject -> back to /auth/oidc/callback -> 302 to the softphone (code
  exchange with PKCE, the ID token checked against the provider's keys; no hash). On two instances the
  callback goes to the OTHER instance than the start (the state travels in the signed cookie).

Reported per case: sign-ins completed in the window, the achieved rate, p50/p99 of a whole sign-in, the
time from the first arrival to the last completion, failures; and SSO/PIN ratios from the same run.

    .venv/bin/python bench/signin_bench.py [--agents 1000] [--window 60] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import requests
from sqlalchemy import update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector import settings as settings_mod  # noqa: E402
from connector.auth import hashing  # noqa: E402
from connector.store import Store  # noqa: E402
from connector.store.models import Agent  # noqa: E402
from tests.helpers.cluster import Cluster, Receiver  # noqa: E402
from tests.helpers.polling import wait_until  # noqa: E402
from tests.helpers.ports import free_port  # noqa: E402

PIN = "4826"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def start_provider(kind: str) -> tuple[subprocess.Popen, str]:
    """The provider in its own process: ``quick`` (tests/helpers/oidc.py's provider: answers the code flow
    at once, ID tokens signed with a key loaded once) or ``mock`` (oidc-provider-mock: its form, and
    its token endpoint reloads its private key on every call, which caps it at a few sign-ins a second)."""
    port = free_port()
    if kind == "mock":
        command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--require-nonce", "true"]
    else:
        command = [sys.executable, "-m", "tests.helpers.oidc", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(url + "/.well-known/openid-configuration", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, 30, "the OIDC provider to answer", 0.1)
    return proc, url


def prepare_agents(cluster: Cluster, count: int) -> list[str]:
    """``count`` agents with email ``<id>@example.com`` and one PIN hashed at the production cost (one hash
    made here and stored for all: making 1,000 standard hashes would take minutes and measure nothing)."""
    agents = [f"agent{i:04d}" for i in range(count)]
    cluster.cli("init-db")
    csv_path = cluster.workdir / "agents.csv"
    csv_path.write_text("id,name,email\n" + "".join(f"{a},{a.title()},{a}@example.com\n" for a in agents))
    cluster.cli("agents", "import", str(csv_path))
    settings = settings_mod.from_environment(cluster.env["CONNECTOR_INSTANCE_PATH"], cluster.env)
    hashing.use_hash_cost("standard")
    digest = hashing.hash_secret(PIN, settings.pepper.encode())
    store = Store(settings.database_url, pepper=settings.pepper.encode())
    with store.write() as s:
        s.execute(update(Agent).values(pin_hash=digest))
    store.dispose()
    return agents


async def pin_sign_in(session: aiohttp.ClientSession, base: str, agent: str) -> None:
    async with session.get(f"{base}/auth/agent") as res:
        token = CSRF.search(await res.text()).group(1)
    form = {"agent_id": agent, "pin": PIN, "csrf_token": token}
    async with session.post(f"{base}/auth/agent", data=form, allow_redirects=False) as res:
        if res.status != 302 or "/softphone" not in res.headers.get("Location", ""):
            raise RuntimeError(f"PIN sign-in answered {res.status}")


async def sso_sign_in(session: aiohttp.ClientSession, base: str, other: str, agent: str, kind: str) -> None:
    async with session.get(f"{base}/auth/oidc/start?as=agent", allow_redirects=False) as res:
        if res.status != 302:
            raise RuntimeError(f"start answered {res.status}")
        authorize = res.headers["Location"]
    if kind == "mock":  # the person types their subject into the provider's form
        step = session.post(authorize, data={"sub": f"{agent}@example.com"}, allow_redirects=False)
    else:  # the quick provider signs in whom the login hint names
        step = session.get(f"{authorize}&login_hint={agent}%40example.com", allow_redirects=False)
    async with step as res:
        if res.status != 302:
            raise RuntimeError(f"provider answered {res.status}")
        back = urlsplit(res.headers["Location"])
    async with session.get(f"{other}{back.path}?{back.query}", allow_redirects=False) as res:
        if res.status != 302 or "/softphone" not in res.headers.get("Location", ""):
            raise RuntimeError(f"callback answered {res.status}")


async def shift_start(kind: str, urls: list[str], agents: list[str], window: float, provider: str) -> dict:
    """Every agent arrives at ``i * window / n`` and signs in with its own cookie jar."""
    latencies: list[float] = []
    failures: list[str] = []
    finished: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=180)
    t0 = time.monotonic()

    async def one(i: int, agent: str) -> None:
        await asyncio.sleep(max(0.0, t0 + i * window / len(agents) - time.monotonic()))
        base = urls[i % len(urls)]
        other = urls[(i + 1) % len(urls)]
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(
            connector=connector, connector_owner=False, cookie_jar=jar, timeout=timeout
        ) as session:
            start = time.monotonic()
            try:
                if kind == "pin":
                    await pin_sign_in(session, base, agent)
                else:
                    await sso_sign_in(session, base, other, agent, provider)
            except Exception as exc:  # counted and shown: a refused or failed sign-in
                failures.append(f"{type(exc).__name__}: {exc}")
                return
            end = time.monotonic()
            latencies.append(end - start)
            finished.append(end - t0)

    await asyncio.gather(*(one(i, a) for i, a in enumerate(agents)))
    await connector.close()
    return {"latencies": latencies, "failures": failures, "last": max(finished, default=0.0)}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_backend(backend: str, count: int, window: float, provider: str, provider_kind: str) -> list[str]:
    pg = None
    tmp = Path(tempfile.mkdtemp(prefix="pc-signin-"))
    if backend == "postgres":
        from tests.helpers.postgres import PostgresServer

        pg = PostgresServer()
        url, instances = pg.new_database(), 2
    else:
        url, instances = f"sqlite:///{tmp}/bench.db", 1
    receiver = Receiver()
    cluster = Cluster(
        url,
        tmp,
        receiver.url,
        extra_env={
            "CONNECTOR_OIDC_ISSUER": provider,
            "CONNECTOR_OIDC_CLIENT_ID": "presence-connector",
            "CONNECTOR_OIDC_CLIENT_SECRET": "bench-secret",
            "CONNECTOR_PASSWORD_HASH_COST": "standard",
        },
    )
    rows = []
    try:
        agents = prepare_agents(cluster, count)
        urls = cluster.start(instances, threads=32)
        results = {}
        for kind in ("sso", "pin"):
            results[kind] = asyncio.run(shift_start(kind, urls, agents, window, provider_kind))
            time.sleep(2)
    finally:
        cluster.stop()
        receiver.stop()
        if pg is not None:
            pg.stop()
    where = "one instance, SQLite" if backend == "sqlite" else "two instances, one PostgreSQL"
    for kind, run in results.items():
        lat = run["latencies"]
        rate = len(lat) / run["last"] if run["last"] else 0.0
        rows.append(
            f"| {where} | {kind.upper()} | {len(lat)} of {count} | {rate:.1f} | {pct(lat, 50) * 1000:.0f} | "
            f"{pct(lat, 99) * 1000:.0f} | {run['last']:.1f} | {len(run['failures'])} |"
        )
        if run["failures"]:
            rows.append(f"|  | first failure: {run['failures'][0][:100]} | | | | | | |")
    sso, pin = results["sso"]["latencies"], results["pin"]["latencies"]
    if sso and pin:  # rates: SSO / PIN; times: PIN / SSO (how many times longer a PIN sign-in took)
        rate = (len(sso) / results["sso"]["last"]) / (len(pin) / results["pin"]["last"])
        rows.append(
            f"| {where} | SSO / PIN rate, PIN / SSO times | | {rate:.1f}x | "
            f"{statistics.median(pin) / statistics.median(sso):.0f}x | {pct(pin, 99) / pct(sso, 99):.0f}x | "
            f"{results['pin']['last'] / results['sso']['last']:.1f}x | |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the agents arrive")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--provider", choices=["quick", "mock"], default="quick")
    args = parser.parse_args()
    proc, provider = start_provider(args.provider)
    lines = [
        f"## Shift start: {args.agents} agents arriving over {args.window:.0f} s ({args.provider} provider)",
        "",
        "| where | how | signed in | per s | p50 ms | p99 ms | first arrival -> last done s | failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    try:
        for backend in ("sqlite", "postgres"):
            if args.only in (None, backend):
                lines += run_backend(backend, args.agents, args.window, provider, args.provider)
                print("\n".join(lines), flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
