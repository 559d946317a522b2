"""Waiting for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 5.0, what: str = "the condition", interval: float = 0.01
) -> T:
    """Call ``condition`` until it returns something truthy and return that; fail the test (AssertionError
    naming ``what``) when ``timeout`` seconds pass first. The condition is checked once more at the deadline,
    so a slow machine that reaches it late still passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
