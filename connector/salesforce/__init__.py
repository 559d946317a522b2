"""Salesforce: time per presence state into the custom object, sync health, call centre, agents.

``init_app(app)`` attaches it: the flush job (checked every second, run on the active config's
tracking interval), ``GET /api/v1/sync/status`` for admins, and the sync state table.
"""
from __future__ import annotations

from flask import Flask

from . import settings as sf_settings
from .flush import FlushReport, SalesforceSync
from .state import SalesforceSyncState  # noqa: F401  (registers its table before create_all)

__all__ = ["init_app", "SalesforceSync", "FlushReport", "sync_for"]


def init_app(app: Flask) -> SalesforceSync:
    ext = app.extensions["connector"]
    ext.store.create_all()  # our sync state table (create_all only adds what is missing)
    sync = SalesforceSync(ext.service, sf_settings.load(ext.settings))
    app.extensions["salesforce"] = sync
    ext.jobs.append(("salesforce-flush", sync.tick, 1))
    from .api import bp
    app.register_blueprint(bp)
    return sync


def sync_for(app: Flask) -> SalesforceSync:
    return app.extensions["salesforce"]
