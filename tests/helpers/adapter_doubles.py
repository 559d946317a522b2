"""Test doubles for adapters: plain classes with the real interface, no patching."""

from __future__ import annotations

import threading

from adapters import Adapter, AdapterError


class Recorder(Adapter):
    """Remembers what it was sent; can fail on purpose (``failures``: errors to raise, in order)."""

    name = "recorder"

    def __init__(self, name: str = "recorder", echo_source: str | None = None, failures=(), gate=None):
        super().__init__()
        self.name = name
        self.echo_source = echo_source
        self.failures = list(failures)
        self.gate: threading.Event | None = gate
        self.sent: list[tuple] = []
        self.pins: list[str | None] = []

    def push(self, agent, change):
        if self.gate is not None:
            self.gate.wait(10)
        if self.failures:
            raise self.failures.pop(0)
        state = change.state["id"] if change.state else None
        self.sent.append(
            (agent.id, change.kind, state if change.kind == "presence" else change.number or change.extension)
        )
        self.pins.append(change.pin)


def down(times: int = 1, retryable: bool = True, message: str = "remote down") -> list[AdapterError]:
    return [AdapterError(message, retryable=retryable) for _ in range(times)]
