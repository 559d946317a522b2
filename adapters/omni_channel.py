"""Salesforce Omni-Channel, bridged through a component in the agent's console (DESIGN.md section 3).

Salesforce has no server-side setter for Omni-Channel presence, so:

* outbound: the state's ServicePresenceStatus DeveloperName (``adapters: {omni_channel: Available}``
  or ``{omni_channel: {developer_name: ..., id: 0N5...}}``) is resolved to its Id by SOQL (cached)
  and published as an ``omni_channel`` event; the events stream carries it to that agent's softphone,
  which hands it to the ``PresenceConnectorOmni`` utility component (``lightning:omniToolkitAPI``);
  the end of a session becomes ``logout``;
* inbound (:meth:`OmniChannelAdapter.receive`): the component reports ``omniChannelStatusChanged`` /
  ``omniChannelLogout``, the softphone posts them to ``POST /api/v1/agents/<id>/omni-channel`` and
  the engine applies them (source ``omni-channel``); confirmations of what we just sent are
  recognised and ignored;
* reconciliation: a job reads ``UserServicePresence`` (``IsCurrentState = true``) and reports agents
  whose Omni status disagrees with their presence (``drift`` in the adapter's health).
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from connector.clock import iso
from connector.engine import ChangeSource, LogonSource
from .base import Adapter, AdapterError, AgentInfo, Change, InboundRejected, Job, Setting
from .salesforce_soql import Query, StatusResolver, rest_query

NAME = "omni-channel"
RECENT_SECONDS = 15.0


def omni_target(mapped: object) -> tuple[str | None, str | None]:
    """(DeveloperName, Id or None) for a state's ``omni_channel`` mapping; (None, None) when unmapped."""
    if isinstance(mapped, dict):
        return mapped.get("developer_name"), mapped.get("id")
    return (str(mapped), None) if mapped else (None, None)


def _mapping(state: Mapping[str, Any] | None) -> object:
    return ((state or {}).get("adapters") or {}).get("omni_channel")


