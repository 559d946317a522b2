"""The request ids of the changes that opened and closed each state interval (the Salesforce flush names them
beside the totals it sends), and when the last flush that went well read its pending totals.

Revision ID: 0003
Revises: 0002
Created: 2026-12-08 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns: SQLite adds them with ALTER TABLE ADD COLUMN, without copying the table
    with op.batch_alter_table("state_intervals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("salesforce_sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_read_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("salesforce_sync_state", schema=None) as batch_op:
        batch_op.drop_column("last_read_at")
    with op.batch_alter_table("state_intervals", schema=None) as batch_op:
        batch_op.drop_column("closed_by")
        batch_op.drop_column("opened_by")
