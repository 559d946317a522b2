"""0.2.0: the audit trail, team and agent time zones, the counters' own Salesforce sync (the old
``salesforce_counter_sync`` is dropped: counters now go to ``Presence_Counters__c`` and are sent once again),
the Salesforce retention's state, and the inbound rules' session columns.

Revision ID: 0002
Revises: 0001
Created: 2026-12-07 22:07:33.838984
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_action", ["action", "at"], unique=False)
        batch_op.create_index("ix_audit_events_actor", ["actor", "at"], unique=False)
        batch_op.create_index("ix_audit_events_at", ["at", "id"], unique=False)

    op.create_table(
        "salesforce_counters_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counter", sa.String(length=40), nullable=False),
        sa.Column("synced_count", sa.Integer(), nullable=True),
        sa.Column("parked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "day", "counter", name="uq_salesforce_counters_sync"),
    )
    op.create_table(
        "teams",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.drop_table("salesforce_counter_sync")
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_source", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("inbound_hold", sa.JSON(), nullable=True))

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))

    with op.batch_alter_table("salesforce_sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("retention_deleted", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retention_note", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("salesforce_sync_state", schema=None) as batch_op:
        batch_op.drop_column("retention_note")
        batch_op.drop_column("retention_deleted")
        batch_op.drop_column("retention_at")

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("timezone")

    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.drop_column("inbound_hold")
        batch_op.drop_column("state_source")

    op.create_table(
        "salesforce_counter_sync",
        sa.Column("id", sa.INTEGER(), nullable=False),
        sa.Column("agent_id", sa.VARCHAR(length=64), nullable=False),
        sa.Column("day", sa.DATE(), nullable=False),
        sa.Column("counter", sa.VARCHAR(length=40), nullable=False),
        sa.Column("synced_count", sa.INTEGER(), nullable=True),
        sa.Column("parked_reason", sa.TEXT(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "day", "counter", name=op.f("uq_salesforce_counter_sync")),
    )
    op.drop_table("teams")
    op.drop_table("salesforce_counters_sync")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_at")
        batch_op.drop_index("ix_audit_events_actor")
        batch_op.drop_index("ix_audit_events_action")

    op.drop_table("audit_events")
