"""Demo data for ``make run``: two teams, a supervisor, an admin, and a morning of history."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from connector.auth import accounts
from connector.changes.service import PresenceService
from connector.errors import ConnectorError
from connector.parts import get_parts
from connector.presence.engine import LogonSource
from connector.store.models import Agent

DEMO_AGENTS = [
    ("edred", "Ed Redfern", "Inbound", "3001"),
    ("amira", "Amira Haddad", "Inbound", "3002"),
    ("jonas", "Jonas Weber", "Inbound", "3003"),
    ("lucia", "Lucía Romero", "Support", "3101"),
    ("tom", "Tom Okafor", "Support", "3102"),
    ("mei", "Mei Chen", "Support", "3103"),
]
DEMO_PIN = "1234"
DEMO_USERS = [
    ("admin", "admin-demo", "admin", None),
    ("supervisor", "supervisor-demo", "supervisor", None),
    ("edred", "agent-demo", "agent", "edred"),
]


def seed(app) -> list[str]:
    """Create demo data in an empty store; returns the lines to print (the demo logins)."""
    parts = get_parts(app)
    store, live = parts.store, parts.service
    with store.read() as s:
        if s.scalar(select(func.count()).select_from(Agent)):
            return ["demo data already present"] + _logins()
    now = live.clock()
    for agent_id, name, team, ext_no in DEMO_AGENTS:
        accounts.add_agent(
            store,
            {
                "id": agent_id,
                "name": name,
                "team": team,
                "extension": ext_no,
                "email": f"{agent_id}@example.com",
                "pin": DEMO_PIN,
            },
            now,
        )
    for username, password, role, linked_agent in DEMO_USERS:
        accounts.add_user(store, username, password, role, now, agent_id=linked_agent)
    _history(live, now)
    return ["demo data created"] + _logins()


def _logins() -> list[str]:
    lines = ["", "Demo logins (demo data only; change them for real use):"]
    lines += [f"  {role:<10} user {username:<10} password {password}" for username, password, role, _ in DEMO_USERS]
    lines.append(f"  agents     {', '.join(a[0] for a in DEMO_AGENTS)} with PIN {DEMO_PIN}")
    return lines


def _history(live: PresenceService, now: datetime) -> None:
    """Replay two hours of a working morning through the real engine with a clock in the past."""
    rng = random.Random(7)
    cursor = {"t": now - timedelta(hours=2)}
    past = PresenceService(
        live.store, live.settings, live.bus, live.configs, clock=lambda: cursor["t"], outbox_targets=live.outbox_targets
    )
    for agent_id, *_ in DEMO_AGENTS:
        cursor["t"] = now - timedelta(hours=2) + timedelta(minutes=rng.randint(0, 10))
        # desk phones: they stay logged in without a softphone sending heartbeats
        past.login(agent_id, LogonSource.PAIRED_DEVICE, f"deskphone-{agent_id}")
    call_no = 0
    while cursor["t"] < now - timedelta(minutes=2):
        cursor["t"] += timedelta(seconds=rng.randint(60, 300))
        if cursor["t"] >= now:
            break
        agent_id = rng.choice(DEMO_AGENTS)[0]
        try:
            if rng.random() < 0.6:
                call_no += 1
                direction = rng.choice(["inbound", "inbound", "outbound", "internal"])
                past.call_event(agent_id, f"demo-{call_no}", "started", direction)
                cursor["t"] += timedelta(seconds=rng.randint(40, 400))
                duration = 0 if rng.random() < 0.1 else rng.randint(30, 400)
                past.call_event(agent_id, f"demo-{call_no}", "ended", direction, duration)
            else:
                past.set_state(agent_id, rng.choice(["ready", "dnd", "break", "lunch", "meeting", "ready"]))
        except ConnectorError:
            continue  # a state this preset does not have: skip it in the demo
    cursor["t"] = now - timedelta(minutes=1)
    if _can_logout(past, "mei"):
        past.logout("mei", LogonSource.PAIRED_DEVICE)


def _can_logout(service: PresenceService, agent_id: str) -> bool:
    view = service.presence(agent_id)
    return bool(view["logged_in"] and view["state"] and view["state"]["status"] != 6)
