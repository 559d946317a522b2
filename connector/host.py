"""The connector as adapters see it: the one implementation of :class:`adapters.base.Host`."""
from __future__ import annotations

from datetime import datetime


from adapters.base import AdapterError, AgentInfo, BudgetUse, SalesforceQuery
from .bus import EventBus
from .clock import Clock
from .configs import ConfigRegistry
from .errors import InvalidInput, NotFound
from .presence_config import PresenceConfig
from .salesforce.connection import Connection, LimitExceeded, SalesforceProblem, Unavailable
from .service import PresenceService
from .shared_state import SharedState
from .store import Store
from .store.models import Agent


def agent_info(agent: Agent) -> AgentInfo:
    return AgentInfo(agent.id, agent.name, agent.extension or "", agent.email or "", agent.salesforce_user_id or "")


class ConnectorHost:
    """Feeds the engine, reads agents and the active configuration, publishes live events."""

    def __init__(self, service: PresenceService, store: Store, configs: ConfigRegistry, bus: EventBus,
                 clock: Clock, salesforce_query: SalesforceQuery | None = None):
        self._shared = SharedState(store, clock)
        self._service = service
        self._store = store
        self._configs = configs
        self._bus = bus
        self._clock = clock
        self._salesforce_query = salesforce_query

    def now(self) -> datetime:
        return self._clock()

    def active_config(self) -> PresenceConfig:
        return self._configs.active()

    def agent(self, agent_id: str) -> AgentInfo | None:
        with self._store.read() as s:
            agent = s.get(Agent, agent_id)
            return agent_info(agent) if agent is not None else None

    def agent_for_extension(self, extension: str) -> str | None:
        try:
            return self._service.agent_for_extension(extension)
        except (NotFound, InvalidInput):
            return None

    def presence(self, agent_id: str) -> dict:
        return self._service.presence(agent_id)

    def presences(self) -> list[dict]:
        return self._service.agents()

    def set_state(self, agent_id: str, state: str, source: str) -> dict:
        return self._service.set_state(agent_id, state, source=source).view

    def logout(self, agent_id: str, logon_source: str, source: str) -> dict:
        return self._service.logout(agent_id, logon_source, source=source).view

    def publish(self, kind: str, data: dict) -> None:
        self._bus.publish(kind, data)

    def salesforce_query(self) -> SalesforceQuery | None:
        return self._salesforce_query

    def remember(self, key: str, value: object, ttl: float | None = None) -> None:
        self._shared.remember(key, value, ttl)

    def recall(self, key: str) -> object | None:
        return self._shared.recall(key)

    def spend(self, budget: str, calls: int, window: float, limit: int) -> BudgetUse:
        return self._shared.spend(budget, calls, window, limit)


def salesforce_query_of(connection: Connection | None) -> SalesforceQuery | None:
    """SOQL through the shared Salesforce connection, its failures translated into AdapterError."""
    if connection is None:
        return None

    def query(soql: str) -> list[dict]:
        try:
            return connection.query_all(soql)
        except SalesforceProblem as exc:
            raise AdapterError(f"Salesforce: {exc.message}",
                               retryable=isinstance(exc, (Unavailable, LimitExceeded))) from None
    return query
