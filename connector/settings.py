"""Every setting of the connector, declared once, read once at start-up (docs/architecture.md "Settings").

One :class:`Declared` per environment variable (``CONNECTOR_*``, ``SF_*``, and ``HOST``/``PORT`` of
``serve``): its type, range or choices, default, whether it is secret, its help text and its README group.
Values are read through the vocabulary of :mod:`connector.validation`, so a refused value is a
:class:`~connector.validation.SettingsInvalid` whose :class:`~connector.validation.Problem` names the
variable and what it must be. :func:`from_environment` checks them all at start-up and refuses with every
problem at once; code reads a value with :meth:`Settings.value` (or a typed field of :class:`Settings`).
README's "Settings reference" is :func:`reference_table` (``presence-connector settings reference``),
kept equal by ``tests/test_settings_reference.py``.

Adapters declare their own settings (``TEAMS_*``, ``AMI_*`` ...) with ``adapters.base.Setting``; they reach
the raw environment through :meth:`Settings.get`. The module is long on purpose: one place lists every
setting, so a reader, the README and the start-up check cannot disagree.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector import validation as parse
from connector.auth.cors import parse_origin_patterns
from connector.auth.hashing import HASH_COSTS
from connector.errors import InvalidInput
from connector.integrations.targets import parse_allowed
from connector.presence.engine import COUNTERS
from connector.validation import Problem, SettingsInvalid
from connector.web.proxies import parse_trusted

#: README groups, in the order the reference table lists them
GROUPS = (
    "general",
    "security",
    "single sign-on",
    "event streams",
    "adapters",
    "Salesforce",
    "operations",
    "data retention",
)


@dataclass(frozen=True)
class Declared:
    """One setting (compare ``adapters.base.Setting``). ``type`` is str, int, float (finite: no nan, no inf)
    or bool; ``reader`` reads what no plain type describes (a time zone, origins, networks, an API name)."""

    name: str
    group: str
    help: str
    type: type = str
    #: the value when the variable is unset or empty
    default: Any = None
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    #: ``seconds`` or ``hours``: how a number is worded in errors and in the README
    unit: str = ""
    #: never shown: not in errors, not in the README's default column
    secret: bool = False
    #: text -> value; raises :class:`~connector.validation.BadValue` (worded with ``rule``) or an
    #: :class:`~connector.errors.InvalidInput` that names the setting in its own words
    reader: Callable[[str], Any] | None = None
    #: what a value must be, in words (derived from type, range and choices when empty)
    rule: str = ""
    #: the default as the README shows it, when it is not a plain value
    shown_default: str = ""
    #: False: not refused at start-up but by its owner (``serve`` for HOST/PORT; the Salesforce settings
    #: turn the sync off and ``sync status`` says why, as the connector runs without Salesforce)
    at_start: bool = True

    @property
    def prefix(self) -> str | None:
        """For a pattern (``CONNECTOR_DISPATCH_CONCURRENCY_<ADAPTER>``) what every name starts with."""
        return self.name.partition("<")[0] if "<" in self.name else None

    def name_for(self, suffix: str) -> str:
        """A pattern's variable for ``suffix`` (an adapter name): ``pbx-http`` -> ``..._PBX_HTTP``."""
        return f"{self.prefix}{suffix.upper().replace('-', '_')}"

    @property
    def allowed(self) -> str:
        """What a value must be, in words: ``a whole number from 1 to 64``, ``on or off`` ..."""
        if self.rule:
            return self.rule
        if self.type is bool:
            return "on or off"
        if self.choices:
            return f"one of: {', '.join(self.choices)}"
        if self.type in (int, float):
            words = "a whole number" if self.type is int else "a number"
            if self.unit:
                words += f" of {self.unit}"
            if self.range:
                lo, hi = self.range
                words += f" from {_num(lo)}" + (f" to {_num(hi)}" if hi is not None else "")
            return words
        return "text"

    def parse(self, raw: str, name: str | None = None) -> Any:
        """The value of ``raw`` (text, not empty), or :class:`SettingsInvalid` naming ``name``."""
        name = name or self.name
        lo, hi = self.range or (None, None)
        try:
            if self.reader is not None:
                return self.reader(raw)
            if self.type is bool:
                return parse.flag(raw)
            if self.type is int:
                return parse.whole_number(raw, lo, hi)
            if self.type is float:
                return parse.finite_number(raw, lo, hi)
            if self.choices:
                return parse.choice(raw, self.choices)
            return parse.text(raw)
        except parse.BadValue as bad:
            raise SettingsInvalid(Problem(name, self.refusal(name, raw, bad.kind))) from None
        except SettingsInvalid:
            raise
        except InvalidInput as bad:
            raise SettingsInvalid(Problem(bad.field or name, bad.message)) from None

    def refusal(self, name: str, raw: str, kind: str) -> str:
        got = "" if self.secret else f", got {raw!r}"
        if kind == "range" and self.range and self.type in (int, float):
            lo, hi = self.range
            unit = f" {self.unit}" if self.unit else ""
            return f"{name} must be from {_num(lo)} to {_num(hi)}{unit}{got}"
        return f"{name} must be {self.allowed}{got}"

    def read(self, env: Mapping[str, str], name: str | None = None) -> Any:
        """The value in ``env`` (unset or empty: the default)."""
        raw = env.get(name or self.name)
        return self.default if raw in (None, "") else self.parse(raw, name)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- readers for what no plain type describes -----------------------------------------------------------

