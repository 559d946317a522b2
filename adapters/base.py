"""The adapter interface: how a presence change reaches another system, and how one comes back.

An adapter is a small class, like an HTTP transport:

* ``name`` — what admins write in ``CONNECTOR_ADAPTERS`` and what the engine records as the
  ``source`` of changes the adapter reports inbound (so a change is never echoed back to it);
* ``prefix`` and ``settings`` — its environment settings (``PREFIX_KEY``), declared with
  :class:`Setting` and validated once, when the adapter is built, with an error naming the setting;
* :meth:`Adapter.push` — deliver one change. It returns when the remote system accepted it and
  raises :class:`AdapterError` otherwise (``retryable`` says whether trying again can help).
  Nothing else may escape: the dispatcher treats any other exception as a retryable failure.

An adapter sees the connector only through the :class:`Host` it is bound to (``self.host``):
it never imports the store or the API layer. Optional hooks, all declared here with harmless
defaults: :meth:`Adapter.start`/:meth:`Adapter.stop` (listener threads), :meth:`Adapter.check`
(``adapters test NAME``), :meth:`Adapter.check_mapping` (problems with a state's mapping for this
adapter, shown by ``config validate`` and the admin editor), :meth:`Adapter.wants` (whether the active presence config switches the
adapter on) with :meth:`Adapter.why_not` (why not, in words, for health), ``dials`` (the adapter
really dials the numbers the softphone dials), :meth:`Adapter.jobs` (periodic work the scheduler runs), ``uses_salesforce`` (give me
the shared Salesforce connection), ``inbound_fields`` + :meth:`Adapter.receive` (events the remote
side reports; the API layer serves them at ``POST /api/v1/adapters/<name>/agents/<id>/events``),
and ``refresh_seconds`` (re-send the current state this often, for systems whose presence lapses).
``self.http`` is the adapter's HTTP session (connections kept alive between deliveries).

The whole contract is one file on purpose (past the usual ~400 lines): someone writing an adapter
reads this module and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

import requests

from connector.errors import InvalidInput
from connector.version import USER_AGENT

if TYPE_CHECKING:  # the presence model is the adapters' vocabulary, imported for types only
    from connector.presence.model import Options, PresenceConfig

from connector import validation as parse

KINDS = ("presence", "dial", "login", "logout")


class AdapterError(Exception):
    """Delivery failed. ``retryable``: a later attempt may succeed (remote down, 5xx, timeout).

    ``retry_after`` (seconds) is the remote's own hint (HTTP 429/503 Retry-After). The message is
    shown to admins in health and on the outbox row, so it must never contain a secret.
    """

    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class AdapterConfigError(parse.SettingsInvalid, ValueError):
    """An adapter's settings are missing or invalid; the message names the environment variable.

    ``field`` is that variable (``AMI_PORT``), so the admin page and the API can point at it;
    ``settings`` when the problem is with the settings as a whole (an unknown key).
    """

    def __init__(self, message: str, field: str = "settings"):
        super().__init__([parse.Problem(field, message)])


class UnknownAdapter(LookupError):
    """No adapter of that name is installed; the message lists the known names."""


class InboundRejected(InvalidInput):
    """An inbound event an adapter cannot apply; ``field`` names the part that was wrong (HTTP 422)."""


@dataclass(frozen=True)
class Setting:
    """One setting: ``type`` is str, int, float or bool; ``secret`` values are never shown."""

    type: type = str
    required: bool = False
    default: Any = None
    secret: bool = False
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    #: ``"url"``: a full URL (``schemes``, a host) that contains every one of ``placeholders``
    kind: str = ""
    placeholders: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ("http", "https")

    def parse(self, env_name: str, raw: object) -> Any:
        """The value of ``raw`` (text from the environment or the admin page), or
        :class:`AdapterConfigError` with ``field`` = ``env_name``."""
        if raw is None or raw == "":
            if self.required:
                raise AdapterConfigError(f"{env_name} is required{': ' + self.help if self.help else ''}", env_name)
            return self.default
        try:
            value = _PARSERS.get(self.type, self.type)(raw)
        except (TypeError, ValueError):
            shown = "(hidden)" if self.secret else repr(raw)
            raise AdapterConfigError(f"{env_name} must be {self.type.__name__}, got {shown}", env_name) from None
        if self.range is not None:
            low, high = self.range
            try:
                parse.in_range(value, low, high)
            except parse.BadValue:
                raise AdapterConfigError(f"{env_name} must be between {low} and {high}", env_name) from None
        if self.choices is not None:
            try:
                parse.choice(value, self.choices)
            except parse.BadValue:
                raise AdapterConfigError(f"{env_name} must be one of: {', '.join(self.choices)}", env_name) from None
        if self.kind == "url":
            self._check_url(env_name, value)
        return value

    def _check_url(self, env_name: str, value: str) -> None:
        try:
            parse.url(value, self.schemes)
        except parse.BadValue:
            raise AdapterConfigError(
                f"{env_name} must be a full URL starting with "
                f"{' or '.join(s + '://' for s in self.schemes)} and a host name, got "
                f"{'(hidden)' if self.secret else repr(value)}",
                env_name,
            ) from None
        missing = [p for p in self.placeholders if p not in value]
        if missing:
            raise AdapterConfigError(
                f"{env_name} must contain {', '.join(missing)} "
                f"(where the value goes){': ' + self.help if self.help else ''}",
                env_name,
            )


#: a setting's type -> how its text is read (any other type is called with the raw value)
_PARSERS: dict[type, Callable[[Any], Any]] = {
    bool: parse.flag,
    int: parse.whole_number,
    float: parse.number,
    str: parse.text,
}


@dataclass(frozen=True)
class AgentInfo:
    """Who the change is about, as the adapters need it."""

    id: str
    name: str = ""
    extension: str = ""
    email: str = ""
    salesforce_user_id: str = ""


@dataclass(frozen=True)
class StateInfo(Mapping[str, Any]):
    """A presence state as a change carries it: ``adapters`` holds the per-adapter mapping values.

    Read it by attribute (``state.label``); it also reads as a mapping (``state["label"]``) for
    adapters written against the earlier dict contract.
    """

    id: str
    label: str
    status: int
    reason_code: str = ""
    adapters: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> StateInfo | None:
        if data is None:
            return None
        return cls(
            id=data["id"],
            label=data.get("label", data["id"]),
            status=int(data.get("status") or 0),
            reason_code=data.get("reason_code") or "",
            adapters=dict(data.get("adapters") or {}),
        )

    def __getitem__(self, key: str) -> Any:
        if key not in _STATE_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_STATE_KEYS)

    def __len__(self) -> int:
        return len(_STATE_KEYS)


_STATE_KEYS = ("id", "label", "status", "reason_code", "adapters")


class ChangeKind:
    PRESENCE = "presence"
    DIAL = "dial"
    LOGIN = "login"
    LOGOUT = "logout"


@dataclass(frozen=True)
class Change:
    """One outbox row, ready for an adapter.

    ``kind`` is ``presence`` (``state`` None = the session ended; ``previous`` None = login),
    ``dial`` (``number``), or ``login``/``logout`` (PBX short codes for ``extension``; ``pin`` is the
    agent's PIN when the code needs one — never log it). ``options`` is the active presence
    configuration's options (pbx_mode, login_code, logout_code, ...). ``key`` identifies the
    delivery: a retry of the same row carries the same key (send it where the remote accepts an
    idempotency key).
    """

    kind: str
    at: datetime | None
    source: str = ""
    cause: str = ""
    state: StateInfo | None = None
    previous: StateInfo | None = None
    number: str | None = None
    extension: str | None = None
    options: Options | None = None
    pin: str | None = field(default=None, repr=False)
    renewal: bool = False
    key: str = ""

    def __post_init__(self) -> None:
        # a state given as a plain dict (tests, adapters' own tools) becomes a StateInfo
        for name in ("state", "previous"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, StateInfo):
                object.__setattr__(self, name, StateInfo.from_dict(value))

    def mapped(self, key: str, state: StateInfo | None = None) -> Any:
        """The state's mapping value for one adapter (``adapters: {key: ...}`` in the config)."""
        state = self.state if state is None else state
        return state.adapters.get(key) if state is not None else None


class Job(NamedTuple):
    """Periodic work an adapter asks the scheduler for."""

    id: str
    run: Callable[[], object]
    seconds: int


class BudgetUse(NamedTuple):
    """The answer of :meth:`Host.spend`: whether the calls were granted, the calls used in the window
    (these included), and when refused the seconds until the window has room."""

    granted: bool
    used: int
    retry_after: float


#: a SOQL query through the shared Salesforce connection: rows as dicts; raises AdapterError
SalesforceQuery = Callable[[str], list[dict[str, Any]]]


class Host(Protocol):
    """The connector as an adapter sees it: the only way in. Implemented once, in ``connector.integrations.host``.

    Changes made here go through the engine like any other (source = the adapter's ``source``, so
    they are not echoed back); domain errors (unknown agent, a state that may not be picked)
    propagate as the connector's own errors.
    """

    def now(self) -> datetime:
        """The connector's clock (tests inject a fake one)."""

    def active_config(self) -> PresenceConfig:
        """The presence configuration in force now (states, mappings, options)."""

    def agent(self, agent_id: str) -> AgentInfo | None:
        """The agent (also a disabled one: its last changes still go out), or None when unknown."""

    def agent_for_extension(self, extension: str) -> str | None:
        """The active agent whose extension this is, or None."""

    def presence(self, agent_id: str) -> dict[str, Any]:
        """The agent as the API shows it (``GET /api/v1/agents/{id}/presence``)."""

    def presences(self) -> list[dict[str, Any]]:
        """Every active agent as the API shows it."""

    def set_state(self, agent_id: str, state: str, source: str) -> dict[str, Any]:
        """Change the agent's state (a state id or label); returns the agent as the API shows it. The change
        goes through the configuration's inbound rule for ``source`` (as :meth:`inbound` with ``remote`` =
        ``proposed`` = ``state``), so admins can limit it like any other inbound change."""

    def inbound(self, agent_id: str, source: str, remote: str | None, proposed: str | None = None) -> dict[str, Any]:
        """Report what the remote side says of the agent (``remote``: its presence, e.g. ``InAMeeting``; None:
        the condition ended). The configuration's inbound rule for ``source`` decides (``inbound:``): it maps
        ``remote`` to a state (or takes ``proposed``, the adapter's own mapping), applies or refuses it and
        returns ``{"agent": the agent as the API shows it, "action": "apply"|"refuse"|"nothing", "rule": the
        rule that decided, "reason": why, "state": the state id}``. Reporting the same twice changes nothing."""

    def logout(self, agent_id: str, logon_source: str, source: str) -> dict[str, Any]:
        """End the agent's session; returns the agent as the API shows it."""

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Send a live event to the connected pages and components."""

    def salesforce_query(self) -> SalesforceQuery | None:
        """SOQL through the shared Salesforce connection (SF_* settings), or None when not configured."""

    def remember(self, key: str, value: object, ttl: float | None = None) -> None:
        """Keep a small JSON value for ``ttl`` seconds, seen by every instance of the connector (echo
        suppression, what was last sent). Prefix keys with the adapter's name."""

    def recall(self, key: str) -> object | None:
        """What :meth:`remember` kept under ``key`` (on any instance), or None when none or expired."""

    def remember_secret(self, key: str, value: str | None) -> None:
        """Keep a secret (e.g. a rotated OAuth refresh token) in the store, sealed with the connector's secret key
        (``CONNECTOR_SECRET_KEY``) like saved secret settings, seen by every instance and across restarts;
        None forgets it. Prefix keys with the adapter's name. Never logged or shown."""

    def recall_secret(self, key: str) -> str | None:
        """What :meth:`remember_secret` kept under ``key``, or None (none, or sealed with another secret key)."""

    def credential_refused(self, adapter: str, credential: str) -> None:
        """Count a credential the remote refused for good (``credential``: the setting's name, never its value)
        in the connector's metrics (``connector_adapter_credentials_refused_total``)."""

    def spend(self, budget: str, calls: int, window: float, limit: int) -> BudgetUse:
        """Draw ``calls`` from a rate budget of ``limit`` per sliding ``window`` seconds shared by every
        instance; nothing is drawn when that would go over. ``calls`` 0 only reads the use."""

    # -- commands to a component in the agent's console, acknowledged by it ---------------------
    def send_command(self, agent_id: str, command_id: str, kind: str, data: dict[str, Any]) -> None:
        """Store the command (the same ``command_id`` again re-sends it, e.g. a retry) and publish it as
        an ``omni_channel`` live event carrying ``command_id``; a command already acknowledged as done
        is not sent again."""

    def command_result(self, command_id: str) -> dict[str, Any] | None:
        """``{"acked": bool, "ok": bool | None, "error": str | None, "error_code": str | None}`` of a sent
        command, or None when unknown. Any instance may have received the acknowledgement."""

    def acknowledge(
        self, agent_id: str, command_id: str, ok: bool, error: str | None = None, error_code: str | None = None
    ) -> None:
        """The component reports how a command went; InboundRejected (field ``command_id``) when the
        command is unknown or is another agent's."""


class Adapter:
    """Base class; see the module docstring for the contract."""

    name: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    settings: ClassVar[dict[str, Setting]] = {}
    #: the ``source`` of changes this adapter reports inbound; rows from that source are not echoed
    echo_source: ClassVar[str | None] = None
    #: re-send the agent's current presence this often (seconds); None = never
    refresh_seconds: ClassVar[float | None] = None
    #: at most this many pushes of this adapter run at once (a hanging remote holds only these)
    max_concurrency: ClassVar[int] = 2
    #: True: the connector hands over its Salesforce connection through :meth:`use_salesforce`
    uses_salesforce: ClassVar[bool] = False
    #: the body fields an inbound event may carry (:meth:`receive`); empty = no inbound events
    inbound_fields: ClassVar[tuple[str, ...]] = ()
    #: the roles that may report inbound events for an agent (an agent only for itself)
    inbound_roles: ClassVar[tuple[str, ...]] = ("agent", "integration")
    #: True: the adapter dials the numbers the softphone dials (a PBX); the dial answer names it
    dials: ClassVar[bool] = False
    #: the presence option that switches the adapter on (``teams_sync`` ...), named by :meth:`why_not`
    switched_by: ClassVar[str | None] = None

    host: Host

    def __init__(self, values: Mapping[str, object] | None = None):
        values = dict(values or {})
        unknown = sorted(set(values) - set(self.settings))
        if unknown:
            raise AdapterConfigError(
                f"{self.name}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.settings)) or 'none'}"
            )
        self.config: dict[str, Any] = {
            key: spec.parse(self.env_name(key), values.get(key)) for key, spec in self.settings.items()
        }

    @classmethod
    def env_name(cls, key: str) -> str:
        return f"{cls.prefix}{key.upper()}"

    @classmethod
    def from_settings(cls, get: Callable[[str], str | None]) -> Adapter:
        """Build from the environment: each setting ``key`` is read from ``PREFIX_KEY``."""
        return cls({key: get(cls.env_name(key)) for key in cls.settings})

    @property
    def source(self) -> str:
        return self.echo_source or self.name

    @property
    def http(self) -> requests.Session:
        """This adapter's HTTP session (``self.http.post(...)``): connections to the remote are kept alive
        and reused by the next deliveries, from any thread (a new TCP, let alone TLS, connection for every
        change costs more than the request). Like a plain ``requests.post`` it keeps no cookies."""
        session = self.__dict__.get("_http")
        if session is None:
            session = requests.Session()
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            session.headers["User-Agent"] = USER_AGENT  # the release, so the remote's logs say who called
            self.__dict__["_http"] = session
        return session

    def describe_settings(self) -> dict[str, Any]:
        """The settings as admins may see them: secrets shown only as set or not."""
        return {
            self.env_name(k): ("(set)" if self.config[k] not in (None, "") else "(not set)")
            if spec.secret
            else self.config[k]
            for k, spec in self.settings.items()
        }

    def bind(self, host: Host) -> None:
        """Called by the connector before any other hook: from now on ``self.host`` is the way in."""
        self.host = host
        if self.uses_salesforce:
            query = host.salesforce_query()
            if query is not None:
                self.use_salesforce(query)

    # -- the contract ------------------------------------------------------------------------
    def wants(self, options: Any) -> bool:
        """Whether the active presence configuration switches this adapter on (default: always)."""
        return True

    @classmethod
    def check_mapping(cls, value: Any) -> list[str]:
        """Problems with one state's ``adapters: {<name>: value}`` mapping in a presence configuration (empty:
        accepted). Runs wherever a configuration is checked: ``config validate``, the admin editor and import,
        and every apply. The default accepts any value the configuration's own shape rules allow."""
        return []

    def why_not(self, options: Any) -> str | None:
        """Why an enabled adapter receives nothing under these options (shown in health), or None."""
        if self.wants(options):
            return None
        if self.switched_by:
            return f"not sent: {self.switched_by} is off in the presence configuration"
        return "not sent: the presence configuration does not switch it on"

    def push(self, agent: AgentInfo, change: Change) -> None:
        """Deliver ``change`` for ``agent``; return on success, raise :class:`AdapterError` otherwise.

        A change the adapter has nothing to do for (a kind it ignores, a state without mapping)
        simply returns: the row counts as done.
        """
        raise NotImplementedError

    def check(self) -> str:
        """Check the connection (credentials, reachability); return what was checked or raise."""
        return "no connection check for this adapter"

    def start(self) -> None:
        """Start inbound listeners (optional). Called by ``serve``, after :meth:`bind`."""

    def stop(self) -> None:
        """Stop listeners and close connections."""

    def jobs(self) -> list[Job]:
        """Periodic work for the scheduler (optional), e.g. a reconciliation."""
        return []

    def use_salesforce(self, query: SalesforceQuery) -> None:
        """Take the shared Salesforce connection (only called when ``uses_salesforce``)."""

    def receive(self, agent_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Apply an event the remote side reports for ``agent_id`` (fields: ``inbound_fields``).

        Returns the agent as the API shows it; raises :class:`InboundRejected` naming the field.
        """
        raise InboundRejected(f"the {self.name} adapter receives no events", field="name")

    def notify(self, query: Mapping[str, str], body: Any) -> tuple[int, Any]:
        """A notification the remote system posts on its own (a webhook such as Graph's change notifications),
        served without sign-in at ``POST /api/v1/adapters/<name>/notifications``: the adapter checks it came
        from the remote (a shared secret such as Graph's clientState). Returns (HTTP status, answer: text is
        sent as text/plain, anything else as JSON); raises :class:`InboundRejected` naming the field."""
        raise InboundRejected(f"the {self.name} adapter takes no notifications", field="name")

    def health(self) -> dict[str, Any]:
        """Adapter-specific health details (connection, drift ...)."""
        return {}
