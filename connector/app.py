"""The application factory."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dotenv import load_dotenv
from flask import Flask

from . import api, salesforce, security, settings as settings_mod
from .bus import EventBus
from .service import PresenceService, utc_now
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class Connector:
    """Everything a request or a job needs, attached to the app as ``app.extensions['connector']``."""

    settings: Settings
    store: Store
    bus: EventBus
    service: PresenceService
    #: (job id, callable, interval seconds) that the scheduler runs besides the built-in jobs
    jobs: list[tuple[str, Callable[[], object], int]] = field(default_factory=list)


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults, then the environment (and ``.env``), then ``test_config`` overrides."""
    test_config = dict(test_config or {})
    if not test_config.get("TESTING"):
        load_dotenv(Path.cwd() / ".env", override=False)
    env = dict(os.environ)
    env.update({k: str(v) for k, v in test_config.items() if k.startswith(("CONNECTOR_", "SF_"))})
    instance_path = os.path.abspath(test_config.get("INSTANCE_PATH") or env.get("CONNECTOR_INSTANCE_PATH", "instance"))
    settings = settings_mod.from_environment(instance_path, env)
    # process-wide: accounts hash through connector.security, which has no app at hand
    security.use_hash_cost(settings.password_hash_cost)
    if settings.password_hash_cost != "standard" and not test_config.get("TESTING"):
        log.warning("CONNECTOR_PASSWORD_HASH_COST=%s: new passwords and PINs are hashed cheaply; "
                    "this is for the test suite only", settings.password_hash_cost)

    app = Flask(__name__, instance_path=instance_path, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    app.config.update({k: v for k, v in test_config.items() if k.isupper() and not k.startswith(("CONNECTOR_", "SF_"))})

    store = Store(settings.database_url)
    store.create_all()
    bus = EventBus()
    service = PresenceService(store, settings, bus, clock=test_config.get("CLOCK") or utc_now)
    service.configs.ensure(settings.presence_config, settings.presence_config_explicit)
    app.extensions["connector"] = Connector(settings=settings, store=store, bus=bus, service=service)

    api.init_errors(app)
    app.register_blueprint(api.bp)
    from .web import admin, auth, dashboard, guard, pages, softphone
    guard.init_app(app)
    for blueprint in (pages.bp, auth.bp, softphone.bp, dashboard.bp, admin.bp):
        app.register_blueprint(blueprint)
    salesforce.init_app(app)
    from . import integrations
    integrations.init_app(app)  # adapters: outbox targets, dispatcher, inbound routes, health
    return app