#: a Salesforce object or field API name
API_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


def _database_url(raw: str) -> str:
    try:
        make_url(raw)
    except (ArgumentError, ValueError):
        raise parse.BadValue("type", raw) from None
    return raw


def _time_zone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise parse.BadValue("type", raw) from None
    return raw


def _words(raw: str) -> tuple[str, ...]:
    return tuple(raw.split())


def _names(raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _api_name(raw: str) -> str:
    if not API_NAME_RE.match(raw):
        raise parse.BadValue("type", raw)
    return raw


def _field_or_dash(raw: str) -> str:
    return raw if raw == "-" else _api_name(raw)


def _login_url(raw: str) -> str:
    return parse.url(raw.rstrip("/"), schemes=("https",))


def _issuer(raw: str) -> str:
    """An OpenID Connect issuer: https, or http on a loopback address (a provider run locally for tests)."""
    value = parse.url(raw.strip().rstrip("/"), schemes=("https", "http"))
    host = urlsplit(value).hostname or ""
    if value.startswith("http:") and host not in ("localhost", "127.0.0.1", "::1"):
        raise parse.BadValue("type", raw)
    return value


def _api_version(raw: str) -> str:
    version = raw.lstrip("vV")
    if not re.fullmatch(r"[0-9]{2,3}\.0", version) or float(version) < 46:
        raise parse.BadValue("type", raw)
    return version


def _counter_fields(raw: str) -> dict[str, str]:
    """``calls_inbound_answered=Calls_Inbound_Answered__c,...``: our counter name -> Salesforce number field."""
    mapping: dict[str, str] = {}

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"SF_COUNTER_FIELDS: {why}", field="SF_COUNTER_FIELDS")

    for entry in raw.split(","):
        if not entry.strip():
            continue
        name, sep, api_name = (part.strip() for part in entry.partition("="))
        if not sep or not name or not api_name:
            raise refuse(f"'{entry.strip()}' must look like counter=Field__c")
        if name not in COUNTERS:
            raise refuse(f"unknown counter '{name}' (known: {', '.join(COUNTERS)})")
        if not API_NAME_RE.match(api_name):
            raise refuse(f"'{api_name}' for {name} must be a field API name like Calls_Inbound__c")
        if name in mapping or api_name in mapping.values():
            raise refuse(f"{name if name in mapping else api_name} is mapped twice")
        mapping[name] = api_name
    return mapping


def _long_token(raw: str, name: str) -> str:
    if len(raw) < 32 or any(c.isspace() for c in raw):
        raise InvalidInput(f"{name} must be 32 characters or more without spaces", field=name)
    return raw


# -- the declarations -----------------------------------------------------------------------------------

_SF_FIELDS = (
    ("SF_FIELD_KEY", "Key__c", "the external id (unique): `agent id|YYYY-MM-DD|state id`"),
    ("SF_FIELD_USER", "User__c", "the agent's Salesforce user id"),
    ("SF_FIELD_AGENT", "Agent__c", "the agent id"),
    ("SF_FIELD_DATE", "Date__c", "the day"),
    ("SF_FIELD_STATE", "Presence_State__c", "the state's label"),
    ("SF_FIELD_STATUS", "Presence_Status__c", "the state's status code"),
    ("SF_FIELD_REASON_CODE", "Reason_Code__c", "the state's reason code"),
    ("SF_FIELD_SECONDS", "Seconds__c", "the seconds in the state that day"),
)

