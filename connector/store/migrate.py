"""Schema changes for stores made by an earlier version: ``create_all`` only creates missing tables.

Each column or index added to an existing table after its first release is listed here by name; its
type comes from the model. At start-up every missing one is added (``ALTER TABLE ... ADD COLUMN``,
``CREATE INDEX``) on SQLite and PostgreSQL alike. New columns are nullable, so existing rows stay valid.
An index a newer version no longer has is dropped (every change would otherwise keep paying to update it).
"""

from __future__ import annotations

import logging

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from connector.store.models import Base

log = logging.getLogger(__name__)

#: (table, column) added after the table first shipped
ADDED_COLUMNS = (
    ("agent_sessions", "call_since"),
    ("agent_sessions", "next_state_id"),
    ("agent_sessions", "next_state_source"),
    ("state_intervals", "cause"),
    ("agent_sessions", "state_source"),
    ("agent_sessions", "inbound_hold"),
    ("calls", "end_cause"),
    ("outbox", "claimed_by"),
    ("outbox", "lease_until"),
    ("sign_in_throttle", "refused"),
    ("sign_in_throttle", "since"),
    ("sign_in_throttle", "alerted_at"),
)
#: (table, index) added after the table first shipped
ADDED_INDEXES = (("agents", "uq_agents_active_extension"),)
ADDED_INDEX_NAMES = {name for _, name in ADDED_INDEXES}
#: (table, index) that earlier versions created and this one does not use (``Store.create_all`` creates
#: every missing index of the models, so one replaced by a wider one is created there)
DROPPED_INDEXES = (
    # (agent_id, ended_at): every query for an open interval uses the partial ix_intervals_open, the others
    # ix_intervals_agent_started; this one only cost two entry updates per change
    ("state_intervals", "ix_intervals_agent_open"),
    # replaced by the covering ix_intervals_started_span (the state mix reads the day from it alone)
    ("state_intervals", "ix_intervals_started"),
    # replaced by the covering ix_logon_events_span (session time reads the events from it alone)
    ("logon_events", "ix_logon_events_at"),
    # the retention prune finds its bound in id order (EventBus.prune); the index cost a page per change
    ("events", "ix_events_created_at"),
)


def upgrade(engine: Engine) -> list[str]:
    """Add the listed columns and indexes a store lacks, drop the retired indexes; returns what it did."""
    added: list[str] = []
    existing = {
        table: {c["name"] for c in inspect(engine).get_columns(table)}
        for table in {t for t, _ in ADDED_COLUMNS}
        if inspect(engine).has_table(table)
    }
    for table_name, column_name in ADDED_COLUMNS:
        if table_name not in existing or column_name in existing[table_name]:
            continue
        column = Base.metadata.tables[table_name].c[column_name]
        ddl = f"ALTER TABLE {table_name} ADD COLUMN {column_name} {column.type.compile(engine.dialect)}"
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(ddl)
            added.append(f"{table_name}.{column_name}")
        except DBAPIError:
            # another instance starting at the same moment added it first
            if column_name not in {c["name"] for c in inspect(engine).get_columns(table_name)}:
                raise
    for table_name, index_name in ADDED_INDEXES:
        index = next(i for i in Base.metadata.tables[table_name].indexes if i.name == index_name)
        if index_name in {i["name"] for i in inspect(engine).get_indexes(table_name)}:
            continue
        try:
            with engine.begin() as conn:
                index.create(conn, checkfirst=True)
            added.append(index_name)
        except DBAPIError as exc:
            # existing rows break the rule (e.g. two active agents share an extension): the service still
            # refuses new clashes; the admin resolves the old ones and the index is added at the next start
            log.warning(
                "could not add index %s to %s (%s); fix the rows it names and restart",
                index_name,
                table_name,
                type(exc.orig).__name__,
            )
    for table_name, index_name in DROPPED_INDEXES:
        if inspect(engine).has_table(table_name) and index_name in {
            i["name"] for i in inspect(engine).get_indexes(table_name)
        }:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index_name}")
            added.append(f"dropped {index_name}")
    if added:
        log.info("store upgraded: %s", ", ".join(added))
    return added
