"""Time per day in the configured time zone: split at midnight, DST days of 23 and 25 hours."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from connector.presence.days import local_day_bounds, split_by_day

BERLIN = ZoneInfo("Europe/Berlin")


def test_an_interval_across_local_midnight_is_split():
    start = datetime(2026, 3, 5, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    end = datetime(2026, 3, 5, 23, 15, tzinfo=UTC)  # 00:15 next day in Berlin
    assert split_by_day(start, end, BERLIN) == [(date(2026, 3, 5), 1800.0), (date(2026, 3, 6), 900.0)]


def test_dst_days_have_23_and_25_hours():
    spring = local_day_bounds(date(2026, 3, 29), BERLIN)
    autumn = local_day_bounds(date(2026, 10, 25), BERLIN)
    assert (spring[1] - spring[0]).total_seconds() == 23 * 3600
    assert (autumn[1] - autumn[0]).total_seconds() == 25 * 3600
    whole_autumn_day = split_by_day(autumn[0], autumn[1], BERLIN)
    assert whole_autumn_day == [(date(2026, 10, 25), 25 * 3600.0)]


def test_an_empty_or_reversed_interval_has_no_time():
    t = datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert split_by_day(t, t, BERLIN) == []
