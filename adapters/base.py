"""The adapter interface: how a presence change reaches another system.

An adapter is a small class, like an HTTP transport:

* ``name`` — what admins write in ``CONNECTOR_ADAPTERS`` and what the engine records as the
  ``source`` of changes the adapter reports inbound (so a change is never echoed back to it);
* ``prefix`` and ``settings`` — its environment settings (``PREFIX_KEY``), declared with
  :class:`Setting` and validated once, when the adapter is built, with an error naming the setting;
* :meth:`Adapter.push` — deliver one change. It returns when the remote system accepted it and
  raises :class:`AdapterError` otherwise (``retryable`` says whether trying again can help).
  Nothing else may escape: the dispatcher treats any other exception as a retryable failure.

Optional: ``blueprint`` (inbound webhooks), :meth:`Adapter.start` (a listener thread, given a
:class:`Host` to feed the engine), :meth:`Adapter.check` (``adapters test NAME``),
:meth:`Adapter.wants` (whether the active presence config switches the adapter on) and
``refresh_seconds`` (re-send the current state this often, for systems whose presence lapses).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping

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
        try:
            if self.range is not None:
                parse.in_range(value, *self.range)
            if self.choices is not None:
                parse.choice(value, self.choices)
        except parse.BadValue as bad:
            if bad.kind == "range":
                raise AdapterConfigError(f"{env_name} must be between {self.range[0]} and {self.range[1]}",
                                         env_name) from None
            raise AdapterConfigError(f"{env_name} must be one of: {', '.join(self.choices)}", env_name) from None
        return value


#: a setting's type -> how its text is read (any other type is called with the raw value)
_PARSERS: dict[type, Callable[[Any], Any]] = {bool: parse.flag, int: parse.whole_number, float: parse.number,
                                              str: parse.text}


@dataclass(frozen=True)
class AgentInfo:
    """Who the change is about, as the adapters need it."""

    id: str
    name: str = ""
    extension: str = ""
    email: str = ""
    salesforce_user_id: str = ""


@dataclass(frozen=True)
class Change:
    """One outbox row, ready for an adapter.

    ``kind`` is ``presence`` (``state`` None = the session ended; ``previous`` None = login),
    ``dial`` (``number``), or ``login``/``logout`` (PBX short codes for ``extension``; ``pin`` is the
    agent's PIN when the code needs one — never log it). ``state``/``previous`` are dicts with id, label, status,
    reason_code and ``adapters`` (the per-state mapping values). ``options`` is the active presence
    configuration's options (pbx_mode, login_code, logout_code, ...).
    """

    kind: str
    at: datetime
    source: str = ""
    cause: str = ""
    state: dict | None = None
    previous: dict | None = None
    number: str | None = None
    extension: str | None = None
    options: Any = None
    pin: str | None = field(default=None, repr=False)
    renewal: bool = False

    def mapped(self, key: str, state: dict | None = None) -> Any:
        """The state's mapping value for one adapter (``adapters: {key: ...}`` in the config)."""
        state = self.state if state is None else state
        return (state or {}).get("adapters", {}).get(key)


@dataclass
class Host:
    """What an adapter's inbound side may use: feed the engine, publish live events, read time."""

    service: Any
    bus: Any
    settings: Any
    clock: Callable[[], datetime]
    store: Any = None


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
    blueprint: ClassVar[Any] = None

    def __init__(self, values: Mapping[str, object] | None = None):
        values = dict(values or {})
        unknown = sorted(set(values) - set(self.settings))
        if unknown:
            raise AdapterConfigError(f"{self.name}: unknown setting(s) {', '.join(unknown)}; "
                                     f"known: {', '.join(sorted(self.settings)) or 'none'}")
        self.config: dict[str, Any] = {key: spec.parse(self.env_name(key), values.get(key))
                                       for key, spec in self.settings.items()}

    @classmethod
    def env_name(cls, key: str) -> str:
        return f"{cls.prefix}{key.upper()}"

    @classmethod
    def from_settings(cls, get: Callable[[str], str | None]) -> "Adapter":
        """Build from the environment: each setting ``key`` is read from ``PREFIX_KEY``."""
        return cls({key: get(cls.env_name(key)) for key in cls.settings})

    @property
    def source(self) -> str:
        return self.echo_source or self.name

    def describe_settings(self) -> dict[str, Any]:
        """The settings as admins may see them: secrets shown only as set or not."""
        return {self.env_name(k): ("(set)" if self.config[k] not in (None, "") else "(not set)")
                if spec.secret else self.config[k] for k, spec in self.settings.items()}

    # -- the contract ------------------------------------------------------------------------
    def wants(self, options: Any) -> bool:
        """Whether the active presence configuration switches this adapter on (default: always)."""
        return True

    def push(self, agent: AgentInfo, change: Change) -> None:
        """Deliver ``change`` for ``agent``; return on success, raise :class:`AdapterError` otherwise.

        A change the adapter has nothing to do for (a kind it ignores, a state without mapping)
        simply returns: the row counts as done.
        """
        raise NotImplementedError

    def check(self) -> str:
        """Check the connection (credentials, reachability); return what was checked or raise."""
        return "no connection check for this adapter"

    def start(self, host: Host) -> None:
        """Start inbound listeners (optional). Called once when the app is built."""
        self.host = host

    def stop(self) -> None:
        """Stop listeners and close connections."""

    def health(self) -> dict:
        """Adapter-specific health details (connection, drift ...)."""
        return {}
