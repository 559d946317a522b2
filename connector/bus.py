"""In-process publish/subscribe for live updates (Server-Sent Events to dashboards and softphones)."""
from __future__ import annotations

import itertools
import queue
import threading
from typing import Any


class Subscription:
    def __init__(self, bus: "EventBus", maxsize: int):
        self.bus = bus
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.overflowed = False

    def get(self, timeout: float) -> dict | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.bus._unsubscribe(self)


class EventBus:
    """Fan-out of events to subscribers; a slow subscriber loses events, never blocks a publisher.

    A subscriber that overflowed is told so (``overflowed``) and should re-read the full state.
    """

    def __init__(self, maxsize: int = 1000):
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.maxsize = maxsize

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self.maxsize)
        with self._lock:
            self._subs.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = {"id": next(self._ids), "event": kind, "data": data}
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.queue.put_nowait(event)
            except queue.Full:
                sub.overflowed = True
