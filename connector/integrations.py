"""Wires the adapters into the app: which are enabled, the outbox targets, the dispatcher, health.

Enabled adapters come from ``CONNECTOR_ADAPTERS`` (comma-separated names; each adapter reads its own
prefixed settings), further switched on or off by the active presence config (``Adapter.wants``:
pbx_mode, skype_sync, teams_sync, omni_channel_sync). An embedding application or a test may add
ready-built adapter instances with ``app.config["ADAPTERS"]``.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

from flask import Blueprint, Flask, current_app, jsonify

from adapters.base import Adapter, AdapterConfigError, AdapterError, Host, UnknownAdapter
from adapters.registry import adapter_class
from . import adapter_settings
from .api import openapi
from .api.auth import require
from .dispatch import Dispatcher
from .errors import InvalidInput, NotFound
from .presence_config import PresenceConfig

log = logging.getLogger(__name__)
bp = Blueprint("adapters_api", __name__, url_prefix="/api/v1")


def build_adapters(settings, saved: dict[str, adapter_settings.Saved] | None = None) -> dict[str, Adapter]:
    """The enabled adapters (``CONNECTOR_ADAPTERS`` and the admin page), built and validated from their
    settings (the page's saved values over the environment)."""
    saved = saved or {}
    built: dict[str, Adapter] = {}
    for name in adapter_settings.enabled_names(settings, saved):
        try:
            built[name] = adapter_settings.build(adapter_class(name), settings, saved.get(name))
        except (UnknownAdapter, AdapterConfigError) as exc:
            field = "CONNECTOR_ADAPTERS" if name not in saved else f"{name} (saved on the admin page)"
            raise InvalidInput(str(exc), field=field) from None
    return built


def _float(settings, name: str, default: float) -> float:
    raw = settings.get(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        raise InvalidInput(f"{name} must be a number of seconds", field=name) from None


def init_app(app: Flask) -> None:
    ext = app.extensions["connector"]
    settings, service = ext.settings, ext.service
    adapters = build_adapters(settings, adapter_settings.load(ext.store, settings.secret_key))
    for extra in app.config.get("ADAPTERS", ()):
        adapters[extra.name] = extra

    def options():
        with ext.store.read() as s:
            return service.configs.active(s).options

    def outbox_targets(config: PresenceConfig) -> list[str]:
        # the dispatcher's current adapters: the admin page may enable, disable or rebuild one at any time
        return [name for name, adapter in dispatcher.adapters.items() if adapter.wants(config.options)]

    service.outbox_targets = outbox_targets
    dispatcher = Dispatcher(ext.store, adapters, service.clock, settings.secret_key, options,
                            base_backoff=_float(settings, "CONNECTOR_DISPATCH_BACKOFF", 2.0),
                            max_backoff=_float(settings, "CONNECTOR_DISPATCH_MAX_BACKOFF", 300.0))
    app.extensions["dispatcher"] = dispatcher
    dispatcher.host = Host(service=service, bus=ext.bus, settings=settings, clock=service.clock, store=ext.store)
    for adapter in adapters.values():
        _wire(app, adapter)
        if adapter.blueprint is not None and adapter.blueprint.name not in app.blueprints:
            app.register_blueprint(adapter.blueprint)
        for job in getattr(adapter, "jobs", lambda: [])():
            ext.jobs.append(job)
    app.register_blueprint(bp)


def _wire(app: Flask, adapter: Adapter) -> None:
    """Give an adapter the host and, when it can use it, the shared Salesforce connection."""
    adapter.host = app.extensions["dispatcher"].host
    shared_query = _salesforce_query(app)
    if shared_query is not None and hasattr(adapter, "use_salesforce"):
        adapter.use_salesforce(shared_query)


def apply_saved(app: Flask, name: str, adapter: Adapter | None) -> list[str]:
    """Put a rebuilt adapter (or None: disabled) in the running dispatcher, without a restart.

    Rows already queued for a disabled adapter stay in the outbox (and in health) until it is enabled
    again. Returns what only a restart can bring (inbound routes, scheduled jobs of a new adapter).
    """
    dispatcher: Dispatcher = app.extensions["dispatcher"]
    old = dispatcher.adapters.get(name)
    notes = []
    if adapter is not None:
        _wire(app, adapter)
        if adapter.blueprint is not None and adapter.blueprint.name not in app.blueprints:
            notes.append("its inbound routes need a restart")
        if getattr(adapter, "jobs", lambda: [])() and old is None:
            notes.append("its scheduled jobs need a restart")
    dispatcher.set_adapter(name, adapter)
    if old is not None:
        old.stop()
    if adapter is not None and dispatcher.running:
        adapter.start(dispatcher.host)
    return notes


def _salesforce_query(app: Flask):
    """SOQL through the shared Salesforce connection (SF_* settings), as an adapter-side query function."""
    sync = app.extensions.get("salesforce")
    connection = getattr(sync, "connection", None)
    if connection is None:
        return None
    from .salesforce.connection import LimitExceeded, SalesforceProblem, Unavailable

    def query(soql: str) -> list[dict]:
        try:
            return connection.query_all(soql)
        except SalesforceProblem as exc:
            raise AdapterError(f"Salesforce: {exc.message}",
                               retryable=isinstance(exc, (Unavailable, LimitExceeded))) from None
    return query


def start(app: Flask) -> Dispatcher:
    """Start the dispatcher thread and the adapters' inbound listeners (the ``serve`` command)."""
    dispatcher: Dispatcher = app.extensions["dispatcher"]
    for adapter in dispatcher.adapters.values():
        adapter.start(dispatcher.host)
    dispatcher.start()
    return dispatcher


def adapters_health(app: Flask) -> dict:
    dispatcher: Dispatcher = app.extensions["dispatcher"]
    health = dispatcher.health()
    adapters = dispatcher.adapters
    return {"adapters": [{"name": name, "enabled": name in adapters,
                          "settings": adapters[name].describe_settings() if name in adapters else {}, **data}
                         for name, data in health.items()]}


@bp.get("/adapters")
@require("admin")
def adapters_status():
    return jsonify(adapters_health(current_app))


def adapter_named(app: Flask, name: str) -> Adapter:
    adapters = app.extensions["dispatcher"].adapters
    if name not in adapters:
        raise NotFound(f"adapter '{name}' is not enabled; enabled: {', '.join(sorted(adapters)) or 'none'} "
                       "(set CONNECTOR_ADAPTERS)", field="name")
    return adapters[name]


def check_connection(app: Flask, name: str, timeout: float | None = None) -> tuple[bool, str]:
    """Check an enabled adapter's connection (``adapters test NAME`` and the admin page).

    Returns ``(ok, what was checked or why it failed)``. With ``timeout`` the check runs in a worker
    thread and a remote that does not answer in time is reported as such. The reason never holds a
    secret: only an :class:`AdapterError`'s message (secret-free by contract) is shown, and any
    secret setting value is masked in it all the same.
    """
    adapter = adapter_named(app, name)
    if timeout is None:
        ok, message = _check(adapter)
    else:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"adapter-test-{name}")
        try:
            ok, message = pool.submit(_check, adapter).result(timeout=timeout)
        except FutureTimeout:
            ok, message = False, f"no answer within {timeout:g} s"
        finally:
            pool.shutdown(wait=False)
    for key, spec in adapter.settings.items():
        value = adapter.config.get(key)
        if spec.secret and isinstance(value, str) and value:
            message = message.replace(value, "(hidden)")
    return ok, message


def _check(adapter: Adapter) -> tuple[bool, str]:
    try:
        return True, adapter.check()
    except AdapterError as exc:
        return False, str(exc)
    except Exception as exc:  # a broken adapter must not take the page down; no internals shown
        log.warning("adapter %s: connection check raised %s", adapter.name, type(exc).__name__)
        return False, f"the check failed unexpectedly ({type(exc).__name__}); see the server log"


openapi.describe("/api/v1/adapters", "get", "Per-adapter delivery health: queue depth, parked rows, last "
                 "success, last error, and the adapter's own details (secrets only shown as set)", "admin")
openapi.describe("/api/v1/agents/{agent_id}/omni-channel", "post",
                 "The softphone reports an Omni-Channel change made in the console (source omni-channel); "
                 "needs the omni-channel adapter", "agent (itself), integration",
                 body={"type": "object", "required": ["event"], "properties": {
                     "event": {"enum": ["statusChanged", "logout"]}, "developer_name": {"type": "string"},
                     "service_presence_status_id": {"type": "string"}}},
                 params=[openapi.AGENT_ID])
