"""Which changes made the totals a flush sends: the request ids recorded with the state intervals.

A change writes its request id into the interval it opens (``opened_by``) and the one it closes
(``closed_by``; connector/changes/recording.py). A total (agent, local day, state) is pending because of
the intervals of that agent and state on that day that are still open or ended since the last flush that
went well read its totals (``salesforce_sync_state.last_read_at``; every interval of the day before the
first one). Their ids are what the flush's log lines name, bounded: at most :data:`PER_RECORD` ids a
record and :data:`PER_LINE` a line, with a count of the rest, so a flush of 1,000 agents logs kilobytes.
Counters records (``Presence_Counters__c``) are counted per day, not per interval: they carry no ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, or_, select, union_all
from sqlalchemy.engine import Connection

from connector.presence.days import local_day_bounds
from connector.salesforce.pending import PendingTotal, external_key
from connector.store.models import Agent, StateInterval, UTCDateTime, zone_name_of

#: ids named per record (its own log line, a parked record's warning)
PER_RECORD = 5
#: ids named per line of a call (the rest counted)
PER_LINE = 20
#: a closed interval that started this long before the last flush's read is not looked at
MAX_SPAN = timedelta(days=2)


_I = StateInterval.__table__.c
_COLUMNS = (_I.id, _I.agent_id, _I.state_id, _I.started_at, _I.ended_at, _I.opened_by, _I.closed_by)
_AGENTS = bindparam("agents", expanding=True, type_=String)
_STATES = bindparam("states", expanding=True, type_=String)
# the open intervals (their partial index) and the ones closed since the last read, found by agent and start
# (an index range of a few days an agent, never its whole history: a closed interval that started more than
# MAX_SPAN before that read is not named); built once, the lists bound as expanding parameters
_BOTH = union_all(
    select(*_COLUMNS).where(
        _I.ended_at.is_(None), _I.agent_id.in_(_AGENTS), _I.state_id.in_(_STATES), _I.opened_by.is_not(None)
    ),
    select(*_COLUMNS).where(
        _I.agent_id.in_(_AGENTS),
        _I.started_at >= bindparam("floor", type_=UTCDateTime),
        _I.started_at < bindparam("hi", type_=UTCDateTime),
        _I.ended_at >= bindparam("ended_after", type_=UTCDateTime),
        _I.state_id.in_(_STATES),
        or_(_I.opened_by.is_not(None), _I.closed_by.is_not(None)),
    ),
).subquery()
_QUERY = select(*[_BOTH.c[c.name] for c in _COLUMNS[1:]]).order_by(_BOTH.c.started_at, _BOTH.c.id)
_ZONES = select(Agent.id, zone_name_of()).where(Agent.id.in_(_AGENTS))


def of_totals(
    conn: Connection,
    totals: list[PendingTotal],
    since: datetime | None,
    now: datetime,
    zones: dict[str, ZoneInfo],
) -> dict[str, list[str]]:
    """The request ids of the changes behind each total, by its key (oldest first, each once; totals without
    any are left out). ``zones``: ``ReadContext.zone_names`` (one entry: every agent's days end alike)."""
    if not totals:
        return {}
    default = zones.get("") or next(iter(zones.values()))
    agents = sorted({p.agent_id for p in totals})
    zone_of: dict[str, ZoneInfo] = {}
    if len(zones) > 1:
        zone_of = {aid: zones.get(name or "", default) for aid, name in conn.execute(_ZONES, {"agents": agents})}
    wanted = {(p.agent_id, p.day, p.state_id) for p in totals}
    first_day, last_day = min(p.day for p in totals), max(p.day for p in totals)
    # the earliest instant any of the days starts, in any zone (zones are at most 26 hours apart)
    lo = local_day_bounds(first_day - timedelta(days=2), default)[0]
    hi = local_day_bounds(last_day + timedelta(days=2), default)[1]
    ended_after = max(since, lo) if since is not None else lo
    params = {
        "agents": agents,
        "states": sorted({p.state_id for p in totals}),
        "floor": ended_after - MAX_SPAN,
        "hi": hi,
        "ended_after": ended_after,
    }
    found: dict[str, list[str]] = {}
    for aid, sid, started, ended, opened_by, closed_by in conn.execute(_QUERY, params):
        tz = zone_of.get(aid, default)
        day, last = started.astimezone(tz).date(), max(started, ended or now).astimezone(tz).date()
        while day <= last:  # the local days the interval overlaps (usually one)
            if (aid, day, sid) in wanted:
                ids = found.setdefault(external_key(aid, day, sid), [])
                for rid in (opened_by, closed_by):
                    if rid and rid not in ids:
                        ids.append(rid)
            day += timedelta(days=1)
    return found


class Lazy(Mapping[str, list[str]]):
    """The ids by record key, looked up on first use: a flush whose lines are not written (a log level above
    INFO, no parked record, no failure) makes no query for them."""

    def __init__(self, load: Callable[[], dict[str, list[str]]]):
        self._load = load
        self._found: dict[str, list[str]] | None = None

    def _all(self) -> dict[str, list[str]]:
        if self._found is None:
            self._found = self._load()
        return self._found

    def __getitem__(self, key: str) -> list[str]:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def bounded(ids: Iterable[str], limit: int) -> tuple[list[str], int]:
    """At most ``limit`` distinct ids (first seen first), and how many more there were."""
    kept: list[str] = []
    seen: set[str] = set()
    for rid in ids:
        if rid not in seen:
            seen.add(rid)
            if len(kept) < limit:
                kept.append(rid)
    return kept, len(seen) - len(kept)


def named(ids: Iterable[str], limit: int) -> tuple[str, dict]:
    """What a log line says of ``ids``, bounded to ``limit``: the text (``abc, def (+3 more)``, or ``none
    recorded``) and the JSON fields (``request_ids``, ``request_ids_more``)."""
    kept, more = bounded(ids, limit)
    text = (", ".join(kept) + (f" (+{more} more)" if more else "")) if kept else "none recorded"
    return text, {"request_ids": kept, "request_ids_more": more}


def log_call(
    log: logging.Logger, batch: Sequence[Any], changes: Mapping[str, list[str]], object_name: str, counts: list[int]
) -> None:
    """The lines of one upsert call: one naming the changes behind its records (at most PER_LINE ids) with
    ``counts`` (written, parked, to retry), and at DEBUG one a record (at most PER_RECORD ids)."""
    if not log.isEnabledFor(logging.INFO):
        return
    if log.isEnabledFor(logging.DEBUG):
        for p in batch:
            text, extra = named(changes.get(p.key, ()), PER_RECORD)
            seconds = getattr(p, "seconds", "-")
            log.debug(
                "Salesforce record %s sent (%s s); changes: %s", p.key, seconds, text, extra={"record": p.key, **extra}
            )
    text, extra = named((rid for p in batch for rid in changes.get(p.key, ())), PER_LINE)
    log.info(
        "Salesforce upsert of %d records to %s: %d written, %d parked, %d to retry; changes: %s",
        len(batch),
        object_name,
        *counts,
        text,
        extra={"records": len(batch), **extra},
    )
