"""Salesforce Omni-Channel, bridged through the agent's softphone (DESIGN.md section 3).

Salesforce has no server-side setter for Omni-Channel presence, so:

* outbound: the state's ServicePresenceStatus DeveloperName (``adapters: {omni_channel: Available}``
  or ``{omni_channel: {developer_name: ..., id: 0N5...}}``) is resolved to its Id by SOQL (cached)
  and published as an ``omni_channel`` event; the events stream carries it to that agent's softphone,
  which hands it to the ``PresenceConnectorOmni`` utility component (``lightning:omniToolkitAPI``);
  the end of a session becomes ``logout``;
* inbound: the component reports ``omniChannelStatusChanged`` / ``omniChannelLogout``, the softphone
  posts them to ``POST /api/v1/agents/<id>/omni-channel`` and the engine applies them
  (source ``omni-channel``); confirmations of what we just sent are recognised and ignored;
* reconciliation: a job reads ``UserServicePresence`` (``IsCurrentState = true``) and reports agents
  whose Omni status disagrees with their presence (``drift`` in the adapter's health).
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from connector.api.auth import require, require_agent_access
from connector.api.routes import body
from connector.engine import LogonSource
from connector.errors import InvalidInput, NotFound
from .base import Adapter, AdapterError, AgentInfo, Change, Setting
from .salesforce_soql import Query, StatusResolver, rest_query

NAME = "omni-channel"
RECENT_SECONDS = 15.0
bp = Blueprint("omni_channel", __name__, url_prefix="/api/v1")


def omni_target(state: dict | None) -> tuple[str | None, str | None]:
    """(DeveloperName, Id or None) mapped for a state; (None, None) when it has no mapping."""
    mapped = ((state or {}).get("adapters") or {}).get("omni_channel")
    if isinstance(mapped, dict):
        return mapped.get("developer_name"), mapped.get("id")
    return (str(mapped), None) if mapped else (None, None)


class OmniChannelAdapter(Adapter):
    name = NAME
    prefix = "OMNI_"
    max_concurrency = 4
    blueprint = bp
    settings = {
        "instance_url": Setting(str, default="", help="instance URL for the status SOQL (default: the SF_* connection)"),
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

    def wants(self, options) -> bool:
        return bool(getattr(options, "omni_channel_sync", False))

    # -- outbound ----------------------------------------------------------------------------
    def push(self, agent: AgentInfo, change: Change) -> None:
        if change.kind != "presence":
            return
        if change.state is None:
            self.host.bus.publish("omni_channel", {"agent_id": agent.id, "action": "logout"})
            return
        developer_name, status_id = omni_target(change.state)
        if developer_name is None and status_id is None:
            return  # this state has no Omni-Channel status
        status_id = status_id or self.statuses.id_for(developer_name)
        now = self.monotonic()
        recent = [(n, t) for n, t in self._recent.get(agent.id, []) if now - t < RECENT_SECONDS]
        self._recent[agent.id] = recent + [(developer_name or status_id, now)]
        self.host.bus.publish("omni_channel", {"agent_id": agent.id, "action": "set_status",
                                               "service_presence_status_id": status_id,
                                               "developer_name": developer_name})

    # -- inbound -----------------------------------------------------------------------------
    def state_for(self, config, developer_name: str | None, status_id: str | None) -> str | None:
        for state in config.states:
            name, sid = omni_target(state.as_dict())
            if (developer_name and name == developer_name) or (status_id and sid and sid[:15] == status_id[:15]):
                return state.id
        return None

    def is_confirmation(self, agent_id: str, developer_name: str | None) -> bool:
        """Whether Omni just reports back a status we sent (not a change the agent made there)."""
        now = self.monotonic()
        return any(name == developer_name and now - at < RECENT_SECONDS for name, at in self._recent.get(agent_id, []))

    # -- reconciliation ----------------------------------------------------------------------
    def jobs(self) -> list:
        return [("omni-channel-reconcile", self.reconcile, self.config["reconcile_seconds"])] if self.query else []

    def reconcile(self) -> list[dict]:
        """Agents whose current Omni-Channel status is not the one their presence maps to."""
        rows = self.query("SELECT UserId, ServicePresenceStatus.DeveloperName FROM UserServicePresence "
                          "WHERE IsCurrentState = true")
        actual = {r["UserId"][:15]: (r.get("ServicePresenceStatus") or {}).get("DeveloperName") for r in rows}
        drift = []
        for view in self.host.service.agents():
            user_id = self._salesforce_user(view["id"])
            if not user_id or not view["logged_in"]:
                continue
            expected, _ = omni_target(view["state"])
            if expected is None:
                continue
            found = actual.get(user_id[:15])
            if found != expected:
                drift.append({"agent_id": view["id"], "expected": expected, "omni_channel": found})
        self.drift = drift
        from connector.service import iso
        self.reconciled_at = iso(self.host.clock())
        return drift

    def _salesforce_user(self, agent_id: str) -> str:
        from connector.store.models import Agent
        with self.host.store.read() as s:
            agent = s.get(Agent, agent_id)
            return agent.salesforce_user_id if agent else ""

    def check(self) -> str:
        if self.query is None:
            raise AdapterError("no Salesforce connection for status lookups (OMNI_INSTANCE_URL, OMNI_ACCESS_TOKEN)",
                               retryable=False)
        return f"{len(self.query('SELECT Id, DeveloperName FROM ServicePresenceStatus'))} ServicePresenceStatus rows"

    def health(self) -> dict:
        return {"drift": self.drift, "reconciled_at": self.reconciled_at}


@bp.post("/agents/<agent_id>/omni-channel")
@require("agent", "integration")
def omni_channel_event(agent_id: str):
    """The softphone reports an Omni-Channel change the agent made in the console."""
    require_agent_access(agent_id)
    data = body(("event", "developer_name", "service_presence_status_id"), ("event",))
    adapter = current_app.extensions["dispatcher"].adapters.get(NAME)
    if adapter is None:
        raise NotFound("the Omni-Channel adapter is not enabled (CONNECTOR_ADAPTERS)", field="agent_id")
    service = current_app.extensions["connector"].service
    event = data["event"]
    if event == "logout":
        return jsonify(service.logout(agent_id, LogonSource.CRM, source=NAME).view)
    if event != "statusChanged":
        raise InvalidInput("event must be 'statusChanged' or 'logout'", field="event")
    name, status_id = data.get("developer_name"), data.get("service_presence_status_id")
    for field, value in (("developer_name", name), ("service_presence_status_id", status_id)):
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 80):
            raise InvalidInput(f"{field} must be text up to 80 characters", field=field)
    if not name and not status_id:
        raise InvalidInput("developer_name or service_presence_status_id is required", field="developer_name")
    if not name:
        try:
            name = adapter.statuses.name_for(status_id)
        except AdapterError:
            name = None  # no Salesforce connection: match the Id given in the mapping
    with current_app.extensions["connector"].store.read() as s:
        config = service.configs.active(s)
    state_id = adapter.state_for(config, name, status_id)
    if state_id is None:
        raise InvalidInput(f"no presence state maps to Omni-Channel status '{name or status_id}'",
                           field="developer_name" if name else "service_presence_status_id")
    if adapter.is_confirmation(agent_id, name):
        return jsonify(service.presence(agent_id))  # Omni confirms what we sent: nothing changes
    return jsonify(service.set_state(agent_id, state_id, source=NAME).view)
