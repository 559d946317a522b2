"""The store's tables (SQLAlchemy 2). Times are kept as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # every model here is mapped to a Table (SQLAlchemy types __table__ as any FromClause, which
        # insert() and update() do not take)
        __table__: ClassVar[Table]


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str] = mapped_column(String(100), default="")
    extension: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    salesforce_user_id: Mapped[str] = mapped_column(String(18), default="")
    #: the IANA zone whose midnights end this agent's days (totals, counters, Salesforce Date__c);
    #: empty or None: CONNECTOR_TIMEZONE
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True, default="")
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # an extension belongs to one active agent: PBX short-code login and logout find the agent by it
    __table_args__ = (
        Index(
            "uq_agents_active_extension",
            "extension",
            unique=True,
            sqlite_where=text("active AND extension <> ''"),
            postgresql_where=text("active AND extension <> ''"),
        ),
    )


class Team(Base):
    """What a team carries besides its name (agents name their team in ``Agent.team``): the IANA zone whose
    midnights end the days of its agents that have no zone of their own ("": CONNECTOR_TIMEZONE)."""

    __tablename__ = "teams"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="")


def zone_name_of(agents: Table | None = None):
    """SQL: the name of the zone that ends an agent's days: its own, else its team's, else "" (CONNECTOR_TIMEZONE)."""
    a = agents if agents is not None else Agent.__table__
    t = Team.__table__
    team_zone = select(t.c.timezone).where(t.c.name == a.c.team, a.c.team != "").scalar_subquery()
    return func.coalesce(func.nullif(a.c.timezone, ""), func.nullif(team_zone, ""), "")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AgentSessionRow(Base):
    """One row per agent: the live session the engine reasons about (see engine.AgentSession)."""

    __tablename__ = "agent_sessions"
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    logons: Mapped[list] = mapped_column(JSON, default=list)
    state_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    call_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    call_direction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    call_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_state_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    next_state_source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    connection_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state_before_loss: Mapped[str | None] = mapped_column(String(64), nullable=True)
    logoff_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    #: who set the current state; a remote condition in force (connector.presence.inbound_rules)
    state_source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    inbound_hold: Mapped[list | None] = mapped_column(JSON, nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class StateInterval(Base):
    __tablename__ = "state_intervals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    state_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(40), default="")
    #: why the change happened (wrap-up ended, forced, call end not received ...)
    cause: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the request ids of the changes that opened and closed the interval (None: no request, e.g. a timed rule
    #: outside one); the Salesforce flush names them beside the totals they made (salesforce/flush.py)
    opened_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the intervals started in a range with what the state mix sums, read from the index alone (it replaced
    # ix_intervals_started, dropped by the baseline revision)
    __table_args__ = (
        Index("ix_intervals_started_span", "started_at", "ended_at", "state_id", "agent_id"),
        # an agent's interval running at an instant (the state mix of a day)
        Index("ix_intervals_agent_started", "agent_id", "started_at"),
        # the open interval of an agent: a change closes it by this lookup
        Index(
            "ix_intervals_open",
            "agent_id",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class DailyTotal(Base):
    """Closed seconds per agent, local day and state; ``synced_seconds`` is what the CRM holds."""

    __tablename__ = "daily_totals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    day: Mapped[date] = mapped_column(Date)
    state_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(64), default="")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    synced_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("agent_id", "day", "state_id", name="uq_daily_total"),
        Index("ix_daily_totals_day", "day"),
    )


class LogonEventRow(Base):
    __tablename__ = "logon_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    action: Mapped[str] = mapped_column(String(10))
    logon_source: Mapped[str] = mapped_column(String(40))
    device: Mapped[str] = mapped_column(String(100), default="")
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # the events of a range in (at, id) order with what session time reads, from the index alone
    # (it replaced ix_logon_events_at, dropped by the baseline revision)
    __table_args__ = (Index("ix_logon_events_span", "at", "id", "agent_id", "action", "device"),)


class DailyCounter(Base):
    __tablename__ = "daily_counters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    day: Mapped[date] = mapped_column(Date)
    counter: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("agent_id", "day", "counter", name="uq_daily_counter"),)


class Call(Base):
    """Calls reported by the PBX/CTI layer; makes repeated call events idempotent."""

    __tablename__ = "calls"
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: set when the call was closed without its "ended" event (call end not received, a supervisor)
    end_cause: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OutboxRow(Base):
    """A presence change waiting to be delivered to one adapter (written with the change)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    adapter: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20), default="presence")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the ``serve`` instance delivering this row, until ``lease_until`` (then anyone may take it over)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_outbox_pending", "adapter", "delivered_at", "superseded"),)


