"""What read models and the Salesforce sync need from the connector, and nothing more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from connector.changes.configs import ConfigRegistry
from connector.clock import Clock
from connector.presence.days import zone_or
from connector.store import Store
from connector.store.models import Agent, Team, zone_name_of


@dataclass(frozen=True)
class ReadContext:
    """The store, the active configuration, the clock and the time zone days are counted in
    (``tz``, CONNECTOR_TIMEZONE, for agents without their own zone: ``zone_of``).

    ``settle_due`` applies timed rules that fell due while no scheduler ran (a CLI export), so a
    report counts them exactly.
    """

    store: Store
    configs: ConfigRegistry
    clock: Clock
    tz: ZoneInfo
    settle_due: Callable[[], object] = lambda: None

    def now(self) -> datetime:
        return self.clock()

    def today(self, agent_id: str | None = None):
        """Today in the connector's zone, or in ``agent_id``'s own zone when it has one."""
        return self.clock().astimezone(self.zone_of(agent_id) if agent_id else self.tz).date()

    def zone_of(self, agent_id: str) -> ZoneInfo:
        """The zone whose midnights end ``agent_id``'s days (its own, else its team's, else the connector's)."""
        with self.store.reader.connect() as conn:
            return zone_or(conn.scalar(select(zone_name_of()).where(Agent.id == agent_id)), self.tz)

    def zone_names(self, conn) -> dict[str, ZoneInfo]:
        """Every zone name that may end some agent's days, with its zone: "" (the connector's default) and
        the zones set on agents or teams (names as ``models.zone_name_of`` gives them; two plain reads, no
        per-agent work). Only "" when nobody set a zone."""
        names = {""} | {
            name
            for column in (Agent.timezone, Team.timezone)
            for name in conn.scalars(select(column).distinct())
            if name
        }
        return {name: zone_or(name, self.tz) for name in sorted(names)}

    def agent_zone_names(self, conn) -> dict[str, str]:
        """Each agent's zone name ("" for the connector's default)."""
        return {aid: name or "" for aid, name in conn.execute(select(Agent.id, zone_name_of()))}

    def team_zone(self, team: str | None) -> ZoneInfo:
        """The zone of a team's days: the one its agents share, else (no team, or agents in several zones)
        the connector's."""
        if not team:
            return self.tz
        with self.store.reader.connect() as conn:
            names = {n or "" for n in conn.scalars(select(zone_name_of()).where(Agent.team == team).distinct())}
        return zone_or(names.pop(), self.tz) if len(names) == 1 else self.tz
