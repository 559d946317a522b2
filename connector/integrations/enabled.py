"""The adapters switched on right now, shared by the service (who gets outbox rows) and the dispatcher."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from adapters.base import Adapter
from connector.presence.model import PresenceConfig


class AdapterSet:
    """Adapters by name. The admin page may enable, disable or rebuild one at any time: the mapping is
    replaced whole, never changed in place, so a reader keeps a consistent snapshot."""

    def __init__(self, adapters: Mapping[str, Adapter] | None = None):
        self._current: dict[str, Adapter] = dict(adapters or {})
        self._lock = threading.Lock()

    def current(self) -> dict[str, Adapter]:
        return self._current

    def put(self, name: str, adapter: Adapter | None) -> Adapter | None:
        """Add, replace or (None) remove one adapter; returns the one it replaced."""
        with self._lock:
            old = self._current.get(name)
            adapters = {n: a for n, a in self._current.items() if n != name}
            if adapter is not None:
                adapters[name] = adapter
            self._current = adapters
            return old

    def targets(self, config: PresenceConfig) -> list[str]:
        """The adapters that get an outbox row for a change under ``config``."""
        return [name for name, adapter in self._current.items() if adapter.wants(config.options)]

    def dialling(self, config: PresenceConfig) -> list[str]:
        """The adapters that really dial a number the softphone dials under ``config``."""
        return [name for name, adapter in self._current.items() if adapter.dials and adapter.wants(config.options)]
