"""Fill a store with realistic history: N agents x D days of intervals, logon events and counters.

Each agent works one shift a day (about 8 h from 08:00-09:00 local time): logs in on the
softphone, moves through Ready / On a Call / Wrap-up / Break / Lunch / Meeting in intervals of a few
minutes to half an hour, then logs out. Daily totals are the sums of those intervals per local day
(split at midnight exactly as the connector splits them), counters count calls, wrap-ups and logins.
Today every agent is logged in and mid-state (an open interval), as in a staffed contact centre.
Rows are written in bulk (executemany, one transaction per chunk), so 1,000 agents x 30 days
(about 600,000 intervals) take about half a minute.

Try the dashboard on a big store:

    .venv/bin/python bench/history.py --agents 1000 --days 30 --db instance/presence.db
    .venv/bin/presence-connector users add supervisor ...   # then `make run`

The store must be new (or have none of the generated agent ids); the benchmarks call ``generate``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.presence.days import split_by_day  # noqa: E402
from connector.store.models import Agent, AgentSessionRow, DailyCounter, DailyTotal, LogonEventRow, StateInterval  # noqa: E402

#: (state id, status, weight, minutes low-high) of the default configuration
STATES = [
    ("ready", 1, 40, (5, 40)),
    ("on-a-call", 6, 35, (4, 30)),
    ("wrap-up", 4, 12, (1, 5)),
    ("break", 3, 5, (10, 15)),
    ("lunch", 3, 2, (30, 45)),
    ("meeting", 5, 3, (15, 45)),
    ("dnd", 4, 3, (5, 20)),
]
CHUNK = 50_000


def agent_id(i: int) -> str:
    return f"agent{i:05d}"


def generate(store, tz, agents: int, days: int, now: datetime, seed: int = 1, teams: int = 20) -> dict:
    """Write the history into ``store`` (a connector Store); returns row counts."""
    rng = random.Random(seed)
    today = now.astimezone(tz).date()
    counts = defaultdict(int)
    weights = [w for _, _, w, _ in STATES]
    with store.write_connection() as conn:
        conn.execute(
            insert(Agent),
            [
                {
                    "id": agent_id(i),
                    "name": f"Agent {i:05d}",
                    "team": f"Team {i % teams:02d}",
                    "extension": str(2000 + i),
                    "email": "",
                    "salesforce_user_id": "",
                    "active": True,
                    "created_at": now,
                }
                for i in range(agents)
            ],
        )
    counts["agents"] = agents
    intervals: list[dict] = []
    logons: list[dict] = []
    sessions: list[dict] = []
    totals: dict[tuple, list] = {}
    counters: dict[tuple, int] = defaultdict(int)

    def flush(final: bool = False) -> None:
        with store.write_connection() as conn:
            if intervals:
                conn.execute(insert(StateInterval), intervals)
            if logons:
                conn.execute(insert(LogonEventRow), logons)
            if final:
                conn.execute(
                    insert(DailyTotal),
                    [
                        {
                            "agent_id": a,
                            "day": d,
                            "state_id": s,
                            "status": st,
                            "reason_code": "",
                            "seconds": secs,
                            "synced_seconds": round(secs) if d < today else None,
                            "updated_at": now,
                        }
                        for (a, d, s), (st, secs) in totals.items()
                    ],
                )
                conn.execute(
                    insert(DailyCounter),
                    [{"agent_id": a, "day": d, "counter": c, "count": n} for (a, d, c), n in counters.items()],
                )
                conn.execute(insert(AgentSessionRow), sessions)
        counts["intervals"] += len(intervals)
        counts["logon_events"] += len(logons)
        intervals.clear()
        logons.clear()

    for i in range(agents):
        aid = agent_id(i)
        for back in range(days, -1, -1):  # today last: it stays open
            day = today - timedelta(days=back)
            start = datetime.combine(day, clock_time(8), tzinfo=tz).astimezone(UTC) + timedelta(
                minutes=rng.randrange(60)
            )
            end = start + timedelta(hours=8, minutes=rng.randrange(-20, 30))
            if back == 0:
                if start >= now:
                    start = now - timedelta(hours=1)
                end = now
            logons.append(
                {
                    "at": start,
                    "agent_id": aid,
                    "action": "Acquired",
                    "logon_source": "Softphone",
                    "device": "softphone",
                    "actor": None,
                }
            )
            counters[(aid, start.astimezone(tz).date(), "logins")] += 1
            at = start
            while at < end:
                state_id, status, _, (lo, hi) = rng.choices(STATES, weights)[0]
                until = min(end, at + timedelta(minutes=rng.uniform(lo, hi)))
                is_open = back == 0 and until >= end
                intervals.append(
                    {
                        "agent_id": aid,
                        "state_id": state_id,
                        "status": status,
                        "reason_code": "",
                        "source": "softphone",
                        "started_at": at,
                        "ended_at": None if is_open else until,
                    }
                )
                if is_open:
                    sessions.append(
                        {
                            "agent_id": aid,
                            "logons": [{"source": "Softphone", "device": "softphone", "since": start.isoformat()}],
                            "state_id": state_id,
                            "state_since": at,
                            "last_activity_at": at,
                            "last_heartbeat_at": None,
                            "logoff_pending": False,
                            "version": 1,
                        }
                    )
                else:
                    for d, secs in split_by_day(at, until, tz):
                        row = totals.setdefault((aid, d, state_id), [status, 0.0])
                        row[1] += secs
                if state_id == "on-a-call":
                    counters[(aid, at.astimezone(tz).date(), "calls_inbound_answered")] += 1
                elif state_id == "wrap-up":
                    counters[(aid, at.astimezone(tz).date(), "wrap_ups_completed")] += 1
                at = until
            if back:
                logons.append(
                    {
                        "at": end,
                        "agent_id": aid,
                        "action": "Released",
                        "logon_source": "Softphone",
                        "device": "softphone",
                        "actor": None,
                    }
                )
        if len(intervals) >= CHUNK:
            flush()
    flush(final=True)
    counts["daily_totals"] = len(totals)
    counts["counters"] = len(counters)
    return dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db", required=True, help="SQLite file (created when missing), or a database URL")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import os

    url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    os.environ.setdefault("CONNECTOR_INSTANCE_PATH", str(Path(args.db).resolve().parent))
    from connector import create_app
    from connector.parts import get_parts

    app = create_app({"CONNECTOR_DATABASE_URL": url})
    parts = get_parts(app)
    started = time.perf_counter()
    counts = generate(parts.store, parts.settings.tz, args.agents, args.days, parts.clock(), seed=args.seed)
    print(f"wrote {counts} in {time.perf_counter() - started:.1f} s to {url}")


if __name__ == "__main__":
    main()
