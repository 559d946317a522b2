"""Wires the adapters into the app: which are enabled, the outbox targets, the dispatcher, health.

Enabled adapters come from ``CONNECTOR_ADAPTERS`` (comma-separated names; each adapter reads its own
prefixed settings), further switched on or off by the active presence config (``Adapter.wants``:
pbx_mode, skype_sync, teams_sync, omni_channel_sync). An embedding application or a test may add
ready-built adapter instances with ``app.config["ADAPTERS"]``.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from adapters.base import Adapter, AdapterConfigError, AdapterError, Host, UnknownAdapter
from adapters.registry import adapter_class
from .api import openapi
from .api.auth import require
from .dispatch import Dispatcher
from .errors import InvalidInput, NotFound
from .presence_config import PresenceConfig

bp = Blueprint("adapters_api", __name__, url_prefix="/api/v1")


def build_adapters(settings) -> dict[str, Adapter]:
    """The adapters named in CONNECTOR_ADAPTERS, built and validated from their settings."""
    names = [n.strip() for n in (settings.get("CONNECTOR_ADAPTERS", "") or "").split(",") if n.strip()]
    built: dict[str, Adapter] = {}
    for name in names:
        try:
            built[name] = adapter_class(name).from_settings(settings.get)
        except (UnknownAdapter, AdapterConfigError) as exc:
            raise InvalidInput(str(exc), field="CONNECTOR_ADAPTERS") from None
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
    adapters = build_adapters(settings)
    for extra in app.config.get("ADAPTERS", ()):
        adapters[extra.name] = extra

    def options():
        with ext.store.read() as s:
            return service.configs.active(s).options

    def outbox_targets(config: PresenceConfig) -> list[str]:
        return [name for name, adapter in adapters.items() if adapter.wants(config.options)]

    service.outbox_targets = outbox_targets
    dispatcher = Dispatcher(ext.store, adapters, service.clock, settings.secret_key, options,
                            base_backoff=_float(settings, "CONNECTOR_DISPATCH_BACKOFF", 2.0),
                            max_backoff=_float(settings, "CONNECTOR_DISPATCH_MAX_BACKOFF", 300.0))
    app.extensions["dispatcher"] = dispatcher
    dispatcher.host = host = Host(service=service, bus=ext.bus, settings=settings, clock=service.clock, store=ext.store)
    shared_query = _salesforce_query(app)
    for adapter in adapters.values():
        adapter.host = host
        if shared_query is not None and hasattr(adapter, "use_salesforce"):
            adapter.use_salesforce(shared_query)
        if adapter.blueprint is not None and adapter.blueprint.name not in app.blueprints:
            app.register_blueprint(adapter.blueprint)
        for job in getattr(adapter, "jobs", lambda: [])():
            ext.jobs.append(job)
    app.register_blueprint(bp)


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
    return {"adapters": [{"name": name, "settings": dispatcher.adapters[name].describe_settings(), **data}
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


openapi.describe("/api/v1/adapters", "get", "Per-adapter delivery health: queue depth, parked rows, last "
                 "success, last error, and the adapter's own details (secrets only shown as set)", "admin")
openapi.describe("/api/v1/agents/{agent_id}/omni-channel", "post",
                 "The softphone reports an Omni-Channel change made in the console (source omni-channel); "
                 "needs the omni-channel adapter", "agent (itself), integration",
                 body={"type": "object", "required": ["event"], "properties": {
                     "event": {"enum": ["statusChanged", "logout"]}, "developer_name": {"type": "string"},
                     "service_presence_status_id": {"type": "string"}}},
                 params=[openapi.AGENT_ID])
