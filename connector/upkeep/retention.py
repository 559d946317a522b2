"""The retention job: rows older than each table's retention setting are deleted, a small batch at a time.

Each batch is found on a read snapshot (``CONNECTOR_RETENTION_BATCH`` primary keys, no lock held), then deleted
by key in a write shared with the presence changes being committed (``Store.write_shared``: on SQLite the delete
rides on their group commit instead of adding a disk flush of its own under the write lock), and the job pauses
between batches (at least four times as long as the batch took), so presence changes queued behind it go first
(BENCHMARKS.md "Retention purge").
On PostgreSQL a batch locks only the rows it deletes. The job runs under a lease (``job:retention``,
connector/jobs/leases.py): one instance of a cluster runs it per interval. What is never purged: the open
state interval, outbox rows not yet delivered (pending or parked), and anything while its setting is ``0``.
README "Data retention" lists every table and its default.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from connector.settings import Settings
from connector.store import Store
from connector.store.models import (
    AuditEvent,
    Base,
    Call,
    ConsoleCommand,
    DailyCounter,
    DailyTotal,
    LogonEventRow,
    OutboxRow,
    SharedValue,
    SignInFailure,
    StateInterval,
    WebSession,
)

log = logging.getLogger(__name__)

#: between two batches at least this long, and at least DUTY_RATIO times what the batch took: the purge takes
#: at most a fifth of the time (and of the store's writer), whatever the machine
PAUSE_SECONDS = 0.05
DUTY_RATIO = 4.0


@dataclass(frozen=True)
class Rule:
    """What goes out of one table: the rows ``old(cutoff)`` selects, ``setting`` days after."""

    table: str
    setting: str
    model: type[Base]
    old: Callable[[datetime], ColumnElement[bool]]
    holds: str


def _day(cutoff: datetime):
    return cutoff.date()


RULES: tuple[Rule, ...] = (
    Rule(
        "logon_events",
        "CONNECTOR_RETAIN_LOGON_EVENTS_DAYS",
        LogonEventRow,
        lambda c: LogonEventRow.at < c,
        "each login and logout: agent, time, Acquired/Released, logon source, device, who forced it",
    ),
    Rule(
        "state_intervals",
        "CONNECTOR_RETAIN_INTERVALS_DAYS",
        StateInterval,
        lambda c: and_(StateInterval.ended_at.is_not(None), StateInterval.ended_at < c),
        "each state an agent was in, from when to when, its source and cause",
    ),
    Rule(
        "calls",
        "CONNECTOR_RETAIN_CALLS_DAYS",
        Call,
        lambda c: and_(Call.ended_at.is_not(None), Call.ended_at < c),
        "calls reported by the PBX/CTI: agent, call id, direction, start, end, duration",
    ),
    Rule(
        "outbox",
        "CONNECTOR_RETAIN_OUTBOX_DAYS",
        OutboxRow,
        lambda c: or_(
            and_(OutboxRow.delivered_at.is_not(None), OutboxRow.delivered_at < c),
            and_(OutboxRow.superseded.is_(True), OutboxRow.created_at < c),
        ),
        "presence changes to deliver to each adapter (delivered and superseded ones are purged)",
    ),
    Rule(
        "console_commands",
        "CONNECTOR_RETAIN_OUTBOX_DAYS",
        ConsoleCommand,
        lambda c: and_(ConsoleCommand.acked_at.is_not(None), ConsoleCommand.created_at < c),
        "commands sent to the agent's console component (Omni-Channel) and their acknowledgements",
    ),
    Rule(
        "shared_values",
        "CONNECTOR_RETAIN_OUTBOX_DAYS",
        SharedValue,
        lambda c: and_(SharedValue.expires_at.is_not(None), SharedValue.expires_at < c),
        "what adapters share across instances (echo suppression, what was sent last), once expired",
    ),
    Rule(
        "sign_in_failures",
        "CONNECTOR_RETAIN_SIGN_IN_FAILURES_DAYS",
        SignInFailure,
        lambda c: SignInFailure.at < c,
        "failed or refused sign-ins: account, client address, outcome (never the secret tried)",
    ),
    Rule(
        "web_sessions",
        "CONNECTOR_RETAIN_WEB_SESSIONS_DAYS",
        WebSession,
        lambda c: and_(WebSession.ended_at.is_not(None), WebSession.ended_at < c),
        "signed-in page sessions (digest of the cookie, who, role); ended ones are purged",
    ),
    Rule(
        "audit_events",
        "CONNECTOR_RETAIN_AUDIT_DAYS",
        AuditEvent,
        lambda c: AuditEvent.at < c,
        "the audit trail: admin and supervisor actions, who, when, from where, before/after",
    ),
    Rule(
        "daily_totals",
        "CONNECTOR_RETAIN_DAILY_TOTALS_DAYS",
        DailyTotal,
        lambda c: DailyTotal.day < _day(c),
        "seconds per agent, local day and state (what reports and Salesforce read)",
    ),
    Rule(
        "daily_counters",
        "CONNECTOR_RETAIN_DAILY_TOTALS_DAYS",
        DailyCounter,
        lambda c: DailyCounter.day < _day(c),
        "counts per agent and day: calls answered, missed, wrap-ups, logins",
    ),
)


@dataclass
class Purged:
    by_table: dict[str, int]
    batches: int
    finished: bool

    def summary(self) -> str:
        done = ", ".join(f"{t} {n}" for t, n in self.by_table.items() if n) or "nothing was due"
        return f"purged: {done} ({self.batches} batches{'' if self.finished else ', more left for the next run'})"


class Retention:
    """Purges what each table's retention setting lets go, in batches (see the module's doc)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime],
        pause: float = PAUSE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.batch = int(settings.value("CONNECTOR_RETENTION_BATCH"))
        self.pause = pause
        self.sleep = sleep

    def days(self, rule: Rule) -> int:
        return int(self.settings.value(rule.setting))

    def run(self, budget_seconds: float | None = None) -> Purged:
        """Delete every due row (or until ``budget_seconds`` of wall time passed: the next run goes on)."""
        started = time.monotonic()
        now = self.clock()
        counts = {rule.table: 0 for rule in RULES}
        batches = 0
        for rule in RULES:
            days = self.days(rule)
            if days <= 0:
                continue
            cutoff = now - timedelta(days=days)
            while True:
                if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                    log.info("retention: time budget spent; the next run goes on")
                    return Purged(counts, batches, False)
                took = time.monotonic()
                deleted = self._batch(rule, cutoff)
                took = time.monotonic() - took
                batches += 1 if deleted else 0
                counts[rule.table] += deleted
                if deleted < self.batch:
                    break
                self.sleep(max(self.pause, DUTY_RATIO * took) if self.pause else 0)  # the writers waiting go first
        if any(counts.values()):
            log.info("retention %s", Purged(counts, batches, True).summary())
        return Purged(counts, batches, True)

    def _batch(self, rule: Rule, cutoff: datetime) -> int:
        """One batch: its keys found on a read snapshot (no lock held), then deleted in a write shared with the
        presence changes being committed (``Store.write_shared``: no commit of its own on SQLite, so no disk
        flush of its own), the rule checked again there so a row that changed meanwhile stays."""
        table = rule.model.__table__
        key = list(table.primary_key.columns)
        with self.store.reader.connect() as conn:
            found = conn.execute(select(*key).where(rule.old(cutoff)).limit(self.batch)).all()
        if not found:
            return 0
        if len(key) == 1:
            chosen = key[0].in_([row[0] for row in found])
        else:
            chosen = tuple_(*key).in_([tuple(row) for row in found])
        statement = delete(table).where(chosen, rule.old(cutoff))
        self.store.write_shared(lambda conn: conn.execute(statement))
        return len(found)
