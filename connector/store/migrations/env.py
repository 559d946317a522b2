"""Alembic's environment: run the revisions on the connection :mod:`connector.store.schema` hands over.

``connector.store.schema`` opens the connection, takes the migration lock (an advisory lock on
PostgreSQL, a file lock on SQLite) and puts the connection in ``config.attributes["connection"]``;
revisions run inside its transaction. The target metadata is every table of the models, the
Salesforce sync tables included (autogenerate compares against it).
"""

from __future__ import annotations

from alembic import context

from connector.salesforce.counters import SalesforceCounterSync
from connector.salesforce.state import SalesforceSyncState
from connector.store.models import Base

# the tables declared outside connector/store/models.py, registered on Base.metadata by these imports
_REGISTERED = (SalesforceCounterSync, SalesforceSyncState)

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run the store's migrations with `presence-connector db upgrade` (connector/store/schema.py), "
        "not with the alembic command: the connector takes the migration lock and opens the store"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite changes a column or constraint by copying the table: autogenerate writes batch operations
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
