"""Time tracking: intervals in a state become seconds per agent, day and state.

Days are calendar days in the agent's time zone (its own ``timezone`` when set, else
``CONNECTOR_TIMEZONE``), so an interval across midnight is split and a DST day has 23 or 25 hours.
Pure functions: no clock, no store.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.errors import InvalidInput


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_or(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The IANA zone ``name`` (an agent's own), or ``default`` when it has none (empty or None)."""
    if not name:
        return default
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError):  # checked when saved; a zone removed from tzdata since
        return default


def check_zone(value: object, field: str = "timezone") -> str:
    """An IANA time zone name such as Europe/London ("" for the connector's default), or a 422 naming ``field``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and 0 < len(value.strip()) <= 64:
        try:
            _zone(value.strip())
            return value.strip()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise InvalidInput(
        f"{field} must be an IANA time zone such as Europe/London or America/New_York (empty: CONNECTOR_TIMEZONE)",
        field=field,
    )


def split_by_day(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[date, float]]:
    """Seconds of [start, end) falling on each local calendar day, in order."""
    if end <= start:
        return []
    parts: list[tuple[date, float]] = []
    cursor = start
    while cursor < end:
        local_day = cursor.astimezone(tz).date()
        next_midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=tz)
        boundary = min(end, next_midnight.astimezone(start.tzinfo))
        parts.append((local_day, (boundary - cursor).total_seconds()))
        cursor = boundary
    return parts


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and ends (23, 24 or 25 hours apart)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(ZoneInfoUTC), end.astimezone(ZoneInfoUTC)


ZoneInfoUTC = ZoneInfo("UTC")
