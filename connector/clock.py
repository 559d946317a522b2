"""Time: the clock type every part is given, and the one way times are written and read as text.

The domain never reads the wall clock itself; a :data:`Clock` is passed in (tests pass a fake one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: a function returning the current time, timezone-aware UTC
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 UTC with a ``Z`` (None stays None)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
