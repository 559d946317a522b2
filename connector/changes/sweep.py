"""The timed-rule sweep: sessions whose rule fell due (wrap-up end, connection loss, inactivity, a call end
never reported) are claimed and settled, a batch per write transaction, until none is left due.

Every ``serve`` instance sweeps each second (:class:`Sweeper`, scheduled by connector/jobs/scheduler.py). A batch claims its sessions in the
transaction that settles them (``statements.claim_due_sessions``): on PostgreSQL with ``SELECT ... FOR
UPDATE SKIP LOCKED``, so two instances never settle one session at once and each passes over the sessions
another transaction holds (another instance's batch, or an API change in progress: the next sweep settles
that one). A settled session is no longer due once its batch commits, so a rule fires once. On SQLite (one
instance) the write lock is the claim.

Each session is settled in a savepoint of its batch by the service's decision path (``Engine.settle``,
``PresenceService.decide_on`` and the DecisionWriter), so a session whose decision fails is rolled back
alone and left due for the next sweep while the others are settled. The batch's live events are stored
at its end and the streams and the dispatcher are woken after its commit, as after any change.

A batch is kept small (``BATCH``): its transaction holds its sessions' row locks (an API change of one
of those agents waits for the commit) and, on SQLite, the write lock.
"""

from __future__ import annotations

import logging
from datetime import datetime

from connector.changes.service import PresenceService
from connector.errors import NotFound
from connector.observe import metrics
from connector.store import statements

log = logging.getLogger(__name__)

#: sessions settled in one write transaction: 1,000 due at once take about as long as with 100 a batch
#: (bench/sweep_bench.py), while a batch holds its row locks (and SQLite's write lock) a quarter as long
BATCH = 25


class Sweeper:
    """The timed-rule sweep over one service's sessions: built with the parts, run each second by the
    scheduler on every instance, and before a report reads time (a CLI export has no scheduler)."""

    def __init__(self, service: PresenceService, batch: int = BATCH):
        self.service = service
        #: sessions settled per write transaction
        self.batch = batch

    def settle_due(self) -> int:
        """Apply the timed rules (wrap-up end, connection loss, inactivity) that fell due; returns how many
        sessions this call settled."""
        return settle_due(self.service, self.batch)


def settle_due(service: PresenceService, batch: int = BATCH) -> int:
    """Settle every session due now, ``batch`` per transaction; returns how many this call settled."""
    now = service.clock()
    skip: set[str] = set()  # failed, or still due after settling (the engine's step cap): the next sweep
    settled = 0
    while True:
        claimed, done = _settle_batch(service, now, batch, skip)
        settled += done
        if claimed < batch:
            return settled


def _settle_batch(service: PresenceService, now: datetime, batch: int, skip: set[str]) -> tuple[int, int]:
    """Claim up to ``batch`` due sessions and settle them in one transaction: (claimed, settled)."""
    published: list[tuple[str, dict]] = []
    changes: list[str] = []
    outbox_rows = settled = 0
    with service.store.write_connection() as conn:
        claimed = statements.claim_due_sessions(conn, now, batch, skip)
        for agent_id in claimed:
            mine: list[tuple[str, dict]] = []
            engines: list = []

            def settle(engine, sess, at, s):
                engines.append(engine)  # noqa: B023  (called within this iteration, by decide_on)
                return engine.settle(sess, at)

            try:
                with conn.begin_nested():
                    decision, _, rows = service.decide_on(conn, agent_id, settle, None, mine, record_events=False)
            except Exception as exc:
                if conn.invalidated:
                    raise  # the connection is gone: nothing of the batch can commit
                if not isinstance(exc, NotFound):  # (an agent disabled since the claim: nothing to settle)
                    log.exception("timed rules of agent %s failed; the next sweep tries again", agent_id)
                skip.add(agent_id)
                continue
            due = engines[-1].next_due(decision.session)
            if due is not None and due[0] <= now:
                skip.add(agent_id)
            settled += 1
            outbox_rows += rows
            published.extend(mine)  # its savepoint holds
            changes.extend(e.source for e in decision.state_changes)
        # the batch's live events go in last: on PostgreSQL the pollers wait at an event id not yet
        # committed (connector/live/bus.py), so they wait only for this statement and the commit
        service.bus.record_all(conn, published)
    for source in changes:  # committed
        metrics.changed(source)
    if outbox_rows:
        service.outbox_written()
    if published:
        service.bus.wake()  # the live events committed with the batch (connector.live.bus)
    return len(claimed), settled