DECLARED: tuple[Declared, ...] = (
    # general
    Declared(
        "CONNECTOR_DATABASE_URL",
        "general",
        "any SQLAlchemy URL, e.g. `postgresql+psycopg://user:pw@host/db` (`pip install '.[postgres]'`)",
        reader=_database_url,
        rule="a SQLAlchemy database URL",
        shown_default="`sqlite:///instance/presence.db`",
        secret=True,
    ),
    Declared(
        "CONNECTOR_DATABASE_COMMIT_LANES",
        "general",
        "PostgreSQL: changes are written in batches that share one commit (group commit); this many batches "
        "at once per instance, each on a connection of its own (docs/capacity.md; SQLite has one)",
        type=int,
        default=4,
        range=(1, 32),
    ),
    Declared(
        "CONNECTOR_INSTANCE_PATH",
        "general",
        "where the SQLite file and the generated secrets live",
        default="instance",
        rule="a folder",
        shown_default="`./instance`",
    ),
    Declared(
        "CONNECTOR_PRESENCE_CONFIG",
        "general",
        "a preset name or a YAML file; applied when the store is empty or when the file changed since it was "
        "last applied",
        default="default",
        rule="a preset name or a YAML file",
    ),
    Declared(
        "CONNECTOR_TIMEZONE",
        "general",
        'the zone of "a day" for time tracking and the scheduled log off',
        default="UTC",
        reader=_time_zone,
        rule="a time zone name like Europe/Berlin",
    ),
    Declared(
        "CONNECTOR_SCHEDULER",
        "general",
        "`off` to run the scheduled jobs (timed rules, scheduled log off, Salesforce flush, adapter jobs) elsewhere",
        type=bool,
        default=True,
    ),
    Declared(
        "HOST",
        "general",
        "the address `presence-connector serve` listens on (`--host` wins)",
        default="127.0.0.1",
        rule="an address",
        at_start=False,
    ),
    Declared(
        "PORT",
        "general",
        "the port `presence-connector serve` listens on (`--port` wins); `0`: any free port",
        type=int,
        default=5000,
        range=(0, 65535),
        at_start=False,
    ),
    Declared(
        "CONNECTOR_SHUTDOWN_GRACE",
        "general",
        "on SIGTERM, how long `serve` lets requests and deliveries in flight finish before it releases what it "
        "still holds (outbox rows, job leases) to the other instances and exits",
        type=float,
        unit="seconds",
        default=10.0,
        range=(0, 600),
    ),
    # security
    Declared(
        "CONNECTOR_SECRET_KEY",
        "security",
        "signs sessions and stream tokens, seals PINs in the outbox and secrets saved on the admin page",
        secret=True,
        shown_default="generated into `instance/secret_key`",
    ),
    Declared(
        "CONNECTOR_PEPPER",
        "security",
        "the key mixed into PIN and password hashes. **Back it up with the database**: without it no PIN or "
        "password verifies. Every instance sharing a PostgreSQL store needs the same value",
        secret=True,
        shown_default="generated into `instance/pepper`",
    ),
    Declared(
        "CONNECTOR_PASSWORD_HASH_COST",
        "security",
        "cost of new password and PIN hashes: `standard` (scrypt N=32768), or `test` (cheap, for the test suite "
        "only — never for real accounts). Each hash keeps its own parameters, so existing hashes verify whatever "
        "the setting",
        default="standard",
        choices=tuple(HASH_COSTS),
    ),
    Declared(
        "CONNECTOR_HASH_CONCURRENCY",
        "security",
        "hash checks at once, so guessers cannot starve presence changes",
        type=int,
        default=2,
        range=(1, 64),
    ),
    Declared(
        "CONNECTOR_SIGNIN_FREE_TRIES",
        "security",
        "failures per account before the backoff starts",
        type=int,
        default=3,
        range=(1, 1000),
    ),
    Declared(
        "CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES",
        "security",
        "failures per client address before the backoff starts (many agents behind one NAT share it)",
        type=int,
        default=30,
        range=(1, 100000),
    ),
    Declared(
        "CONNECTOR_SIGNIN_MAX_BACKOFF",
        "security",
        "longest block after failed sign-ins",
        type=int,
        unit="seconds",
        default=300,
        range=(1, 86400),
    ),
    Declared(
        "CONNECTOR_SIGNIN_DAILY_ALERT",
        "security",
        "failures on one account within a day that alert the admins (admin page, `/healthz`, one log line); "
        "no number of anonymous tries locks an account",
        type=int,
        default=50,
        range=(1, 99),
    ),
    Declared(
        "CONNECTOR_LOCKOUT_FAILURES",
        "security",
        "no longer used (setting it logs a warning): failures slow the guesser and alert the admins; "
        "only an admin locks an account",
        type=int,
        default=10,
        range=(1, 1000),
    ),
    Declared(
        "CONNECTOR_LOCKOUT_SECONDS",
        "security",
        "no longer used (setting it logs a warning)",
        type=int,
        unit="seconds",
        default=1800,
        range=(0, 31 * 86400),
    ),
    Declared(
        "CONNECTOR_ALLOW_PRIVATE_TARGETS",
        "security",
        "hosts, addresses or networks (space or comma separated) that adapter settings saved on the admin page may "
        "reach although they are loopback, link-local or private (a PBX on the LAN: `pbx.local 10.1.2.0/24`)",
        default=(),
        shown_default="(none)",
        reader=parse_allowed,
    ),
    Declared(
        "CONNECTOR_SESSION_IDLE_HOURS",
        "security",
        "page sessions of agents and supervisors end after this long without a request",
        type=float,
        unit="hours",
        default=12,
        range=(0.01, 24 * 90),
    ),
    Declared(
        "CONNECTOR_ADMIN_SESSION_IDLE_HOURS",
        "security",
        "the same for admins",
        type=float,
        unit="hours",
        default=8,
        range=(0.01, 24 * 90),
    ),
    Declared(
        "CONNECTOR_SESSION_MAX_HOURS",
        "security",
        "every page session ends this long after sign-in",
        type=float,
        unit="hours",
        default=24,
        range=(0.01, 24 * 90),
    ),
    Declared(
        "CONNECTOR_TRUSTED_PROXIES",
        "security",
        "addresses or networks of reverse proxies allowed to set `X-Forwarded-For/-Proto/-Host/-Port` "
        "(`10.0.0.5 172.16.0.0/12`)",
        default=(),
        reader=parse_trusted,
        rule="IP addresses or networks, separated by spaces or commas",
    ),
    Declared(
        "CONNECTOR_SECURE_COOKIES",
        "security",
        "`on`: cookies always `Secure`",
        type=bool,
        default=False,
    ),
    Declared(
        "CONNECTOR_AGENT_CALLS",
        "security",
        "`on`: agents may report their own calls (the softphone is the call source)",
        type=bool,
        default=False,
    ),
    Declared(
        "CONNECTOR_FRAME_ANCESTORS",
        "security",
        "Salesforce domains allowed to embed the softphone (`https://*.lightning.force.com ...`); the only "
        "framers the Content-Security-Policy allows",
        default=(),
        reader=_words,
        rule="origins separated by spaces",
    ),
    # single sign-on (README "Single sign-on"; connector/auth/oidc.py)
    Declared(
        "CONNECTOR_OIDC_ISSUER",
        "single sign-on",
        "the OpenID Connect provider's issuer URL; its `/.well-known/openid-configuration` is read at the first "
        "sign-in (Salesforce: your My Domain URL; Entra ID: `https://login.microsoftonline.com/<tenant id>/v2.0`). "
        "Unset: no single sign-on",
        default="",
        reader=_issuer,
        rule="an https URL (http only on a loopback address)",
        shown_default="(none)",
    ),
    Declared(
        "CONNECTOR_OIDC_CLIENT_ID",
        "single sign-on",
        "the client id the provider gave this connector (Salesforce: the consumer key; Entra ID: the application "
        "(client) id); every ID token must be issued for it",
        default="",
        shown_default="(none)",
    ),
    Declared(
        "CONNECTOR_OIDC_CLIENT_SECRET",
        "single sign-on",
        "the client secret (Salesforce: the consumer secret); sent only to the provider's token endpoint",
        default="",
        secret=True,
        shown_default="(none)",
    ),
    Declared(
        "CONNECTOR_OIDC_MATCH_CLAIM",
        "single sign-on",
        "the claim that finds the account: `email` (an agent's email, a user's username), `preferred_username` "
        "(an agent's id or email, a user's username), `user_id` (Salesforce: an agent's Salesforce user id) or "
        "`sub` (an agent's id, a user's username)",
        default="email",
        choices=("email", "preferred_username", "user_id", "sub"),
    ),
    Declared(
        "CONNECTOR_OIDC_ROLES_CLAIM",
        "single sign-on",
        "a claim listing roles (Entra ID app roles: `roles`; a groups claim): values `admin`, `supervisor` or "
        "`agent` set a user's role at each sign-in; one without any of them is refused. Unset: roles stay as "
        "the admin set them",
        default="",
        shown_default="(none)",
    ),
    Declared(
        "CONNECTOR_OIDC_AUTO_CREATE",
        "single sign-on",
        "`on`: a person the provider vouches for but no account matches gets one (an agent, or a user with the "
        "role from `CONNECTOR_OIDC_ROLES_CLAIM`); `off`: refused with a page saying an admin must add them",
        type=bool,
        default=False,
    ),
    Declared(
        "CONNECTOR_OIDC_NAME",
        "single sign-on",
        "the provider's name on the sign-in button",
        default="single sign-on",
    ),
    Declared(
        "CONNECTOR_PIN_SIGNIN",
        "single sign-on",
        "`off`: the web sign-in with agent id and PIN is refused (agents use single sign-on); PINs keep working "
        "for the PBX short codes and `POST /api/v1/pbx/login`",
        type=bool,
        default=True,
    ),
    # event streams (and the Omni-Channel component's access to them)
    Declared(
        "CONNECTOR_STREAMS_PER_PRINCIPAL",
        "event streams",
        "open event streams per API token or signed-in user on an instance; one more is answered 503 "
        "`too_many_streams`",
        type=int,
        default=20,
        range=(1, 100000),
    ),
    Declared(
        "CONNECTOR_EVENTS_RETENTION",
        "event streams",
        "how long live events are kept for streams that resume with `Last-Event-ID` (older: `resync`)",
        type=float,
        unit="seconds",
        default=3600.0,
        range=(1, 7 * 86400),
    ),
    Declared(
        "CONNECTOR_EVENTS_POLL",
        "event streams",
        "time between reads of the events table (how soon a change made on another instance reaches this one's "
        "streams)",
        type=float,
        unit="seconds",
        default=0.1,
        range=(0.01, 60),
    ),
    Declared(
        "CONNECTOR_CORS_ORIGINS",
        "event streams",
        "browser origins (exact, or `https://*.lightning.force.com` patterns) that may call the event stream and "
        "the Omni-Channel endpoints; no cookies are accepted cross-origin",
        default=(),
        reader=lambda raw: parse_origin_patterns(raw, "CONNECTOR_CORS_ORIGINS"),
        rule="origins separated by spaces",
    ),
    Declared(
        "CONNECTOR_STREAM_TOKEN_SECONDS",
        "event streams",
        "lifetime of the Omni-Channel component's stream tokens",
        type=int,
        unit="seconds",
        default=900,
        range=(60, 86400),
    ),
    # adapters
    Declared(
        "CONNECTOR_ADAPTERS",
        "adapters",
        "the adapters that run (the admin page may enable or disable others); each reads its own prefixed settings",
        default=(),
        reader=_names,
        rule="adapter names separated by commas",
    ),
    Declared(
        "CONNECTOR_DISPATCH_BACKOFF",
        "adapters",
        "the first retry delay of a failed delivery; doubled per failure",
        type=float,
        unit="seconds",
        default=2.0,
        range=(0.01, 3600),
    ),
    Declared(
        "CONNECTOR_DISPATCH_MAX_BACKOFF",
        "adapters",
        "the longest retry delay",
        type=float,
        unit="seconds",
        default=300.0,
        range=(0.01, 86400),
    ),
    Declared(
        "CONNECTOR_DISPATCH_LEASE",
        "adapters",
        "how long an instance may hold a row it is delivering before another instance takes it over (keep it "
        "above the adapter's timeout)",
        type=float,
        unit="seconds",
        default=60.0,
        range=(1, 86400),
    ),
    Declared(
        "CONNECTOR_DISPATCH_CONCURRENCY_<ADAPTER>",
        "adapters",
        "pushes of that adapter at once on this instance (different agents; one agent's changes go out one after "
        "the other), e.g. `CONNECTOR_DISPATCH_CONCURRENCY_WEBHOOK=8`",
        type=int,
        range=(1, 64),
        shown_default="the adapter's `max_concurrency` (2; `asterisk_ami` 1)",
    ),
    # operations: logs and metrics (README "Running in production")
    Declared(
        "CONNECTOR_LOG_FORMAT",
        "operations",
        "`json`: one JSON object a line (time, level, logger, instance, request_id, message and the fields of "
        "the line) for a log shipper; `text`: one readable line",
        default="text",
        choices=("text", "json"),
    ),
    Declared(
        "CONNECTOR_LOG_LEVEL",
        "operations",
        "the least severe lines written by `serve`",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    Declared(
        "CONNECTOR_ACCESS_LOG",
        "operations",
        "one line per request (logger `connector.access`: method, path, status, latency, request id; never a "
        "token, PIN, cookie or query secret)",
        type=bool,
        default=True,
    ),
    Declared(
        "CONNECTOR_METRICS_TOKEN",
        "operations",
        "a token (32 characters or more) Prometheus sends as `Authorization: Bearer ...` to read `/metrics`; an "
        "admin API token works too",
        secret=True,
        reader=lambda raw: _long_token(raw, "CONNECTOR_METRICS_TOKEN"),
        rule="32 characters or more, no spaces",
        shown_default="(none: admin API tokens only)",
    ),
    # Salesforce
    Declared(
        "SF_LOGIN_URL",
        "Salesforce",
        "the token server: your My Domain (`https://acme.my.salesforce.com`), `https://login.salesforce.com`, "
        "`https://test.salesforce.com`, or any server speaking the same OAuth endpoints",
        default="",
        reader=_login_url,
        rule="a full https:// URL (My Domain, test.salesforce.com, ...)",
        shown_default="(none: no sync)",
        at_start=False,
    ),
    Declared(
        "SF_CLIENT_ID",
        "Salesforce",
        "the connected app (External Client App) consumer key",
        default="",
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_CLIENT_SECRET",
        "Salesforce",
        "its consumer secret (client credentials, username-password)",
        default="",
        secret=True,
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_USERNAME",
        "Salesforce",
        "the integration user (JWT bearer, username-password)",
        default="",
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_PASSWORD",
        "Salesforce",
        "its password (username-password flow, being deprecated by Salesforce)",
        default="",
        secret=True,
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_SECURITY_TOKEN",
        "Salesforce",
        "its security token (username-password flow)",
        default="",
        secret=True,
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_PRIVATE_KEY_FILE",
        "Salesforce",
        "PEM RSA private key for the JWT bearer flow (certificate uploaded to the app)",
        default="",
        rule="a file",
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_JWT_AUDIENCE",
        "Salesforce",
        "JWT `aud`; set it only to override (e.g. an Experience Cloud site URL)",
        default="",
        shown_default="from `SF_LOGIN_URL`: `https://test.salesforce.com` for sandbox hosts, else "
        "`https://login.salesforce.com`",
        at_start=False,
    ),
    Declared(
        "SF_API_VERSION",
        "Salesforce",
        "the REST API version",
        default="62.0",
        reader=_api_version,
        rule="a version like 62.0 (46.0 or later: sObject Collections upsert)",
        at_start=False,
    ),
    Declared(
        "SF_OBJECT_NAME",
        "Salesforce",
        "the object for orgs with their own",
        default="Presence_Time__c",
        reader=_api_name,
        rule="an API name like Presence_Time__c",
        at_start=False,
    ),
    *(
        Declared(
            name,
            "Salesforce",
            f"the field for {what}" + ("" if name == "SF_FIELD_KEY" else "; `-` leaves it out"),
            default=default,
            reader=_api_name if name == "SF_FIELD_KEY" else _field_or_dash,
            rule=f"a field API name like {default}",
            at_start=False,
        )
        for name, default, what in _SF_FIELDS
    ),
    Declared(
        "SF_COUNTER_FIELDS",
        "Salesforce",
        'daily counters as number fields (README "Salesforce"); unset: no counter records',
        default={},
        reader=_counter_fields,
        rule="`counter=Field__c` pairs separated by commas",
        shown_default="(none)",
        at_start=False,
    ),
    Declared(
        "SF_COUNTER_OBJECT",
        "Salesforce",
        "the object the daily counters records go to (one per agent and day; its key, agent, user and date "
        "fields are named as `SF_FIELD_*`)",
        default="Presence_Counters__c",
        reader=_api_name,
        rule="an API name like Presence_Counters__c",
        at_start=False,
    ),
    Declared(
        "SF_RETENTION_DAYS",
        "Salesforce",
        "days of records kept in the org (today included); older ones are deleted in batches on the flush's "
        'API budget (README "Salesforce"); 0: off, nothing is deleted',
        type=int,
        unit="days",
        default=0,
        range=(0, 36500),
        at_start=False,
    ),
    Declared(
        "SF_RETENTION_API_PERCENT",
        "Salesforce",
        "the retention makes no call once the org's API usage (its 24-hour limit, from `Sforce-Limit-Info`) is "
        "at this share of the limit",
        type=float,
        unit="",
        default=50.0,
        range=(1, 100),
        rule="a percentage from 1 to 100",
        at_start=False,
    ),
    Declared(
        "SF_TIMEOUT_SECONDS",
        "Salesforce",
        "per request",
        type=float,
        unit="seconds",
        default=30.0,
        range=(1, 300),
        at_start=False,
    ),
    Declared(
        "SF_BACKOFF_MAX_SECONDS",
        "Salesforce",
        "longest wait between retries after failures",
        type=float,
        unit="seconds",
        default=900.0,
        range=(1, 86400),
        at_start=False,
    ),
    Declared(
        "SF_LIMIT_PAUSE_SECONDS",
        "Salesforce",
        "how long to stop calling after `REQUEST_LIMIT_EXCEEDED`",
        type=float,
        unit="seconds",
        default=3600.0,
        range=(1, 86400),
        at_start=False,
    ),
    # data retention (connector/upkeep/retention.py)
    Declared(
        "CONNECTOR_RETAIN_LOGON_EVENTS_DAYS",
        "data retention",
        "days logon events (Acquired/Released, with device) are kept; `0` keeps them forever",
        type=int,
        default=400,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_INTERVALS_DAYS",
        "data retention",
        "days closed state intervals (each state an agent was in, from when to when) are kept; the open one always stays; `0` keeps them forever",
        type=int,
        default=400,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_CALLS_DAYS",
        "data retention",
        "days ended calls are kept; `0` keeps them forever",
        type=int,
        default=400,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_OUTBOX_DAYS",
        "data retention",
        "days delivered (or superseded) outbox rows are kept; rows not yet delivered are never purged; `0` keeps them forever",
        type=int,
        default=7,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_SIGN_IN_FAILURES_DAYS",
        "data retention",
        "days failed sign-ins (account, client address) are kept; `0` keeps them forever",
        type=int,
        default=90,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_WEB_SESSIONS_DAYS",
        "data retention",
        "days ended page sessions are kept; `0` keeps them forever",
        type=int,
        default=30,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_AUDIT_DAYS",
        "data retention",
        "days rows of the audit trail are kept; `0` keeps them forever",
        type=int,
        default=730,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETAIN_DAILY_TOTALS_DAYS",
        "data retention",
        "days per-day totals (seconds per state, daily counters) are kept; they are what reports and Salesforce read; `0` keeps them forever",
        type=int,
        default=1095,
        range=(0, 36500),
        unit="days",
    ),
    Declared(
        "CONNECTOR_RETENTION_BATCH",
        "data retention",
        "rows deleted per transaction by the retention job (small batches keep the write lock short)",
        type=int,
        default=500,
        range=(10, 10000),
    ),
    Declared(
        "CONNECTOR_RETENTION_INTERVAL",
        "data retention",
        "seconds between runs of the retention job (one instance of a cluster runs it, under a lease)",
        type=int,
        default=3600,
        range=(60, 86400),
        unit="seconds",
    ),
)

_BY_NAME = {d.name: d for d in DECLARED if d.prefix is None}
_PATTERNS = tuple(d for d in DECLARED if d.prefix is not None)
#: ``CONNECTOR_DISPATCH_CONCURRENCY_<ADAPTER>``; ``.name_for(adapter.name)`` is one adapter's variable
DISPATCH_CONCURRENCY = _PATTERNS[0]


def declared(name: str) -> Declared:
    """The declaration of ``name`` (a pattern's for ``CONNECTOR_DISPATCH_CONCURRENCY_WEBHOOK``);
    LookupError for a name not declared here."""
    found = _BY_NAME.get(name)
    if found is None:
        found = next((d for d in _PATTERNS if name.startswith(d.prefix or "\0")), None)
    if found is None:
        raise LookupError(f"{name} is not declared in connector/settings.py")
    return found


def read(name: str, env: Mapping[str, str]) -> Any:
    """One setting's value in ``env``; SettingsInvalid naming it when it is refused."""
    return declared(name).read(env, name)


def check(env: Mapping[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    """Every declared setting read from ``env``: the values (defaults for unset ones) and every problem
    of a setting checked at start-up. A refused setting not checked at start-up is left out of the values
    (:meth:`Settings.value` raises for it again when its owner reads it)."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    names = [(d, d.name) for d in _BY_NAME.values()]
    names += [(d, n) for d in _PATTERNS for n in sorted(env) if n.startswith(d.prefix or "\0") and env[n] != ""]
    for spec, name in names:
        try:
            values[name] = spec.read(env, name)
        except SettingsInvalid as bad:
            if spec.at_start:
                problems += bad.problems
    return values, problems


# -- the settings of a running app ----------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    database_url: str
    presence_config: str = "default"
    presence_config_explicit: bool = False
    timezone: str = "UTC"
    secret_key: str = field(default="", repr=False)
    #: the key mixed into PIN and password hashes, kept outside the database (``CONNECTOR_PEPPER`` or
    #: ``instance/pepper``); every instance sharing a store needs the same one
    pepper: str = field(default="", repr=False)
    instance_path: str = "instance"
    frame_ancestors: tuple[str, ...] = ()
    run_scheduler: bool = True
    #: cost of new password/PIN hashes: ``standard``, or ``test`` (cheap; only for the test suite)
    password_hash_cost: str = "standard"
    #: lifetime of the Omni-Channel component's stream tokens (CONNECTOR_STREAM_TOKEN_SECONDS)
    stream_token_seconds: int = 900
    #: origins (exact, or ``https://*.lightning.force.com`` patterns) that may call the event stream and the
    #: Omni-Channel report endpoints from a browser (CONNECTOR_CORS_ORIGINS)
    cors_origins: tuple = ()
    #: hosts, addresses and networks adapters saved on the admin page may reach although they are private,
    #: loopback or link-local (``CONNECTOR_ALLOW_PRIVATE_TARGETS``; connector/integrations/targets.py)
    allow_private_targets: tuple[str, ...] = ()
    #: at most this many PIN/password hash checks at once (``CONNECTOR_HASH_CONCURRENCY``)
    hash_concurrency: int = 2
    #: the whole environment the settings came from; adapters read their own prefixed settings
    #: (TEAMS_*, AMI_* ...) through :meth:`get` — never from os.environ directly
    env: dict[str, str] = field(default_factory=dict, repr=False)
    #: every declared setting's value, read once by :func:`from_environment`
    values: dict[str, Any] = field(default_factory=dict, repr=False)

    def value(self, name: str) -> Any:
        """A declared setting's value (its default when unset); SettingsInvalid naming it when refused."""
        if name in self.values:
            return self.values[name]
        return declared(name).read(self.env, name)

    def is_set(self, name: str) -> bool:
        """Whether a declared setting has a value in the environment (empty counts as unset)."""
        declared(name)
        return self.env.get(name) not in (None, "")

    def get(self, name: str, default: str | None = None) -> str | None:
        """The raw text of an adapter's setting (declared by the adapter); empty counts as unset."""
        value = self.env.get(name)
        return value if value not in (None, "") else default

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def from_environment(instance_path: str, env: Mapping[str, str] | None = None) -> Settings:
    """The settings in ``env`` (default: the process environment), every declared one checked: a refused
    value stops start-up with :class:`SettingsInvalid` listing every problem."""
    env = dict(os.environ if env is None else env)
    values, problems = check(env)
    if problems:
        raise SettingsInvalid(problems)
    instance = Path(instance_path)
    return Settings(
        database_url=values["CONNECTOR_DATABASE_URL"] or f"sqlite:///{instance / 'presence.db'}",
        hash_concurrency=values["CONNECTOR_HASH_CONCURRENCY"],
        presence_config=values["CONNECTOR_PRESENCE_CONFIG"],
        presence_config_explicit=env.get("CONNECTOR_PRESENCE_CONFIG") not in (None, ""),
        timezone=values["CONNECTOR_TIMEZONE"],
        secret_key=values["CONNECTOR_SECRET_KEY"] or _instance_secret(instance),
        pepper=values["CONNECTOR_PEPPER"] or _instance_secret(instance, "pepper"),
        instance_path=str(instance),
        frame_ancestors=values["CONNECTOR_FRAME_ANCESTORS"],
        run_scheduler=values["CONNECTOR_SCHEDULER"],
        password_hash_cost=values["CONNECTOR_PASSWORD_HASH_COST"],
        stream_token_seconds=values["CONNECTOR_STREAM_TOKEN_SECONDS"],
        cors_origins=values["CONNECTOR_CORS_ORIGINS"],
        allow_private_targets=values["CONNECTOR_ALLOW_PRIVATE_TARGETS"],
        env=env,
        values=values,
    )


def _instance_secret(instance: Path, name: str = "secret_key") -> str:
    """A per-installation secret kept in the instance folder (so sessions and hashes survive restarts),
    created readable by its owner only."""
    path = instance / name
    if path.is_file():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key


# -- README's reference -------------------------------------------------------------------------------------


def _shown_default(spec: Declared) -> str:
    if spec.shown_default:
        return spec.shown_default
    value = spec.default
    if value is None or value in ((), {}, ""):
        return "(none)"
    if isinstance(value, bool):
        return "`on`" if value else "`off`"
    if isinstance(value, (int, float)):
        return f"`{_num(value)}`"
    return f"`{value}`"


def reference_table() -> str:
    """README's "Settings reference": one markdown row per declared setting, by group."""
    rows = ["| group | variable | default | allowed | meaning |", "|---|---|---|---|---|"]
    for group in GROUPS:
        for spec in DECLARED:
            if spec.group != group:
                continue
            name = f"`{spec.name}`" + (" (secret)" if spec.secret else "")
            cells = (group, name, _shown_default(spec), spec.allowed, spec.help)
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
