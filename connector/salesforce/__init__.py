"""Salesforce: time per presence state into the custom object, sync health, call centre, agents.

``build_sync`` makes the flush (its job is checked every second and runs on the active config's
tracking interval); ``bp`` serves ``GET /api/v1/sync/status`` for admins. Importing the package
registers the sync state table before the store creates its tables.
"""

from __future__ import annotations

from connector.jobs.leases import Leases
from connector.reports.reads import ReadContext
from connector.salesforce import settings as sf_settings
from connector.salesforce.api import bp
from connector.salesforce.flush import FlushReport, SalesforceSync
from connector.salesforce.state import SalesforceSyncState  # noqa: F401  (registers its table before create_all)
from connector.settings import Settings

__all__ = ["bp", "build_sync", "SalesforceSync", "FlushReport"]


def build_sync(reads: ReadContext, settings: Settings, leases: Leases | None = None) -> SalesforceSync:
    return SalesforceSync(reads, sf_settings.load(settings), leases=leases)
