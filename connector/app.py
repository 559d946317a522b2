"""The application factory: settings, then the parts, then the blueprints."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask
from flask.wrappers import Response

from adapters.registry import mapping_checks
from connector import api, salesforce
from connector import settings as settings_mod
from connector.auth import hashing as security
from connector.auth.limits import SignInGuard, SignInPolicy
from connector.auth.oidc import OidcSettings, SingleSignOn
from connector.auth.page_sessions import SessionLifetimes
from connector.changes.configs import ConfigRegistry
from connector.changes.service import PresenceService
from connector.changes.sweep import Sweeper
from connector.clock import Clock, utc_now
from connector.integrations import runtime as integrations
from connector.integrations.dispatch import Dispatcher
from connector.integrations.enabled import AdapterSet
from connector.integrations.host import ConnectorHost, salesforce_query_of
from connector.jobs.leases import Leases
from connector.live.bus import EventBus
from connector.observe import http as observe_http
from connector.parts import Parts
from connector.reports.reads import ReadContext
from connector.settings import Settings
from connector.store import Store
from connector.web import (
    admin,
    admin_audit,
    admin_integrations,
    admin_omni,
    auth,
    dashboard,
    guard,
    pages,
    proxies,
    softphone,
    static_files,
)

log = logging.getLogger(__name__)


class ConnectorFlask(Flask):
    """Flask, asking once per view or hook whether it is a coroutine function (Flask's ``ensure_sync``
    asks on every call: several ``inspect`` checks per request on the change path)."""

    def ensure_sync(self, func):
        cache = self.__dict__.setdefault("_sync_views", {})
        found = cache.get(func)
        if found is None:
            found = cache[func] = super().ensure_sync(func)
        return found

    def send_static_file(self, filename: str) -> Response:
        """The static view: gzip for the browsers that accept it (connector/web/static_files.py)."""
        return static_files.send_static(self, filename, super().send_static_file)


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults, then the environment (and ``.env``), then ``test_config`` overrides."""
    test_config = dict(test_config or {})
    if not test_config.get("TESTING"):
        load_dotenv(Path.cwd() / ".env", override=False)
    env = dict(os.environ)
    env.update({k: str(v) for k, v in test_config.items() if k.startswith(("CONNECTOR_", "SF_"))})
    instance_path = os.path.abspath(
        test_config.get("INSTANCE_PATH") or settings_mod.read("CONNECTOR_INSTANCE_PATH", env)
    )
    # every declared setting (connector/settings.py) is read here: refused ones stop start-up, each named
    settings = settings_mod.from_environment(instance_path, env)
    # process-wide: accounts hash through connector.auth.hashing, which has no app at hand
    security.use_hash_cost(settings.password_hash_cost)
    security.use_hash_concurrency(settings.hash_concurrency)
    if settings.password_hash_cost != "standard" and not test_config.get("TESTING"):
        log.warning(
            "CONNECTOR_PASSWORD_HASH_COST=%s: new passwords and PINs are hashed cheaply; "
            "this is for the test suite only",
            settings.password_hash_cost,
        )

    app = ConnectorFlask(
        __name__, instance_path=instance_path, template_folder="web/templates", static_folder="web/static"
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    app.config.update({k: v for k, v in test_config.items() if k.isupper() and not k.startswith(("CONNECTOR_", "SF_"))})

    parts = build_parts(settings, test_config.get("CLOCK") or utc_now, app.config.get("ADAPTERS", ()))
    parts.attach(app)

    observe_http.init_app(app)  # the request id (connector/observe/http.py)
    api.init_errors(app)
    app.register_blueprint(api.bp)
    guard.init_app(app)
    proxies.init_app(app, settings.value("CONNECTOR_TRUSTED_PROXIES"), settings.value("CONNECTOR_SECURE_COOKIES"))
    for blueprint in (
        pages.bp,
        auth.bp,
        softphone.bp,
        dashboard.bp,
        admin.bp,
        admin_integrations.bp,
        admin_audit.bp,
        admin_omni.bp,
        salesforce.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def build_parts(settings: Settings, clock: Clock, extra_adapters=()) -> Parts:
    """Store, configuration, service, Salesforce sync, adapters and dispatcher, each given what it uses."""
    store = Store(
        settings.database_url,
        pepper=settings.pepper.encode(),
        commit_lanes=settings.value("CONNECTOR_DATABASE_COMMIT_LANES"),
    )
    store.create_all()
    bus = EventBus(
        store,
        clock,
        poll_interval=settings.value("CONNECTOR_EVENTS_POLL"),
        retention_seconds=settings.value("CONNECTOR_EVENTS_RETENTION"),
        streams_per_principal=settings.value("CONNECTOR_STREAMS_PER_PRINCIPAL"),
    )
    configs = ConfigRegistry(store, clock, mapping_checks=mapping_checks())
    sign_in = SignInGuard(store, clock, SignInPolicy.from_settings(settings.value, settings.is_set))

    adapters = AdapterSet(integrations.build_adapters(settings, store))
    for extra in extra_adapters:  # ready-built adapters from an embedding application or a test
        adapters.put(extra.name, extra)
    outbox_written = threading.Event()  # set after a commit that wrote outbox rows; wakes the dispatcher
    service = PresenceService(
        store,
        settings,
        bus,
        configs,
        clock,
        outbox_targets=adapters.targets,
        dial_targets=adapters.dialling,
        outbox_written=outbox_written.set,
        pin_guard=lambda account, check: sign_in.attempt(account, None, check),
    )
    configs.when_applied(service.retime_sessions)  # every change re-times the open sessions
    configs.ensure(settings.presence_config, settings.presence_config_explicit)
    sweeper = Sweeper(service)
    reads = ReadContext(store, configs, clock, settings.tz, sweeper.settle_due)
    leases = Leases(store, clock)
    sync = salesforce.build_sync(reads, settings, leases)
    host = ConnectorHost(
        service, store, configs, bus, clock, salesforce_query_of(sync.connection), secret_key=settings.secret_key
    )
    dispatcher = Dispatcher(
        store,
        adapters,
        host,
        clock,
        settings.secret_key,
        base_backoff=settings.value("CONNECTOR_DISPATCH_BACKOFF"),
        max_backoff=settings.value("CONNECTOR_DISPATCH_MAX_BACKOFF"),
        wake=outbox_written,
        leases=leases,
        lease_seconds=settings.value("CONNECTOR_DISPATCH_LEASE"),
        # CONNECTOR_DISPATCH_CONCURRENCY_<ADAPTER>, else the adapter's own max_concurrency
        concurrency=lambda adapter: (
            settings.value(settings_mod.DISPATCH_CONCURRENCY.name_for(adapter.name)) or adapter.max_concurrency
        ),
    )
    jobs = [sync.job()] + [job for adapter in adapters.current().values() for job in adapter.jobs()]
    return Parts(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        configs=configs,
        service=service,
        sweeper=sweeper,
        reads=reads,
        salesforce=sync,
        dispatcher=dispatcher,
        jobs=jobs,
        leases=leases,
        sign_in=sign_in,
        session_lifetimes=SessionLifetimes.from_settings(settings.value),
        sso=SingleSignOn(oidc) if (oidc := OidcSettings.from_settings(settings.value)) else None,
    )
