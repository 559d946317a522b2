"""The adapters in the app: which are enabled, switching them at run time, starting them, health.

Enabled adapters come from ``CONNECTOR_ADAPTERS`` (comma-separated names; each adapter reads its own
prefixed settings) and the admin page's saved settings, further switched on or off by the active
presence config (``Adapter.wants``: pbx_mode, skype_sync, teams_sync, omni_channel_sync). An
embedding application or a test may add ready-built adapter instances with ``app.config["ADAPTERS"]``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Flask

from adapters.base import Adapter, AdapterConfigError, AdapterError, UnknownAdapter
from adapters.registry import adapter_class
from connector.errors import InvalidInput, NotFound
from connector.integrations import saved_settings as adapter_settings
from connector.integrations.dispatch import Dispatcher
from connector.parts import get_parts
from connector.settings import Settings
from connector.store import Store

log = logging.getLogger(__name__)


def build_adapters(settings: Settings, store: Store) -> dict[str, Adapter]:
    """The enabled adapters (``CONNECTOR_ADAPTERS`` and the admin page), built and validated from their
    settings (the page's saved values over the environment)."""
    saved = adapter_settings.load(store, settings.secret_key)
    built: dict[str, Adapter] = {}
    for name in adapter_settings.enabled_names(settings, saved):
        try:
            built[name] = adapter_settings.build(adapter_class(name), settings, saved.get(name))
        except (UnknownAdapter, AdapterConfigError) as exc:
            field = "CONNECTOR_ADAPTERS" if name not in saved else f"{name} (saved on the admin page)"
            raise InvalidInput(str(exc), field=field) from None
    return built


def apply_saved(app: Flask, name: str, adapter: Adapter | None) -> list[str]:
    """Put a rebuilt adapter (or None: disabled) in the running dispatcher, without a restart.

    Rows already queued for a disabled adapter stay in the outbox (and in health) until it is enabled
    again. Returns what only a restart can bring (scheduled jobs of a new adapter).
    """
    dispatcher = get_parts(app).dispatcher
    notes = []
    was_enabled = name in dispatcher.adapters
    old = dispatcher.set_adapter(name, adapter)
    if adapter is not None and adapter.jobs() and not was_enabled:
        notes.append("its scheduled jobs need a restart")
    if old is not None:
        old.stop()
    if adapter is not None and dispatcher.running:
        adapter.start()
    return notes


def start(app: Flask) -> Dispatcher:
    """Start the dispatcher thread and the adapters' inbound listeners (the ``serve`` command)."""
    dispatcher = get_parts(app).dispatcher
    for adapter in dispatcher.adapters.values():
        adapter.start()
    dispatcher.start()
    return dispatcher


def adapters_health(app: Flask) -> dict:
    dispatcher = get_parts(app).dispatcher
    health = dispatcher.health()
    adapters = dispatcher.adapters
    return {
        "adapters": [
            {
                "name": name,
                "enabled": name in adapters,
                "settings": adapters[name].describe_settings() if name in adapters else {},
                **data,
            }
            for name, data in health.items()
        ]
    }


def adapter_named(app: Flask, name: str) -> Adapter:
    adapters = get_parts(app).dispatcher.adapters
    if name not in adapters:
        raise NotFound(
            f"adapter '{name}' is not enabled; enabled: {', '.join(sorted(adapters)) or 'none'} "
            "(set CONNECTOR_ADAPTERS)",
            field="name",
        )
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
