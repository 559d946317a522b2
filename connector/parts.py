"""The application's parts, and the one accessor to them (as flaskr's ``get_db()``).

Routes, commands and jobs reach the store, the service, the dispatcher and the Salesforce sync
through :func:`get_parts`; nothing else reads ``app.extensions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from adapters.base import Job
from connector.auth.limits import SignInGuard
from connector.auth.oidc import SingleSignOn
from connector.auth.page_sessions import SessionLifetimes
from connector.changes.configs import ConfigRegistry
from connector.changes.service import PresenceService
from connector.changes.sweep import Sweeper
from connector.clock import Clock
from connector.live.bus import EventBus
from connector.reports.reads import ReadContext
from connector.settings import Settings
from connector.store import Store

if TYPE_CHECKING:  # built after the service; imported for types only to keep the modules acyclic
    from connector.integrations.dispatch import Dispatcher
    from connector.jobs.leases import Leases
    from connector.salesforce.flush import SalesforceSync

_KEY = "connector"


@dataclass
class Parts:
    """Everything a request, a command or a job needs."""

    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus
    configs: ConfigRegistry
    service: PresenceService
    #: the timed-rule sweep (each second, by the scheduler)
    sweeper: Sweeper
    #: what reports and the Salesforce sync read through
    reads: ReadContext
    salesforce: SalesforceSync
    dispatcher: Dispatcher
    #: limits on guessing PINs and passwords
    sign_in: SignInGuard
    #: periodic work the scheduler runs besides the built-in timed rules
    jobs: list[Job] = field(default_factory=list)
    #: job leases of this instance (one instance of the cluster runs each periodic job per tick)
    leases: Leases | None = None
    #: how long page sessions live
    session_lifetimes: SessionLifetimes = field(default_factory=SessionLifetimes)
    #: single sign-on with the configured OpenID Connect provider (None: not configured)
    sso: SingleSignOn | None = None

    def attach(self, app: Flask) -> None:
        app.extensions[_KEY] = self


def get_parts(app: Flask | None = None) -> Parts:
    """The parts of ``app`` (default: the app handling the current request or command)."""
    return (app or current_app).extensions[_KEY]
