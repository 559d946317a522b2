"""Salesforce Omni-Channel, bridged through a component in the agent's console (docs/architecture.md, "Omni-Channel").

Salesforce has no server-side setter for Omni-Channel presence, so:

* outbound: the state's ServicePresenceStatus DeveloperName (``adapters: {omni_channel: Available}``
  or ``{omni_channel: {developer_name: ..., id: 0N5...}}``) is resolved to its Id by SOQL (cached)
  and sent as a console command (:meth:`Host.send_command`, an ``omni_channel`` live event with a
  ``command_id``); the end of a session becomes ``logout``. The ``PresenceConnectorOmni`` utility
  component receives it on its own event stream (a stream token from its Apex controller — no Open
  CTI needed; where the Open CTI softphone is installed it relays the command too), applies it with
  ``lightning:omniToolkitAPI`` and acknowledges it. The row counts as delivered only on that
  acknowledgement: an error the component reports is retried (or parked when the status Id is
  invalid), no answer within ``OMNI_ACK_SECONDS`` is retried with the reason in health. "On a call"
  is never pushed unless the admin maps it: Omni models a call as capacity used by AgentWork;
* inbound (:meth:`OmniChannelAdapter.receive`): the component reports ``statusChanged`` /
  ``logout`` (applied by the engine, source ``omni-channel``; confirmations of what we just sent are
  recognised and ignored), ``ack`` (a command's outcome) and ``workAccepted`` (published for the
  dashboards and logged; presence does not change: calls come from the PBX, other work is capacity);
* reconciliation: a job reads ``UserServicePresence`` (``IsCurrentState = true``) and reports agents
  whose Omni status disagrees with their presence (``drift`` in the adapter's health).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from adapters.base import Adapter, AdapterError, AgentInfo, Change, InboundRejected, Job, Setting
from adapters.support.salesforce_soql import Query, StatusResolver, rest_query
from connector.clock import iso
from connector.presence.model import ChangeSource, LogonSource

NAME = "omni-channel"
RECENT_SECONDS = 15.0
#: how often a push looks for the acknowledgement (it may arrive at another instance)
ACK_POLL_SECONDS = 0.1
#: error codes the component sends when retrying cannot help (the status Id is not one of the org's)
FINAL_ERRORS = ("invalid_status",)
INBOUND_EVENTS = ("statusChanged", "logout", "ack", "workAccepted")

log = logging.getLogger(__name__)


def omni_target(mapped: object) -> tuple[str | None, str | None]:
    """(DeveloperName, Id or None) for a state's ``omni_channel`` mapping; (None, None) when unmapped."""
    if isinstance(mapped, dict):
        return mapped.get("developer_name"), mapped.get("id")
    return (str(mapped), None) if mapped else (None, None)


def re_id(value: str) -> bool:
    """Whether ``value`` looks like a Salesforce record Id."""
    return len(value) in (15, 18) and value.isascii() and value.isalnum()


def _mapping(state: Mapping[str, Any] | None) -> object:
    return ((state or {}).get("adapters") or {}).get("omni_channel")


