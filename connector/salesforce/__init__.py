"""Salesforce: time per presence state into the custom object, sync health, call centre, agents.

``build_sync`` makes the flush (its job is checked every second and runs on the active config's
tracking interval); ``bp`` serves ``GET /api/v1/sync/status`` for admins. Importing the package
registers the sync state table before the store creates its tables.
"""

from __future__ import annotations

from connector.jobs.leases import Leases
from connector.reports.reads import ReadContext
from connector.salesforce import saved
from connector.salesforce.api import bp
from connector.salesforce.flush import FlushReport, SalesforceSync
from connector.salesforce.state import SalesforceSyncState  # noqa: F401  (registers its table before create_all)
from connector.settings import Settings

__all__ = ["bp", "build_sync", "SalesforceSync", "FlushReport"]


def build_sync(reads: ReadContext, settings: Settings, leases: Leases | None = None) -> SalesforceSync:
    """The sync with the connection in force: the one saved on the admin page over SF_* (``saved``)."""
    source = saved.source_of(settings, reads.store)
    return SalesforceSync(reads, source(), leases=leases, source=source)