class OmniChannelAdapter(Adapter):
    name = NAME
    prefix = "OMNI_"
    echo_source = ChangeSource.OMNI_CHANNEL
    max_concurrency = 4
    uses_salesforce = True
    inbound_fields = ("event", "developer_name", "service_presence_status_id")
    settings = {
        "instance_url": Setting(str, default="", kind="url", help="instance URL for the status SOQL (default: the SF_* connection)"),
        "access_token": Setting(str, default="", secret=True),
        "api_version": Setting(str, default="61.0"),
        "cache_seconds": Setting(float, default=600.0, range=(0, 86400)),
        "reconcile_seconds": Setting(int, default=300, range=(30, 86400)),
        "timeout": Setting(float, default=10.0, range=(0.5, 60)),
    }

    def __init__(self, values=None, query: Query | None = None, monotonic=time.monotonic):
        super().__init__(values)
        if query is None and self.config["instance_url"] and self.config["access_token"]:
            query = rest_query(self.config["instance_url"], self.config["access_token"],
                               self.config["api_version"], self.config["timeout"])
        self.query = query
        self.monotonic = monotonic
        self.statuses = StatusResolver(query, monotonic, self.config["cache_seconds"])
        self._recent: dict[str, list[tuple[str, float]]] = {}
        self.drift: list[dict] = []
        self.reconciled_at: str | None = None

    def use_salesforce(self, query: Query) -> None:
        """Read statuses through the product's shared Salesforce connection (unless OMNI_* is set)."""
        if self.query is None:
            self.query = query
            self.statuses = StatusResolver(query, self.monotonic, self.config["cache_seconds"])

    switched_by = "omni_channel_sync"

    def wants(self, options) -> bool:
        return bool(getattr(options, "omni_channel_sync", False))

    # -- outbound ----------------------------------------------------------------------------
    def push(self, agent: AgentInfo, change: Change) -> None:
        if change.kind != "presence":
            return
        if change.state is None:
            self.host.publish("omni_channel", {"agent_id": agent.id, "action": "logout"})
            return
        developer_name, status_id = omni_target(change.mapped("omni_channel"))
        if developer_name is None and status_id is None:
            return  # this state has no Omni-Channel status
        status_id = status_id or self.statuses.id_for(developer_name)
        now = self.monotonic()
        recent = [(n, t) for n, t in self._recent.get(agent.id, []) if now - t < RECENT_SECONDS]
        self._recent[agent.id] = recent + [(developer_name or status_id, now)]
        self.host.publish("omni_channel", {"agent_id": agent.id, "action": "set_status",
                                           "service_presence_status_id": status_id,
                                           "developer_name": developer_name})

    # -- inbound -----------------------------------------------------------------------------
    def receive(self, agent_id: str, event: Mapping[str, Any]) -> dict:
        """The component reports a change the agent made in the console: ``statusChanged`` or ``logout``."""
        kind = event.get("event")
        if kind in (None, ""):
            raise InboundRejected("event is required", field="event")
        if kind == "logout":
            return self.host.logout(agent_id, LogonSource.CRM, source=NAME)
        if kind != "statusChanged":
            raise InboundRejected("event must be 'statusChanged' or 'logout'", field="event")
        name, status_id = event.get("developer_name"), event.get("service_presence_status_id")
        for field, value in (("developer_name", name), ("service_presence_status_id", status_id)):
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 80):
                raise InboundRejected(f"{field} must be text up to 80 characters", field=field)
        if not name and not status_id:
            raise InboundRejected("developer_name or service_presence_status_id is required", field="developer_name")
        if not name:
            try:
                name = self.statuses.name_for(status_id)
            except AdapterError:
                name = None  # no Salesforce connection: match the Id given in the mapping
        state_id = self.state_for(name, status_id)
        if state_id is None:
            raise InboundRejected(f"no presence state maps to Omni-Channel status '{name or status_id}'",
                                  field="developer_name" if name else "service_presence_status_id")
        if self.is_confirmation(agent_id, name):
            return self.host.presence(agent_id)  # Omni confirms what we sent: nothing changes
        return self.host.set_state(agent_id, state_id, source=NAME)

    def state_for(self, developer_name: str | None, status_id: str | None) -> str | None:
        for state in self.host.active_config().states:
            name, sid = omni_target(state.adapters.get("omni_channel"))
            if (developer_name and name == developer_name) or (status_id and sid and sid[:15] == status_id[:15]):
                return state.id
        return None

    def is_confirmation(self, agent_id: str, developer_name: str | None) -> bool:
        """Whether Omni just reports back a status we sent (not a change the agent made there)."""
        now = self.monotonic()
        return any(name == developer_name and now - at < RECENT_SECONDS for name, at in self._recent.get(agent_id, []))

    # -- reconciliation ----------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return [Job("omni-channel-reconcile", self.reconcile, self.config["reconcile_seconds"])] if self.query else []

    def reconcile(self) -> list[dict]:
        """Agents whose current Omni-Channel status is not the one their presence maps to."""
        rows = self.query("SELECT UserId, ServicePresenceStatus.DeveloperName FROM UserServicePresence "
                          "WHERE IsCurrentState = true")
        actual = {r["UserId"][:15]: (r.get("ServicePresenceStatus") or {}).get("DeveloperName") for r in rows}
        drift = []
        for view in self.host.presences():
            if not view["logged_in"]:
                continue
            expected, _ = omni_target(_mapping(view["state"]))
            if expected is None:
                continue
            info = self.host.agent(view["id"])
            user_id = info.salesforce_user_id if info else ""
            if not user_id:
                continue
            found = actual.get(user_id[:15])
            if found != expected:
                drift.append({"agent_id": view["id"], "expected": expected, "omni_channel": found})
        self.drift = drift
        self.reconciled_at = iso(self.host.now())
        return drift

    def check(self) -> str:
        if self.query is None:
            raise AdapterError("no Salesforce connection for status lookups (OMNI_INSTANCE_URL, OMNI_ACCESS_TOKEN)",
                               retryable=False)
        return f"{len(self.query('SELECT Id, DeveloperName FROM ServicePresenceStatus'))} ServicePresenceStatus rows"

    def health(self) -> dict:
        return {"drift": self.drift, "reconciled_at": self.reconciled_at}
