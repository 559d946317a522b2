"""A contact-centre floor for the supervisor pages: agents in mixed states, some over their alert times.

Used by the dashboard and wallboard browser tests and by bench/dashboard_bench.py.
"""

from __future__ import annotations

from connector.auth import accounts
from connector.clock import utc_now
from connector.presence.config import build_config, load_preset

#: the Away and Busy states agents wait in; each alerts after one second (amber) and an hour (red)
WAITING = ("break", "lunch", "meeting", "training")
FIRST_NAMES = (
    "Bartholomew", "Ada", "Maximiliano", "Zoe", "Priyanka", "Tom", "Alessandra", "Ian", "Oluwaseun", "Eve",
    "Konstantinos", "Li", "Guadalupe", "Bo", "Christopher", "Mia",
)  # fmt: skip
LAST_NAMES = ("Fitzgerald-Smythe", "Ng", "Okonkwo", "Lee", "Vanderberg", "Park", "Rossi", "Dahl")


def alert_config(parts, amber: int = 1, red: int = 3600) -> None:
    """The default preset with alert times on the waiting states (amber after ``amber`` s, red after ``red`` s)."""
    data = load_preset("default").to_dict()
    for state in data["states"]:
        if state["id"] in WAITING:
            state["alert_after_seconds"] = [amber, red]
    parts.configs.apply(build_config(data, "floor"), created_by="test", origin="test")


def agent_name(n: int) -> str:
    return f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]}"


def seed_floor(
    parts, agents: int = 60, on_calls: int = 19, waiting: int = 33, teams: tuple[str, ...] = ("Sales", "Support")
) -> list[str]:
    """``agents`` agents: ``on_calls`` on a call, ``waiting`` in Break/Lunch/Meeting/Training (over their
    alert time a second later with ``alert_config``), a few in DND, the rest Ready but the last two logged out.
    Returns the agent ids."""
    now = utc_now()
    ids = []
    for n in range(agents):
        agent_id = f"a{n:04d}"
        accounts.add_agent(parts.store, {"id": agent_id, "name": agent_name(n), "team": teams[n % len(teams)]}, now)
        ids.append(agent_id)
    service = parts.service
    for n, agent_id in enumerate(ids):
        if n >= agents - 2:
            continue  # logged out
        service.login(agent_id, "API", "floor")  # no softphone heartbeats to miss
        if n < on_calls:
            service.call_event(agent_id, f"call-{agent_id}", "started", "inbound")
        elif n < on_calls + waiting:
            service.set_state(agent_id, WAITING[n % len(WAITING)])
        elif n < on_calls + waiting + 3:
            service.set_state(agent_id, "dnd")
    return ids
