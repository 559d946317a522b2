"""The connector as adapters see it: the one implementation of :class:`adapters.base.Host`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.fernet import InvalidToken

from adapters.base import AdapterError, AgentInfo, BudgetUse, InboundRejected, SalesforceQuery
from connector.auth import accounts
from connector.auth.hashing import seal, unseal
from connector.changes.configs import ConfigRegistry
from connector.changes.service import PresenceService
from connector.clock import Clock
from connector.errors import InvalidInput, NotFound
from connector.integrations.shared_state import SharedState
from connector.live.bus import EventBus
from connector.observe import metrics
from connector.presence.engine import InboundDecided
from connector.presence.model import PresenceConfig
from connector.salesforce.connection import Connection, LimitExceeded, SalesforceProblem, Unavailable
from connector.store import Store, statements
from connector.store.models import ConsoleCommand

#: the live event that carries console commands to the agent's component (and its softphone)
COMMAND_EVENT = "omni_channel"
#: how long a console command and its acknowledgement are kept (for a late retry and for support)
COMMANDS_KEPT = timedelta(days=1)


class AgentInfoColumns(Protocol):
    """The columns an :class:`AgentInfo` is made of: an ORM agent or a row of the same columns."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def extension(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def salesforce_user_id(self) -> str | None: ...


def agent_info(agent: AgentInfoColumns) -> AgentInfo:
    """From an ORM agent or a row of the same columns."""
    return AgentInfo(agent.id, agent.name, agent.extension or "", agent.email or "", agent.salesforce_user_id or "")


class ConnectorHost:
    """Feeds the engine, reads agents and the active configuration, publishes live events."""

    def __init__(
        self,
        service: PresenceService,
        store: Store,
        configs: ConfigRegistry,
        bus: EventBus,
        clock: Clock,
        salesforce_query: SalesforceQuery | None = None,
        secret_key: str = "",
    ):
        self._shared = SharedState(store, clock)
        self._secret_key = secret_key
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
        found = statements.agent_columns(self._store, agent_id)  # once per delivery: a quick read
        return agent_info(found) if found is not None else None

    def agent_for_extension(self, extension: str) -> str | None:
        try:
            return accounts.agent_for_extension(self._store, extension)
        except (NotFound, InvalidInput):
            return None

    def presence(self, agent_id: str) -> dict[str, Any]:
        return self._service.presence(agent_id)

    def presences(self) -> list[dict[str, Any]]:
        return self._service.agents()

    def set_state(self, agent_id: str, state: str, source: str) -> dict[str, Any]:
        # an adapter's change is an inbound one: the configuration's rule for its source decides
        return self._service.inbound(agent_id, source, state, proposed=state).view

    def inbound(self, agent_id: str, source: str, remote: str | None, proposed: str | None = None) -> dict[str, Any]:
        outcome = self._service.inbound(agent_id, source, remote, proposed)
        verdicts = [e.verdict for e in outcome.decision.effects if isinstance(e, InboundDecided)]
        verdict = verdicts[-1]
        return {
            "agent": outcome.view,
            "action": verdict.action,
            "rule": verdict.rule,
            "reason": verdict.reason,
            "state": verdict.target,
        }

    def logout(self, agent_id: str, logon_source: str, source: str) -> dict[str, Any]:
        return self._service.logout(agent_id, logon_source, source=source).view

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        self._bus.publish(kind, data)

    def salesforce_query(self) -> SalesforceQuery | None:
        return self._salesforce_query

    def remember(self, key: str, value: object, ttl: float | None = None) -> None:
        self._shared.remember(key, value, ttl)

    def recall(self, key: str) -> object | None:
        return self._shared.recall(key)

    def remember_secret(self, key: str, value: str | None) -> None:
        if not self._secret_key:
            raise RuntimeError("the host has no secret key to seal with")
        self._shared.remember(f"sealed:{key}", None if value is None else {"sealed": seal(value, self._secret_key)})

    def recall_secret(self, key: str) -> str | None:
        kept = self._shared.recall(f"sealed:{key}")
        if not isinstance(kept, dict) or not isinstance(kept.get("sealed"), str) or not self._secret_key:
            return None
        try:
            return unseal(kept["sealed"], self._secret_key)
        except InvalidToken:  # sealed with another CONNECTOR_SECRET_KEY: as if nothing were kept
            return None

    def spend(self, budget: str, calls: int, window: float, limit: int) -> BudgetUse:
        return self._shared.spend(budget, calls, window, limit)

    def credential_refused(self, adapter: str, credential: str) -> None:
        metrics.credential_refused(adapter, credential)

    def send_command(self, agent_id: str, command_id: str, kind: str, data: dict[str, Any]) -> None:
        now = self._clock()
        with self._store.write() as s:
            row = s.get(ConsoleCommand, command_id)
            if row is not None and row.acked_at is not None and row.ok:
                return  # done already (a late acknowledgement of an earlier attempt): nothing to re-send
            s.query(ConsoleCommand).filter(
                ConsoleCommand.agent_id == agent_id,
                ConsoleCommand.id != command_id,
                ConsoleCommand.created_at < now - COMMANDS_KEPT,
            ).delete()
            if row is None:
                row = ConsoleCommand(id=command_id, agent_id=agent_id)
                s.add(row)
            row.kind, row.data, row.created_at = kind, dict(data), now
            row.acked_at = row.ok = row.error = row.error_code = None  # a retry waits for a fresh answer
        self._bus.publish(COMMAND_EVENT, {"agent_id": agent_id, "action": kind, "command_id": command_id, **data})

    def command_result(self, command_id: str) -> dict[str, Any] | None:
        with self._store.read() as s:
            row = s.get(ConsoleCommand, command_id)
            if row is None:
                return None
            return {"acked": row.acked_at is not None, "ok": row.ok, "error": row.error, "error_code": row.error_code}

    def acknowledge(
        self, agent_id: str, command_id: str, ok: bool, error: str | None = None, error_code: str | None = None
    ) -> None:
        with self._store.write() as s:
            row = s.get(ConsoleCommand, command_id)
            if row is None or row.agent_id != agent_id:
                raise InboundRejected(f"no command '{command_id}' was sent to {agent_id}'s console", field="command_id")
            if row.acked_at is not None and row.ok:
                return  # the first success stands (the component may acknowledge twice)
            row.acked_at, row.ok = self._clock(), bool(ok)
            row.error = None if ok else (error or "failed without a reason")[:500]
            row.error_code = None if ok else (error_code or None)


def salesforce_query_of(connection: Connection | None) -> SalesforceQuery | None:
    """SOQL through the shared Salesforce connection, its failures translated into AdapterError."""
    if connection is None:
        return None

    def query(soql: str) -> list[dict[str, Any]]:
        try:
            return connection.query_all(soql)
        except SalesforceProblem as exc:
            raise AdapterError(
                f"Salesforce: {exc.message}", retryable=isinstance(exc, (Unavailable, LimitExceeded))
            ) from None

    return query
