"""Salesforce settings (SF_*), declared in ``connector/settings.py`` and checked here, once, as a whole.

Three auth modes, chosen by which credentials are present:

* ``jwt``                — SF_CLIENT_ID + SF_USERNAME + SF_PRIVATE_KEY_FILE (JWT bearer, RS256)
* ``password``           — SF_CLIENT_ID + SF_CLIENT_SECRET + SF_USERNAME + SF_PASSWORD (+ SF_SECURITY_TOKEN)
* ``client_credentials`` — SF_CLIENT_ID + SF_CLIENT_SECRET; only on a My Domain login URL: Salesforce answers
  ``invalid_grant: request not supported on this domain`` on login.salesforce.com and test.salesforce.com
  (help article 000886201), so that combination is refused here, before any call.

The username-password flow is being deprecated by Salesforce (same article); JWT bearer or client
credentials are the ways to go. The JWT ``aud`` is https://test.salesforce.com for sandboxes (also the
older ``name--dev.my.salesforce.com`` My Domain hosts) and https://login.salesforce.com otherwise;
``SF_JWT_AUDIENCE`` overrides it.

Object and field names are configurable for orgs that already have their own object; a field
set to ``-`` is not sent at all. ``SF_COUNTER_FIELDS`` (``counter=Field__c,...``) turns on one
record per agent and day in the counters object (``SF_COUNTER_OBJECT``, kept apart from the time per
state) with the configured counters as number fields; unset means none. ``SF_RETENTION_DAYS`` bounds
the records kept in the org (``retention``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from connector.settings import Settings, declared
from connector.validation import Problem, SettingsInvalid

#: the generic login hosts; the client credentials flow is not supported on them (only on My Domain)
GENERIC_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
DEFAULT_API_VERSION = declared("SF_API_VERSION").default

#: our name for a value -> (setting, default Salesforce field API name)
FIELDS = {
    ours: (name, declared(name).default)
    for ours, name in (
        ("key", "SF_FIELD_KEY"),
        ("user", "SF_FIELD_USER"),
        ("agent", "SF_FIELD_AGENT"),
        ("date", "SF_FIELD_DATE"),
        ("state", "SF_FIELD_STATE"),
        ("status", "SF_FIELD_STATUS"),
        ("reason_code", "SF_FIELD_REASON_CODE"),
        ("seconds", "SF_FIELD_SECONDS"),
    )
}


@dataclass(frozen=True)
class SalesforceSettings:
    login_url: str = ""
    auth_mode: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    private_key_file: str = ""
    jwt_audience: str = ""
    api_version: str = DEFAULT_API_VERSION
    object_name: str = "Presence_Time__c"
    fields: dict[str, str] = field(default_factory=dict)
    #: our counter name -> Salesforce number field (SF_COUNTER_FIELDS); empty: no counter records
    counter_fields: dict[str, str] = field(default_factory=dict)
    #: the object the counters records go to (SF_COUNTER_OBJECT)
    counter_object: str = "Presence_Counters__c"
    #: SF_RETENTION_DAYS: days of records kept in the org; 0: nothing deleted
    retention_days: int = 0
    retention_api_percent: float = 50.0
    timeout_seconds: float = 30.0
    backoff_max_seconds: int = 900
    limit_pause_seconds: int = 3600
    #: why the sink is not configured, each naming its SF_* variable (empty when it is)
    problems: tuple[Problem, ...] = ()

    @property
    def configured(self) -> bool:
        return not self.problems

    @property
    def problem(self) -> str:
        """Why the sink is not configured, in one line (empty when it is)."""
        return "; ".join(str(p) for p in self.problems)

    def check(self) -> None:
        """Raise :class:`SettingsInvalid` naming the first bad SF_* variable when the sink cannot run."""
        if self.problems:
            raise SettingsInvalid(list(self.problems))

    def describe(self) -> dict:
        """What an admin may see: no secret, only whether each one is set."""
        return {
            "login_url": self.login_url,
            "auth_mode": self.auth_mode or None,
            "api_version": self.api_version,
            "object": self.object_name,
            "external_id_field": self.fields.get("key"),
            "counter_fields": dict(self.counter_fields),
            "counter_object": self.counter_object,
            "retention_days": self.retention_days or None,
            "client_secret_set": bool(self.client_secret),
            "password_set": bool(self.password),
            "private_key_file": self.private_key_file or None,
        }


def counter_fields(raw: str | None) -> tuple[dict[str, str], str]:
    """``SF_COUNTER_FIELDS`` parsed: ``calls_inbound_answered=Calls_Inbound_Answered__c,...``.

    Returns the mapping and a problem naming the setting (empty when it is fine).
    """
    if raw in (None, ""):
        return {}, ""
    try:
        return dict(declared("SF_COUNTER_FIELDS").parse(raw)), ""
    except SettingsInvalid as bad:
        return {}, bad.message


def load(settings: Settings) -> SalesforceSettings:
    """The Salesforce settings; ``problems`` say why the sink is off (never raises: the connector runs
    without Salesforce, keeping totals locally; :meth:`SalesforceSettings.check` raises)."""
    problems: list[Problem] = []

    def refuse(name: str, message: str) -> None:
        problems.append(Problem(name, message))

    def take(name: str):
        """The declared value (connector/settings.py); a refused one is a problem and its default stands in."""
        try:
            return settings.value(name)
        except SettingsInvalid as bad:
            problems.extend(bad.problems)
            return declared(name).default

    login_set = settings.is_set("SF_LOGIN_URL")
    login_url = take("SF_LOGIN_URL")
    if not login_set:
        refuse("SF_LOGIN_URL", "SF_LOGIN_URL is not set")
    client_id, secret = settings.value("SF_CLIENT_ID"), settings.value("SF_CLIENT_SECRET")
    username, password = settings.value("SF_USERNAME"), settings.value("SF_PASSWORD")
    key_file = settings.value("SF_PRIVATE_KEY_FILE")
    if key_file and client_id and username:
        mode = "jwt"
    elif client_id and secret and username and password:
        mode = "password"
    elif client_id and secret:
        mode = "client_credentials"
    else:
        mode = ""
        if login_set:
            # the first credential missing is the one to point at
            missing = next(n for n, v in (("SF_CLIENT_ID", client_id), ("SF_CLIENT_SECRET", secret)) if not v)
            refuse(
                missing,
                "no complete credentials: set SF_CLIENT_ID with SF_CLIENT_SECRET (client credentials), "
                "with SF_USERNAME + SF_PRIVATE_KEY_FILE (JWT bearer), or with SF_CLIENT_SECRET + "
                "SF_USERNAME + SF_PASSWORD (username-password)",
            )
    host = (urlparse(login_url).hostname or "").lower() if login_url else ""
    if mode == "client_credentials" and host in GENERIC_LOGIN_HOSTS:
        refuse(
            "SF_LOGIN_URL",
            f"SF_LOGIN_URL: the client credentials flow works only on your My Domain login URL "
            f"(https://MyCompany.my.salesforce.com, or https://MyCompany--Sandbox.sandbox.my.salesforce.com "
            f"for a sandbox); {host} answers invalid_grant",
        )
    version = take("SF_API_VERSION")
    object_name = take("SF_OBJECT_NAME")
    fields: dict[str, str] = {}
    for ours, (setting, _) in FIELDS.items():
        value = take(setting)
        if value != "-":
            fields[ours] = value
    counters = dict(take("SF_COUNTER_FIELDS"))
    if set(counters.values()) & set(fields.values()):
        refuse("SF_COUNTER_FIELDS", "SF_COUNTER_FIELDS: a counter field is also one of the SF_FIELD_* fields")
    counter_object = take("SF_COUNTER_OBJECT")
    if counter_object == object_name:
        refuse("SF_COUNTER_OBJECT", "SF_COUNTER_OBJECT: the counters need their own object, not SF_OBJECT_NAME")
    retention_days = int(take("SF_RETENTION_DAYS"))
    if retention_days and "date" not in fields:
        refuse("SF_RETENTION_DAYS", "SF_RETENTION_DAYS: the retention deletes by the date field; SF_FIELD_DATE is '-'")
    timeout = take("SF_TIMEOUT_SECONDS")
    backoff = take("SF_BACKOFF_MAX_SECONDS")
    pause = take("SF_LIMIT_PAUSE_SECONDS")
    audience = settings.value("SF_JWT_AUDIENCE") or jwt_audience(host)
    return SalesforceSettings(
        login_url=login_url,
        auth_mode=mode,
        client_id=client_id,
        client_secret=secret,
        username=username,
        password=password,
        security_token=settings.value("SF_SECURITY_TOKEN"),
        private_key_file=key_file,
        jwt_audience=audience,
        api_version=version,
        object_name=object_name,
        fields=fields,
        counter_fields=counters,
        counter_object=counter_object,
        retention_days=retention_days,
        retention_api_percent=float(take("SF_RETENTION_API_PERCENT")),
        timeout_seconds=timeout,
        backoff_max_seconds=int(backoff),
        limit_pause_seconds=int(pause),
        problems=tuple(problems),
    )


def is_sandbox_host(host: str) -> bool:
    """test.salesforce.com, enhanced sandbox My Domain (``acme--dev.sandbox.my.salesforce.com``) and the older
    sandbox My Domain form without ``.sandbox`` (``acme--dev.my.salesforce.com``: the ``--`` names the sandbox)."""
    host = host.lower()
    first = host.split(".", 1)[0]
    return (
        host == "test.salesforce.com" or ".sandbox." in host or ("--" in first and host.endswith(".my.salesforce.com"))
    )


def jwt_audience(host: str) -> str:
    """The JWT ``aud`` Salesforce expects for a login host: test.salesforce.com for sandboxes, else login."""
    return "https://test.salesforce.com" if is_sandbox_host(host) else "https://login.salesforce.com"
