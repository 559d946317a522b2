"""Several ``serve`` instances on one PostgreSQL database, and the single-instance rule on SQLite.

Real processes: three ``presence-connector serve`` on a throwaway PostgreSQL server, a local HTTP
receiver for the webhook adapter, changes sent round-robin, one instance killed with SIGKILL in the
middle of the run.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter, defaultdict

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers.cluster import CLI, Cluster, Receiver, wrap_up_config
from tests.helpers.polling import wait_until

pytestmark = pytest.mark.cluster

STATES = ["break", "lunch", "meeting", "ready"]  # consecutive states always differ, also with one missing


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def test_three_instances_deliver_each_change_once_in_order_when_one_is_killed(postgres, tmp_path, receiver):
    url = postgres.new_database()
    agents = [f"agent{n}" for n in range(6)]
    cluster = Cluster(
        url,
        tmp_path,
        receiver.url,
        {
            "CONNECTOR_PRESENCE_CONFIG": str(wrap_up_config(tmp_path)),
            # a short lease, so the killed instance's rows are taken over quickly; kept above the webhook's
            # timeout as the setting requires (a push outliving its lease could overtake a newer one)
            "CONNECTOR_DISPATCH_LEASE": "4",
            "WEBHOOK_TIMEOUT": "2",
        },
    )
    token = cluster.prepare(agents)
    try:
        urls = cluster.start(3)
        accepted: dict[str, list[str]] = defaultdict(list)
        unknown: dict[str, list[str]] = defaultdict(list)  # sent to the instance as it died: maybe stored
        killed = threading.Event()
        turn = iter(range(10**6))

        def call(agent: str, method: str, path: str, body: dict) -> bool:
            n = next(turn)
            base = urls[n % 3]
            if killed.is_set() and base == urls[0]:
                base = urls[1 + n % 2]  # the load balancer takes the dead instance out
            try:
                reply = requests.request(
                    method,
                    f"{base}/api/v1/agents/{agent}{path}",
                    json=body,
                    timeout=10,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except requests.RequestException:
                return False
            assert reply.status_code == 200, reply.text
            return True

        def agent_run(agent: str) -> None:
            assert call(agent, "POST", "/login", {"device": "softphone"})
            accepted[agent].append("ready")
            for i in range(12):
                state = STATES[i % len(STATES)]
                (accepted if call(agent, "PUT", "/presence", {"state": state}) else unknown)[agent].append(state)
                time.sleep(0.05)

        workers = [threading.Thread(target=agent_run, args=(a,)) for a in agents]
        for w in workers:
            w.start()
        wait_until(lambda: all(len(accepted.get(a, ())) >= 4 for a in agents), 30, "every agent a few changes in")
        cluster.kill(0)  # mid-run: its leases lapse and another instance delivers what it held
        killed.set()
        for w in workers:
            w.join(60)

        # a timed rule: a call ends, wrap-up (1 s) ends on whichever instance sweeps first, once
        assert call("agent0", "POST", "/calls", {"call_id": "c1", "event": "started", "direction": "inbound"})
        assert call(
            "agent0",
            "POST",
            "/calls",
            {"call_id": "c1", "event": "ended", "direction": "inbound", "duration_seconds": 30},
        )
        accepted["agent0"] += ["on-a-call", "wrap-up", "ready"]

        last = {a: accepted[a][-1] for a in agents}
        engine = create_engine(url)

        def stored_states():
            with engine.connect() as conn:
                stored = defaultdict(list)
                for agent, state in conn.execute(text("SELECT agent_id, state_id FROM state_intervals ORDER BY id")):
                    stored[agent].append(state)
                pending = conn.execute(
                    text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND NOT superseded")
                ).scalar()
            return stored, pending

        def all_delivered():
            stored, pending = stored_states()
            latest = {}
            for post in receiver.snapshot():
                latest[post["agent"]] = post["state"]
            # the wrap-up has ended (on some instance), nothing waits in the outbox, the receiver has each
            # agent's stored state (the last accepted one, or one sent to the dying instance that it stored)
            current = {a: stored[a][-1] for a in agents if stored[a]}
            done = stored["agent0"][-3:] == ["on-a-call", "wrap-up", "ready"] and pending == 0 and latest == current
            return stored if done else None

        try:
            stored = wait_until(
                all_delivered, 30, "the wrap-up ended and every agent's latest state delivered", interval=0.1
            )
        except AssertionError:
            stored, pending = stored_states()
            latest = {p["agent"]: p["state"] for p in receiver.snapshot()}
            logs = "\n".join(f"--- serve-{n} ---\n{cluster.log(n)[-3000:]}" for n in range(3))
            tails = {a: stored[a][-3:] for a in agents}
            raise AssertionError(
                f"stored (tails) {tails}, pending {pending}, received latest {latest}, last accepted {last}, "
                f"accepted {dict(accepted)}, unknown {dict(unknown)}\n{logs}"
            ) from None
        engine.dispose()
        for agent in agents:  # the state it ended in is the last accepted one, or a later one of unknown fate
            assert stored[agent][-1] == last[agent] or stored[agent][-1] in unknown[agent], (agent, stored[agent])

        for agent in agents:  # every accepted change is stored, in order; nothing else but the unknown ones
            extra = Counter(stored[agent]) - Counter(accepted[agent])
            assert not extra - Counter(unknown[agent]), (agent, extra, unknown[agent])
            it = iter(stored[agent])
            assert all(state in it for state in accepted[agent]), (agent, accepted[agent], stored[agent])

        posts = receiver.snapshot()
        print(f"{len(posts)} posts, {len(set(p['key'] for p in posts))} keys, unknown: {dict(unknown)}")
        counts = Counter(p["key"] for p in posts)
        assert all(c <= 2 for c in counts.values()), counts.most_common(3)
        for agent in agents:  # per agent: keys in order (a redelivery repeats the same key right away)
            keys = [int(p["key"].split("-")[1]) for p in posts if p["agent"] == agent]
            assert keys == sorted(keys), (agent, keys)
            delivered = [p["state"] for p in posts if p["agent"] == agent]
            it = iter(stored[agent])
            assert all(state in it for state in _dedupe(delivered)), (agent, delivered, stored[agent])
    finally:
        cluster.stop()


def _dedupe(states: list[str]) -> list[str]:
    out: list[str] = []
    for s in states:
        if not out or out[-1] != s:
            out.append(s)
    return out


def test_a_second_serve_on_the_same_sqlite_file_is_refused_with_a_clear_message(tmp_path, receiver):
    cluster = Cluster(f"sqlite:///{tmp_path / 'presence.db'}", tmp_path, receiver.url)
    cluster.prepare(["edred"])
    try:
        cluster.start(1)
        second = subprocess.run(
            [CLI, "serve", "--port", "0"], env=cluster.env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert "another `presence-connector serve` is already running on" in second.stderr
        assert "PostgreSQL" in second.stderr
        assert requests.get(cluster.urls[0] + "/healthz", timeout=5).status_code == 200  # the first one serves on
    finally:
        cluster.stop()
