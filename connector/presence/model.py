"""The presence configuration as the rest of the product uses it: status codes, states, options and
session policies (docs/architecture.md, "The presence model"). Plain frozen values; reading and checking a YAML file is
:mod:`connector.presence.config`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from enum import IntEnum
from typing import Any

import yaml

from connector.presence.contrast import text_colour
from connector.presence.inbound_rules import InboundRule, default_rule


class Status(IntEnum):
    """The fixed presence status codes; they cannot be changed by an admin."""

    ONLINE = 1
    OFFLINE = 2
    AWAY = 3
    DND = 4
    BUSY = 5
    ON_A_CALL = 6
    LOGOUT = 7

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.ONLINE: "Online",
    Status.OFFLINE: "Offline",
    Status.AWAY: "Away",
    Status.DND: "DND",
    Status.BUSY: "Busy",
    Status.ON_A_CALL: "On a call",
    Status.LOGOUT: "Logout",
}

PBX_MODES = ("none", "dial")
DUPLICATE_LOGIN_POLICIES = ("reject", "takeover")
KNOWN_ADAPTER_MAPPINGS = ("omni_channel", "skype", "teams", "asterisk", "http")


@dataclass(frozen=True)
class PresenceState:
    id: str
    label: str
    status: Status
    reason_code: str = ""
    colour: str = "#546e7a"
    selectable: bool = True
    adapters: dict[str, Any] = field(default_factory=dict)
    #: time in this state after which supervisors are alerted: (amber,) or (amber, red), seconds
    alert_after_seconds: tuple[int, ...] = ()

    @property
    def display(self) -> str:
        """The picklist text, e.g. ``Ready for Calls (Online)``; the label alone when the status
        says the same (``Offline``, not ``Offline (Offline)``)."""
        if self.label.strip().lower() == self.status.label.lower():
            return self.label
        return f"{self.label} ({self.status.label})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "status": int(self.status),
            "status_label": self.status.label,
            "display": self.display,
            "reason_code": self.reason_code,
            "colour": self.colour,
            "text_colour": text_colour(self.colour),
            "selectable": self.selectable,
            "adapters": dict(self.adapters),
            "alert_after_seconds": list(self.alert_after_seconds),
        }


@dataclass(frozen=True)
class SessionPolicy:
    inactivity_logout_seconds: int = 0
    duplicate_login: str = "reject"
    logout_allowed_statuses: tuple[int, ...] = (1, 2, 3, 4, 5)
    scheduled_logoff: time | None = None
    heartbeat_grace_seconds: int = 0
    reconnect_window_seconds: int = 300


@dataclass(frozen=True)
class Options:
    pbx_mode: str = "none"
    wrap_up_seconds: int = 0
    active_call: bool = False
    #: a call still up after this long lost its "ended" event: it is closed (0 = never)
    max_call_seconds: int = 14400
    tracking_interval_seconds: int = 60
    omni_channel_sync: bool = False
    skype_sync: bool = False
    teams_sync: bool = False
    login_code: str = ""
    logout_code: str = ""
    initial_state: str | None = None
    ready_state: str | None = None
    wrap_up_state: str | None = None
    on_call_state: str | None = None
    offline_state: str | None = None
    logout_state: str | None = None
    session: SessionPolicy = field(default_factory=SessionPolicy)


@dataclass(frozen=True)
class PresenceConfig:
    name: str
    states: tuple[PresenceState, ...]
    options: Options
    source: str = "<memory>"
    description: str = ""
    #: per adapter source: the inbound rules (``inbound:``); an adapter not listed gets the default rule
    inbound: tuple[InboundRule, ...] = ()
    #: when this configuration became the active one (set by the registry; not part of the file)
    effective_from: datetime | None = field(default=None, compare=False)

    # -- lookups -----------------------------------------------------------------------------
    def state(self, state_id: str) -> PresenceState:
        for s in self.states:
            if s.id == state_id:
                return s
        raise KeyError(state_id)

    def find(self, ref: str) -> PresenceState | None:
        """A state by id, label or picklist text (case-insensitive for labels)."""
        for s in self.states:
            if s.id == ref:
                return s
        low = ref.strip().lower()
        for s in self.states:
            if s.label.lower() == low or s.display.lower() == low:
                return s
        return None

    def inbound_rule(self, adapter: str) -> InboundRule:
        """The inbound rule for changes ``adapter`` (a change source: teams, omni-channel, pbx ...) reports."""
        return next((r for r in self.inbound if r.adapter == adapter), None) or default_rule(adapter)

    def _role(self, explicit: str | None, status: Status) -> PresenceState | None:
        if explicit:
            return self.state(explicit)
        return next((s for s in self.states if s.status == status), None)

    @property
    def ready_state(self) -> PresenceState:
        state = self._role(self.options.ready_state, Status.ONLINE)
        assert state is not None  # validation guarantees a Ready state
        return state

    @property
    def initial_state(self) -> PresenceState:
        return self._role(self.options.initial_state, Status.ONLINE) or self.ready_state

    @property
    def wrap_up_state(self) -> PresenceState | None:
        return self._role(self.options.wrap_up_state, Status.DND)

    @property
    def on_call_state(self) -> PresenceState | None:
        return self._role(self.options.on_call_state, Status.ON_A_CALL)

    @property
    def offline_state(self) -> PresenceState | None:
        return self._role(self.options.offline_state, Status.OFFLINE)

    @property
    def logout_state(self) -> PresenceState | None:
        return self._role(self.options.logout_state, Status.LOGOUT)

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        opts = asdict(self.options)
        session = opts.pop("session")
        session["logout_allowed_statuses"] = list(session["logout_allowed_statuses"])
        logoff = self.options.session.scheduled_logoff
        if logoff is not None:
            session["scheduled_logoff"] = logoff.strftime("%H:%M")
        opts = {k: v for k, v in opts.items() if v not in (None, "")}
        opts["session"] = session
        states = []
        for s in self.states:
            d: dict[str, Any] = {"id": s.id, "label": s.label, "status": int(s.status)}
            if s.reason_code:
                d["reason_code"] = s.reason_code
            d["colour"] = s.colour
            d["selectable"] = s.selectable
            if s.adapters:
                d["adapters"] = dict(s.adapters)
            if s.alert_after_seconds:
                d["alert_after_seconds"] = list(s.alert_after_seconds)
            states.append(d)
        body: dict[str, Any] = {"name": self.name}
        if self.description:
            body["description"] = self.description
        body["options"] = opts
        body["states"] = states
        if self.inbound:
            body["inbound"] = {r.adapter: r.as_dict() for r in self.inbound}
        return body

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_yaml().encode()).hexdigest()


class LogonSource:
    """Where a login or logout came from (the licence audit's "logon source")."""

    SOFTPHONE = "Softphone"
    CONNECTION_LOST = "Softphone Connection Lost"
    CRM = "CRM"
    PAIRED_DEVICE = "Paired Device"
    PBX_SHORT_CODE = "PBX Short Code"
    SKYPE = "Skype for Business"
    TEAMS = "Teams"
    SCHEDULED_LOG_OFF = "Scheduled Log Off"
    INACTIVITY = "Inactivity Timeout"
    SUPERVISOR = "Supervisor"
    DUPLICATE_LOGIN = "Duplicate Login"
    API = "API"

    ALL = (
        SOFTPHONE,
        CONNECTION_LOST,
        CRM,
        PAIRED_DEVICE,
        PBX_SHORT_CODE,
        SKYPE,
        TEAMS,
        SCHEDULED_LOG_OFF,
        INACTIVITY,
        SUPERVISOR,
        DUPLICATE_LOGIN,
        API,
    )
    #: logouts the system or a supervisor makes: the agent's logout precondition does not apply
    FORCED = (CONNECTION_LOST, SCHEDULED_LOG_OFF, INACTIVITY, SUPERVISOR, DUPLICATE_LOGIN)


class ChangeSource:
    """Where a state change came from: recorded on the interval, and never echoed back there."""

    SOFTPHONE = "softphone"
    SUPERVISOR = "supervisor"
    SYSTEM = "system"  # a timed rule, the scheduled log off
    API = "api"
    PBX = "pbx"
    SKYPE = "skype"
    TEAMS = "teams"
    OMNI_CHANNEL = "omni-channel"
    CRM = "crm"

    #: the sources an integration may name for a change it reports
    REPORTABLE = (API, PBX, SKYPE, TEAMS, OMNI_CHANNEL, CRM)
