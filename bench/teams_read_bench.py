"""Teams presence read back for --agents logged-in agents (issue 26): Graph calls per 30 s and the time of a poll.

The real app on a throwaway SQLite store with the teams preset (its meeting rule) and the teams adapter
(TEAMS_USER_KEY=agent_id); Microsoft Graph faked at the HTTP layer (tests/helpers/fakes/graph.py: nothing is
sent anywhere). A clock the bench moves stands in for 30 s of polling every TEAMS_POLL_SECONDS; the calls in
that window are what the shared presence budget counted (the adapter's health, the same counter every
instance draws from). Timed: one poll with nothing changed, and one in which --meetings agents joined a
meeting (each applied through the engine); the anchor is the poll's own first step, reading every agent's
presence (``host.presences()``), measured in the same run.

    .venv/bin/python bench/teams_read_bench.py --agents 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import responses

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.teams import BUDGET_LIMIT, READ_SHARE, TeamsAdapter  # noqa: E402
from connector import create_app  # noqa: E402
from connector.parts import get_parts  # noqa: E402
from connector.store.models import Agent, AgentSessionRow  # noqa: E402
from tests.helpers.fakes.graph import FakeGraph  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--meetings", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        graph = FakeGraph(rsps, clock)
        adapter = TeamsAdapter(
            {"tenant_id": "tenant-1", "client_id": "app", "client_secret": "s", "user_key": "agent_id"}
        )
        app = create_app(
            {
                "TESTING": True,
                "CLOCK": clock,
                "INSTANCE_PATH": f"{tmp}/instance",
                "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "CONNECTOR_TIMEZONE": "UTC",
                "CONNECTOR_SECRET_KEY": "bench",
                "CONNECTOR_PASSWORD_HASH_COST": "test",
                "CONNECTOR_PRESENCE_CONFIG": "teams",
                "ADAPTERS": [adapter],
            }
        )
        parts = get_parts(app)
        ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(args.agents)]
        with parts.store.write() as s:  # the agents, quickly (logins go through the engine below)
            s.add_all(
                Agent(id=i, name=f"Agent {n}", team="bench", active=True, created_at=clock.now)
                for n, i in enumerate(ids)
            )
            s.add_all(AgentSessionRow(agent_id=i, logons=[], version=0, logoff_pending=False) for i in ids)
        started = time.perf_counter()
        for i in ids:
            parts.service.login(i, "Paired Device", f"desk-{i}")
        print(f"{args.agents} agents logged in in {time.perf_counter() - started:.1f} s", flush=True)

        for poll_seconds in (30, 1):
            clock.now += timedelta(minutes=5)  # a fresh budget window
            before = len(graph.reads)
            polls = 0
            for _ in range(0, 30, poll_seconds):
                adapter.poll()
                polls += 1
                clock.now += timedelta(seconds=poll_seconds)
            clock.now -= timedelta(seconds=poll_seconds)  # the window the last poll was in
            used = adapter.health()["graph_presence_calls_last_30s"]
            print(
                f"TEAMS_POLL_SECONDS={poll_seconds}: {polls} polls, {len(graph.reads) - before} getPresencesByUserId "
                f"calls in 30 s (budget counter {used}; reads may use {READ_SHARE} of {BUDGET_LIMIT})"
            )

        host = adapter.host
        anchor = [timed(host.presences) for _ in range(args.repeats)]
        quiet = [timed(adapter.poll) for _ in range(args.repeats)]
        busy = []
        for r in range(args.repeats):
            joined = (
                ids[r * args.meetings : (r + 1) * args.meetings] if (r + 1) * args.meetings <= len(ids) else ids[:1]
            )
            for i in joined:
                graph.user[i] = ("Busy", "InAMeeting")
            clock.now += timedelta(seconds=30)
            busy.append(timed(adapter.poll))
            for i in joined:
                del graph.user[i]
            clock.now += timedelta(seconds=30)
            adapter.poll()  # back to Ready
        a, q, b = statistics.median(anchor), statistics.median(quiet), statistics.median(busy)
        print(f"anchor: read every agent's presence (host.presences): median {a * 1000:.0f} ms")
        print(f"poll, nothing changed: median {q * 1000:.0f} ms ({q / a:.1f}x anchor)")
        print(f"poll, {args.meetings} agents joined a meeting: median {b * 1000:.0f} ms ({b / a:.1f}x anchor)")
        meeting = sum(1 for v in host.presences() if (v["state"] or {}).get("id") == "meeting")
        print(f"agents left in Meeting after every meeting ended: {meeting}")


if __name__ == "__main__":
    main()
