"""Teams: a team is the name agents carry in ``Agent.team``; what it carries besides (``models.Team``) is the
time zone of its agents' days, for agents without a zone of their own."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from connector.errors import InvalidInput, NotFound
from connector.presence.days import check_zone
from connector.store import Store
from connector.store.models import Agent, Team

log = logging.getLogger(__name__)


def list_teams(store: Store) -> list[dict]:
    """Every team some agent names, with its agents and its time zone ("" : CONNECTOR_TIMEZONE)."""
    with store.read() as s:
        zones = dict(s.execute(select(Team.name, Team.timezone)).all())
        counts = s.execute(
            select(Agent.team, func.count()).where(Agent.team != "").group_by(Agent.team).order_by(Agent.team)
        ).all()
    return [{"name": team, "agents": n, "timezone": zones.get(team) or ""} for team, n in counts]


def set_team_zone(store: Store, team: object, zone: object, by: str) -> dict:
    """The time zone of a team's days (for its agents without their own); "" goes back to CONNECTOR_TIMEZONE.

    A team is known by its agents: a name no agent carries is refused (404 naming ``team``), as is an unknown
    zone (422 naming ``timezone``); nothing changes then.
    """
    clean = check_zone(zone, "timezone")
    if not isinstance(team, str) or not team.strip():
        raise InvalidInput("team must be the name of a team", field="team")
    with store.write() as s:
        if s.execute(select(Agent.id).where(Agent.team == team).limit(1)).first() is None:
            raise NotFound(f"no agent is in team '{team}'", field="team")
        row = s.get(Team, team)
        if row is None:
            s.add(Team(name=team, timezone=clean))
        else:
            row.timezone = clean
    log.info("team %s time zone set to %s by %s", team, clean or "the default", by)
    return {"name": team, "timezone": clean}
