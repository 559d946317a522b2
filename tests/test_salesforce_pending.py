"""Which totals a flush sends: the time tracking report's seconds, wherever Salesforce holds another value.

``pending_totals`` works the totals out in one SQL statement; here it is held against
``reports.time_tracking`` (Python, split_by_day) on a store with open intervals that started at any
microsecond over the last days, across midnight and a daylight-saving change, beside totals that are
synced, changed, never written or parked.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select

from connector.parts import get_parts
from connector.reports import queries as reports
from connector.salesforce.pending import pending_totals
from connector.store.models import Agent, AgentSessionRow, DailyTotal, StateInterval

NOW = datetime(2026, 3, 30, 10, 0, 0, 123457, tzinfo=UTC)  # Berlin went to summer time on 29 March
STATES = ("ready", "dnd", "break", "lunch")


def _fill(store, rng: random.Random, agents: int) -> None:
    intervals, totals = [], []
    for n in range(agents):
        aid = f"agent{n:03d}"
        for back in range(4):
            day = date(2026, 3, 30) - timedelta(days=back)
            for state in rng.sample(STATES, rng.randrange(len(STATES) + 1)):
                seconds = rng.uniform(0, 20000) if rng.random() > 0.1 else rng.choice((0.0, 0.4999, 0.5, 1.5))
                synced = rng.choice((None, round(seconds), round(seconds) + 1, round(seconds) - 1))
                parked = "INVALID_FIELD: bad" if rng.random() < 0.1 else None
                totals.append(
                    {
                        "agent_id": aid,
                        "day": day,
                        "state_id": state,
                        "status": 1 + STATES.index(state),
                        "reason_code": "",
                        "seconds": seconds,
                        "synced_seconds": synced,
                        "parked_reason": parked,
                        "updated_at": NOW,
                    }
                )
        if rng.random() < 0.85:  # most agents are in a state right now, since any microsecond of the last 3 days
            started = NOW - timedelta(microseconds=rng.randrange(3 * 86400 * 10**6))
            state = rng.choice(STATES)
            intervals.append(
                {
                    "agent_id": aid,
                    "state_id": state,
                    "status": 1 + STATES.index(state),
                    "reason_code": rng.choice(("", "R7")),
                    "source": "softphone",
                    "started_at": started,
                }
            )
    # an interval that starts after now (a clock stepped back) counts nothing yet
    intervals.append(
        {
            "agent_id": "agent000",
            "state_id": "meeting",
            "status": 5,
            "reason_code": "",
            "source": "softphone",
            "started_at": NOW + timedelta(seconds=30),
        }
    )
    with store.write() as s:
        s.execute(
            insert(Agent),
            [
                {
                    "id": f"agent{n:03d}",
                    "name": f"Agent {n}",
                    "team": "",
                    "extension": "",
                    "email": "",
                    "salesforce_user_id": "",
                    "active": True,
                    "created_at": NOW,
                }
                for n in range(agents)
            ],
        )
        s.execute(
            insert(AgentSessionRow),
            [{"agent_id": f"agent{n:03d}", "logons": [], "version": 0, "logoff_pending": False} for n in range(agents)],
        )
        s.execute(insert(DailyTotal), totals)
        s.execute(insert(StateInterval), intervals)


def test_pending_totals_are_the_report_seconds_that_salesforce_does_not_hold(make_app, clock):
    clock.now = NOW
    parts = get_parts(make_app(CONNECTOR_TIMEZONE="Europe/Berlin"))
    _fill(parts.store, random.Random(11), agents=60)

    report = reports.time_tracking(parts.reads, date(2026, 3, 26), date(2026, 3, 30))
    with parts.store.read() as s:
        held = {
            (t.agent_id, t.day.isoformat(), t.state_id): (t.synced_seconds, t.parked_reason)
            for t in s.execute(select(DailyTotal)).scalars()
        }
    expected = set()
    for r in report:
        synced, parked = held.get((r["agent_id"], r["date"], r["state_id"]), (None, None))
        if parked is None and r["seconds"] != (synced if synced is not None else 0):
            expected.add(
                (r["agent_id"], r["date"], r["state_id"], r["state_label"], r["status"], r["reason_code"], r["seconds"])
            )

    pending = pending_totals(parts.reads)

    assert {
        (p.agent_id, p.day.isoformat(), p.state_id, p.state_label, p.status, p.reason_code, p.seconds) for p in pending
    } == expected
    assert len(pending) == len(expected) > 100  # one record per total: no key twice
    assert [(p.day, p.agent_id, p.state_id) for p in pending] == sorted(
        (p.day, p.agent_id, p.state_id) for p in pending
    )
    assert any(p.day < date(2026, 3, 30) and p.seconds > 3600 for p in pending)  # open across midnight