class OmniChannelAdapter(Adapter):
    name = NAME
    prefix = "OMNI_"
    echo_source = ChangeSource.OMNI_CHANNEL
    #: a push waits (idle) for the console's acknowledgement, up to OMNI_ACK_SECONDS: with one lane per
    #: agent, 32 waiting at once keep a centre-wide change (a scheduled log off) from queueing behind
    #: consoles that are closed
    max_concurrency = 32
    uses_salesforce = True
    inbound_fields = (
        "event",
        "developer_name",
        "service_presence_status_id",
        "command_id",
        "ok",
        "error",
        "error_code",
        "work_item_id",
        "work_id",
    )
    settings = {
        "ack_seconds": Setting(
            float,
            default=8.0,
            range=(0.2, 120),
            help="how long a command waits for the console component's acknowledgement",
        ),
        "instance_url": Setting(
            str, default="", kind="url", help="instance URL for the status SOQL (default: the SF_* connection)"
        ),
        "access_token": Setting(str, default="", secret=True),
        "api_version": Setting(str, default="61.0"),
        "cache_seconds": Setting(float, default=600.0, range=(0, 86400)),
        "reconcile_seconds": Setting(int, default=300, range=(30, 86400)),
        "timeout": Setting(float, default=10.0, range=(0.5, 60)),
    }

    def __init__(self, values=None, query: Query | None = None, monotonic=time.monotonic, sleep=time.sleep):
        super().__init__(values)
        self.sleep = sleep
        if query is None and self.config["instance_url"] and self.config["access_token"]:
            query = rest_query(
                self.config["instance_url"],
                self.config["access_token"],
                self.config["api_version"],
                self.config["timeout"],
            )
        self.query = query
        self.monotonic = monotonic
        self.statuses = StatusResolver(query, monotonic, self.config["cache_seconds"])
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
            self._command(agent, change, "logout", {})
            return
        developer_name, status_id = omni_target(change.mapped("omni_channel"))
        if developer_name is None and status_id is None:
            return  # this state has no Omni-Channel status
        # (developer_name is None only under a mapping whose id is empty: Salesforce has no status 'None')
        status_id = status_id or self.statuses.id_for(str(developer_name))
        # kept in the store: the confirmation may reach another instance than the one that sent it
        now = self.host.now().timestamp()
        recent = [[n, t] for n, t in self._sent(agent.id) if now - t < RECENT_SECONDS]
        self.host.remember(self._sent_key(agent.id), recent + [[developer_name or status_id, now]], ttl=RECENT_SECONDS)
        self._command(
            agent, change, "set_status", {"service_presence_status_id": status_id, "developer_name": developer_name}
        )

    def _command(self, agent: AgentInfo, change: Change, kind: str, data: dict) -> None:
        """Send the command and return once the console acknowledged it; AdapterError otherwise."""
        command_id = change.key or f"{agent.id}-{kind}-{self.monotonic()}"
        self.host.send_command(agent.id, command_id, kind, data)
        wait = self.config["ack_seconds"]
        deadline = self.monotonic() + wait
        while True:
            result = self.host.command_result(command_id)
            if result is not None and result["acked"]:
                break
            if self.monotonic() >= deadline:
                raise AdapterError(
                    f"no acknowledgement from {agent.id}'s console within {wait:g} s (is the console "
                    f"open with the Presence Connector Omni utility loaded?)",
                    retryable=True,
                )
            self.sleep(ACK_POLL_SECONDS)
        if not result["ok"]:
            code = result.get("error_code") or ""
            raise AdapterError(
                f"{agent.id}'s console could not {kind.replace('_', ' ')}: {result['error']}",
                retryable=code not in FINAL_ERRORS,
            )

    # -- inbound -----------------------------------------------------------------------------
    def receive(self, agent_id: str, event: Mapping[str, Any]) -> dict:
        """The component reports: ``statusChanged`` / ``logout`` (the agent did it in the console),
        ``ack`` (how a command went), ``workAccepted`` (the agent accepted Omni-Channel work)."""
        kind = event.get("event")
        if kind in (None, ""):
            raise InboundRejected("event is required", field="event")
        if kind == "logout":
            return self.host.logout(agent_id, LogonSource.CRM, source=NAME)
        if kind == "ack":
            return self._acknowledge(agent_id, event)
        if kind == "workAccepted":
            return self._work_accepted(agent_id, event)
        if kind != "statusChanged":
            raise InboundRejected(f"event must be one of: {', '.join(INBOUND_EVENTS)}", field="event")
        name, status_id = event.get("developer_name"), event.get("service_presence_status_id")
        for field, value in (("developer_name", name), ("service_presence_status_id", status_id)):
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 80):
                raise InboundRejected(f"{field} must be text up to 80 characters", field=field)
        if not name and not status_id:
            raise InboundRejected("developer_name or service_presence_status_id is required", field="developer_name")
        if not name:
            assert status_id  # one of the two is given (checked above)
            try:
                name = self.statuses.name_for(status_id)
            except AdapterError:
                name = None  # no Salesforce connection: match the Id given in the mapping
        state_id = self.state_for(name, status_id)
        if state_id is None and not self.host.active_config().inbound_rule(NAME).map:
            raise InboundRejected(
                f"no presence state maps to Omni-Channel status '{name or status_id}'",
                field="developer_name" if name else "service_presence_status_id",
            )
        if self.is_confirmation(agent_id, name):
            return self.host.presence(agent_id)  # Omni confirms what we sent: nothing changes
        # the configuration's inbound rule for omni-channel decides (by default: applies, as always)
        return self.host.inbound(agent_id, NAME, name or status_id, proposed=state_id)["agent"]

    def _acknowledge(self, agent_id: str, event: Mapping[str, Any]) -> dict:
        command_id, ok = event.get("command_id"), event.get("ok")
        if not isinstance(command_id, str) or not command_id.strip() or len(command_id) > 64:
            raise InboundRejected(
                "command_id must be the id of the command (text up to 64 characters)", field="command_id"
            )
        if not isinstance(ok, bool):
            raise InboundRejected("ok must be true or false", field="ok")
        error, code = event.get("error"), event.get("error_code")
        for field, value, limit in (("error", error, 500), ("error_code", code, 32)):
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise InboundRejected(f"{field} must be text up to {limit} characters", field=field)
        if not ok and not error:
            raise InboundRejected("error is required when ok is false (say why the command failed)", field="error")
        self.host.presence(agent_id)  # 404 for an unknown agent, before anything is recorded
        self.host.acknowledge(agent_id, command_id, ok, error, code)
        return self.host.presence(agent_id)

    def _work_accepted(self, agent_id: str, event: Mapping[str, Any]) -> dict:
        """Published for the dashboards and logged; presence does not change (Omni counts the work as
        capacity; calls reach the connector from the PBX)."""
        data = {"agent_id": agent_id, "at": iso(self.host.now())}
        for field in ("work_item_id", "work_id"):
            value = event.get(field)
            if value is not None and (not isinstance(value, str) or not re_id(value)):
                raise InboundRejected(f"{field} must be a Salesforce Id (15 or 18 letters and digits)", field=field)
            data[field] = value
        if not data["work_item_id"]:
            raise InboundRejected("work_item_id is required", field="work_item_id")
        view = self.host.presence(agent_id)
        log.info("Omni-Channel: %s accepted work item %s", agent_id, data["work_item_id"])
        self.host.publish("omni_channel_work", data)
        return view

    def state_for(self, developer_name: str | None, status_id: str | None) -> str | None:
        for state in self.host.active_config().states:
            name, sid = omni_target(state.adapters.get("omni_channel"))
            if (developer_name and name == developer_name) or (status_id and sid and sid[:15] == status_id[:15]):
                return state.id
        return None

    def is_confirmation(self, agent_id: str, developer_name: str | None) -> bool:
        """Whether Omni just reports back a status we sent (not a change the agent made there)."""
        now = self.host.now().timestamp()
        return any(name == developer_name and now - at < RECENT_SECONDS for name, at in self._sent(agent_id))

    @staticmethod
    def _sent_key(agent_id: str) -> str:
        return f"{NAME}:sent:{agent_id}"

    def _sent(self, agent_id: str) -> list:
        """The statuses recently sent to this agent's Omni-Channel: [[name, epoch seconds], ...]."""
        value = self.host.recall(self._sent_key(agent_id))
        return value if isinstance(value, list) else []

    # -- reconciliation ----------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return [Job("omni-channel-reconcile", self.reconcile, self.config["reconcile_seconds"])] if self.query else []

    def reconcile(self) -> list[dict]:
        """Agents whose current Omni-Channel status is not the one their presence maps to."""
        assert self.query is not None  # a job only with a Salesforce connection (jobs)
        rows = self.query(
            "SELECT UserId, ServicePresenceStatus.DeveloperName FROM UserServicePresence WHERE IsCurrentState = true"
        )
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
            raise AdapterError(
                "no Salesforce connection for status lookups (OMNI_INSTANCE_URL, OMNI_ACCESS_TOKEN)", retryable=False
            )
        return f"{len(self.query('SELECT Id, DeveloperName FROM ServicePresenceStatus'))} ServicePresenceStatus rows"

    def health(self) -> dict:
        return {"drift": self.drift, "reconciled_at": self.reconciled_at}
