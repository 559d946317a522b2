"""Baseline: every table as the add-only steps left them (the first revision; stores made before Alembic).

Revision ID: 0001
Revises:
Created: 2026-12-07

Made by Alembic's autogenerate from the models on an empty store, then frozen here: the types are spelled
out (``UTCDateTime`` is a ``DateTime`` in the database) so later changes to the models do not change what
this revision creates. On an empty store it creates every table and index. On a store made before Alembic
(tables but no ``alembic_version``) it does what the add-only steps of ``connector/store/migrate.py`` did
at every start: create the missing tables and indexes, add the columns added since a table first shipped,
drop the retired indexes; the store is then at this revision like any other.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger("connector.store.schema")

#: (table, column) added after the table first shipped (the add-only era's ADDED_COLUMNS); all nullable,
#: each added with its type below
ADDED_COLUMNS = {
    ("agent_sessions", "call_since"),
    ("agent_sessions", "next_state_id"),
    ("agent_sessions", "next_state_source"),
    ("state_intervals", "cause"),
    ("calls", "end_cause"),
    ("outbox", "claimed_by"),
    ("outbox", "lease_until"),
    ("sign_in_throttle", "refused"),
    ("sign_in_throttle", "since"),
    ("sign_in_throttle", "alerted_at"),
}
#: indexes earlier versions created and this schema does not have
DROPPED_INDEXES = (
    ("state_intervals", "ix_intervals_agent_open"),  # every open-interval query uses ix_intervals_open
    ("state_intervals", "ix_intervals_started"),  # replaced by the covering ix_intervals_started_span
    ("logon_events", "ix_logon_events_at"),  # replaced by the covering ix_logon_events_span
    ("events", "ix_events_created_at"),  # the retention prune finds its bound in id order
)
#: an index older rows may break (two active agents on one extension): then the store goes on without it,
#: the service refuses new clashes, and every start tries again (connector/store/schema.py)
MAY_BE_REFUSED = {"uq_agents_active_extension"}


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _create_table(name: str, *elements, **kw) -> None:
    """Create the table unless a store made before Alembic has it; then add the columns it lacks."""
    inspector = _inspector()
    if not inspector.has_table(name):
        op.create_table(name, *elements, **kw)
        return
    present = {c["name"] for c in inspector.get_columns(name)}
    for column in elements:
        if isinstance(column, sa.Column) and column.name not in present and (name, column.name) in ADDED_COLUMNS:
            op.add_column(name, sa.Column(column.name, column.type, nullable=True))


def _create_index(table: str, name: str, columns: list[str], **kw) -> None:
    if name in {i["name"] for i in _inspector().get_indexes(table)}:
        return
    if name not in MAY_BE_REFUSED:
        op.create_index(name, table, columns, **kw)
        return
    try:
        with op.get_bind().begin_nested():
            op.create_index(name, table, columns, **kw)
    except DBAPIError as exc:
        log.warning(
            "could not add index %s to %s (%s); fix the rows it names and restart", name, table, type(exc.orig).__name__
        )


def upgrade() -> None:
    for table, index in DROPPED_INDEXES:
        if _inspector().has_table(table) and index in {i["name"] for i in _inspector().get_indexes(table)}:
            op.drop_index(index, table_name=table)
    _create_table(
        "adapter_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    _create_table(
        "adapter_settings_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=64), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_table(
        "agents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("salesforce_user_id", sa.String(length=18), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        "agents",
        "uq_agents_active_extension",
        ["extension"],
        unique=True,
        sqlite_where=sa.text("active AND extension <> ''"),
        postgresql_where=sa.text("active AND extension <> ''"),
    )

    _create_table(
        "budget_spends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("budget", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("budget_spends", "ix_budget_spends", ["budget", "at"], unique=False)

    _create_table(
        "config_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    _create_index("events", "ix_events_agent", ["agent_id", "id"], unique=False)

    _create_table(
        "health_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("acquired_at", sa.DateTime(), nullable=True),
        sa.Column("acquisitions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    _create_table(
        "job_runs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    _create_table(
        "salesforce_counter_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counter", sa.String(length=40), nullable=False),
        sa.Column("synced_count", sa.Integer(), nullable=True),
        sa.Column("parked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "day", "counter", name="uq_salesforce_counter_sync"),
    )
    _create_table(
        "salesforce_sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("paused_until", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("api_used", sa.Integer(), nullable=True),
        sa.Column("api_limit", sa.Integer(), nullable=True),
        sa.Column("api_usage_at", sa.DateTime(), nullable=True),
        sa.Column("calls_made", sa.Integer(), nullable=False),
        sa.Column("records_written", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_table(
        "shared_values",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    _create_index("shared_values", op.f("ix_shared_values_expires_at"), ["expires_at"], unique=False)

    _create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("sign_in_failures", op.f("ix_sign_in_failures_at"), ["at"], unique=False)

    _create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("refused", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("alerted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    _create_table(
        "store_generations",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    _create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("with_pin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    _create_index("web_sessions", op.f("ix_web_sessions_name"), ["name"], unique=False)

    _create_table(
        "agent_sessions",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("logons", sa.JSON(), nullable=False),
        sa.Column("state_id", sa.String(length=64), nullable=True),
        sa.Column("state_since", sa.DateTime(), nullable=True),
        sa.Column("wrap_up_until", sa.DateTime(), nullable=True),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column("call_direction", sa.String(length=16), nullable=True),
        sa.Column("call_since", sa.DateTime(), nullable=True),
        sa.Column("next_state_id", sa.String(length=64), nullable=True),
        sa.Column("next_state_source", sa.String(length=40), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(), nullable=True),
        sa.Column("last_heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("connection_lost_at", sa.DateTime(), nullable=True),
        sa.Column("state_before_loss", sa.String(length=64), nullable=True),
        sa.Column("logoff_pending", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    _create_index("agent_sessions", op.f("ix_agent_sessions_next_due_at"), ["next_due_at"], unique=False)

    _create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    _create_table(
        "calls",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("end_cause", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("agent_id", "call_id"),
    )
    _create_table(
        "console_commands",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_table(
        "daily_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counter", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "day", "counter", name="uq_daily_counter"),
    )
    _create_table(
        "daily_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("synced_seconds", sa.Integer(), nullable=True),
        sa.Column("parked_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "day", "state_id", name="uq_daily_total"),
    )
    _create_index("daily_totals", "ix_daily_totals_day", ["day"], unique=False)

    _create_table(
        "logon_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("logon_source", sa.String(length=40), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("logon_events", "ix_logon_events_span", ["at", "id", "agent_id", "action", "device"], unique=False)

    _create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("adapter", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("outbox", "ix_outbox_pending", ["adapter", "delivered_at", "superseded"], unique=False)

    _create_table(
        "state_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("state_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index("state_intervals", "ix_intervals_agent_started", ["agent_id", "started_at"], unique=False)
    _create_index(
        "state_intervals",
        "ix_intervals_open",
        ["agent_id"],
        unique=False,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    _create_index(
        "state_intervals", "ix_intervals_started_span", ["started_at", "ended_at", "state_id", "agent_id"], unique=False
    )

    _create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )


TABLES = (
    "adapter_settings",
    "adapter_settings_changes",
    "agents",
    "budget_spends",
    "config_versions",
    "events",
    "health_probe",
    "job_leases",
    "job_runs",
    "salesforce_counter_sync",
    "salesforce_sync_state",
    "shared_values",
    "sign_in_failures",
    "sign_in_throttle",
    "store_generations",
    "web_sessions",
    "agent_sessions",
    "api_tokens",
    "calls",
    "console_commands",
    "daily_counters",
    "daily_totals",
    "logon_events",
    "outbox",
    "state_intervals",
    "users",
)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
