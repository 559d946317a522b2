"""The dashboard grid's view of every agent, read as plain columns (10,000 agents in one snapshot)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from connector.changes.configs import ConfigRegistry
from connector.changes.views import grid_view, state_from
from connector.store import Store
from connector.store.models import Agent, AgentSessionRow


def agent_grid(
    store: Store,
    configs: ConfigRegistry,
    now: datetime,
    full_views: Callable[[list[str]], list[dict]],
    agent_ids: list[str] | None = None,
) -> list[dict]:
    """Every active agent as ``views.grid_view`` shows it, ordered by team and name.

    Timed rules are settled only for sessions with one due (``next_due_at``), as ``settle_due``
    does; those few go through ``full_views`` (the engine), the rest are read as they are stored.
    """
    a, r = Agent.__table__, AgentSessionRow.__table__
    query = (
        select(
            a.c.id,
            a.c.name,
            a.c.team,
            r.c.logons,
            r.c.state_id,
            r.c.state_since,
            r.c.connection_lost_at,
            r.c.next_due_at,
            r.c.call_id,
            r.c.next_state_id,
            r.c.state_source,
            r.c.wrap_up_until,
        )
        .select_from(a.outerjoin(r, r.c.agent_id == a.c.id))
        .where(a.c.active.is_(True))
        .order_by(a.c.team, a.c.name)
    )
    if agent_ids is not None:
        query = query.where(a.c.id.in_(agent_ids))
    due: list[str] = []
    grid: list[dict] = []
    with store.reader.connect() as conn:
        config = configs.active(conn)
        known = {state.id for state in config.states}
        for row in conn.execute(query):
            if row.next_due_at is not None and row.next_due_at <= now:
                due.append(row.id)
                grid.append({"id": row.id})  # filled in below
                continue
            state_id = row.state_id if row.state_id in known or row.state_id is None else config.ready_state.id
            next_id = row.next_state_id
            if next_id is not None and next_id not in known:
                next_id = config.ready_state.id  # as views._next_state: a state since removed means Ready
            grid.append(
                {
                    "id": row.id,
                    "name": row.name,
                    "team": row.team,
                    "logged_in": bool(row.logons),
                    "state": state_id,
                    "seconds_in_state": int((now - row.state_since).total_seconds()) if row.state_since else None,
                    "connection_lost": row.connection_lost_at is not None,
                    "on_call": row.call_id is not None,
                    "next_state": next_id,
                    "state_from": (
                        state_from(row.state_source, row.call_id is not None or row.wrap_up_until is not None)
                        if row.logons
                        else None
                    ),
                }
            )
    if due:
        settled = {view["id"]: grid_view(view) for view in full_views(due)}
        grid = [settled.get(g["id"], g) if len(g) == 1 else g for g in grid]
        grid = [g for g in grid if len(g) > 1]
    return grid