class EventRow(Base):
    """A live event (presence, agent, logon, session_ended, config, omni_channel), written with its change.

    Every instance's stream poller reads these in id order; rows older than the retention window are
    pruned (``connector.live.bus``). AUTOINCREMENT on SQLite: an id is never reused after a prune, so a
    client's ``Last-Event-ID`` never names a different event.
    """

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_events_agent", "agent_id", "id"), {"sqlite_autoincrement": True})


class ConfigVersion(Base):
    """Every presence configuration that was ever active, with who made it and when."""

    __tablename__ = "config_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    yaml: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoreGeneration(Base):
    """A number bumped in the transaction that changes what a process caches (e.g. ``tokens``).

    Every instance compares it with the number its cache was filled at, so a revocation takes
    effect at once everywhere without reading the cached rows again on every request.
    """

    __tablename__ = "store_generations"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class JobRun(Base):
    """When a scheduled job last did its work, so a restart does not do it twice."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobLease(Base):
    """Who runs a periodic job (or holds a single-instance role) until when: one instance per tick."""

    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acquisitions: Mapped[int] = mapped_column(Integer, default=0)


class SharedValue(Base):
    """Small state adapters share across instances (echo suppression, what was sent last), with an expiry."""

    __tablename__ = "shared_values"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[object] = mapped_column(JSON, nullable=True)  # any JSON value (Host.remember)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class BudgetSpend(Base):
    """Calls drawn from a rate budget shared by every instance (e.g. Microsoft Graph presence)."""

    __tablename__ = "budget_spends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    calls: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (Index("ix_budget_spends", "budget", "at"),)


class AdapterSettingsRow(Base):
    """An adapter's settings saved on the admin page; they override the environment (README "Adapters").

    ``enabled`` None follows ``CONNECTOR_ADAPTERS``; ``values`` holds non-secret settings as typed, by
    setting key; ``sealed`` holds secret ones encrypted with ``connector.auth.hashing.seal``.
    """

    __tablename__ = "adapter_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    sealed: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AdapterSettingsChange(Base):
    """Who changed an adapter's settings on the admin page, when, and what (never a secret's value)."""

    __tablename__ = "adapter_settings_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text, default="")


class ConsoleCommand(Base):
    """A command sent to a component in an agent's console (the Omni-Channel bridge), and its acknowledgement.

    ``id`` is the outbox row's key, so a retry re-sends the same command id and the component can
    recognise it; ``acked_at`` is set when the component reports back, ``ok`` and ``error`` say how it went.
    """

    __tablename__ = "console_commands"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SignInThrottle(Base):
    """Failed sign-ins per account (``agent:<id>``, ``user:<name>``) or client address (``addr:<ip>``).

    Kept in the store so every instance sharing it applies the same limits (connector/auth/limits.py).
    """

    __tablename__ = "sign_in_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: None with ``locked``: until an admin unlocks the account
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: tries refused while blocked or locked (counted, not stored one row each)
    refused: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    #: an account's row: when its day of counting failures began, and when the admins were alerted in it
    since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInFailure(Base):
    """One failed or refused sign-in, for the admins (never the secret that was tried)."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    account: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(20))


class WebSession(Base):
    """A signed-in page session; the cookie carries the id, the store only its digest (connector/auth/page_sessions.py)."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    with_pin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class HealthProbe(Base):
    """One row /healthz writes to prove the store still accepts a write."""

    __tablename__ = "health_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One admin or supervisor action: who (account or token, with its role), when, from where, what, on what,
    and the values before and after where they apply (never a secret: "secret changed" stands for one)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    #: the client address (as CONNECTOR_TRUSTED_PROXIES resolve it); "cli" for the command line
    address: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        Index("ix_audit_events_at", "at", "id"),
        Index("ix_audit_events_actor", "actor", "at"),
        Index("ix_audit_events_action", "action", "at"),
    )
