"""Time tracking: intervals in a state become seconds per agent, day and state.

Days are calendar days in the configured time zone, so an interval across midnight is split and
a DST day has 23 or 25 hours. Pure functions: no clock, no store.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


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
