"""Live events for Server-Sent Events streams: stored with the change, fanned out by one poller per process.

What holds:
- An event is a row of the store's ``events`` table written in the same transaction as the change it
  describes (:meth:`EventBus.record`), so a change and its event commit together or not at all.
  :meth:`EventBus.publish` stores an event on its own (Omni-Channel commands, a new configuration).
- One poller thread per process reads the table in id order up to a safe watermark and hands each
  event to every subscriber of this process: thread subscribers (a bounded queue) and asyncio
  subscribers (one hand-off per event loop per batch). Every instance sharing the database reads the
  same table, so a change made on one instance reaches the streams of all. A commit in this process
  reads the table at once (:meth:`EventBus.wake`); other instances' changes arrive within ``poll_interval``.
- Safe watermark: on SQLite writers are serialised, so ids become visible in order. On PostgreSQL an
  id can become visible after a higher one (commit order is not ``nextval`` order). The poller stops at
  such a hole until it fills, or until every transaction that was running when the hole was seen has
  ended (the snapshot's xmin passed the xmax seen then): the hole was a rolled-back transaction.
- Retention: rows older than ``retention`` seconds are deleted by the poller (once a minute). A stream
  resuming from an id before the oldest kept row cannot be replayed; it gets ``resync`` and a snapshot.
- A slow subscriber loses events, never blocks the poller; it is told (``overflowed``) and re-reads.

PostgreSQL LISTEN/NOTIFY is not used: NOTIFY in every write transaction serialises commits (about half
the commit rate measured on this machine); a cheap indexed read every ``poll_interval`` does not.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, delete, func, or_, select, text
from sqlalchemy.orm import Session

from connector.clock import Clock, utc_now
from connector.errors import TooManyStreams
from connector.live.subscriptions import (
    AsyncSubscription,
    LiveEvent,
    LoopFanout,
    SubscriberIndex,
    Subscription,
    encoded,
    format_raw_event,
)
from connector.store import Store, statements
from connector.store.models import EventRow

log = logging.getLogger(__name__)

#: an internal event: the credentials it names (``data["ends"]``) no longer hold; streams opened with one of
#: them end (connector/api/events.py). It reaches every stream of every instance like ``config``, and is
#: never sent to a client.
CREDENTIAL_ENDED = "credential_ended"

#: events read per poll; a longer backlog is read over several polls
BATCH = 2000
_NEW_EVENTS = text(
    "SELECT id, kind, agent_id, CAST(data AS TEXT) FROM events WHERE id > :after ORDER BY id LIMIT :batch"
)
PRUNE_EVERY_SECONDS = 60.0
#: the poller reads at most once per this many seconds, however many commits wake it (a few ms of latency
#: for the streams, against one read per commit at hundreds of changes per second)
MIN_POLL_GAP = 0.005
#: a poller with no subscriber for this long stops (it starts again with the next subscriber)
IDLE_STOP_SECONDS = 30.0


def end_credentials(s: Session, keys: list[str], reason: str, at) -> None:
    """In the caller's transaction: the open event streams of these credentials end once it commits.

    Keys: ``token:<id>`` (an API token), ``session:<digest>`` (a page session), ``user:<name>`` (every
    password session of a user), ``agent-pin:<id>`` (an agent's PIN sessions and stream tokens),
    ``agent:<id>`` (every stream of an agent). Any instance's poller hands it to its streams."""
    if s.get_bind().dialect.name != "sqlite" and not s.info.get("event_xid"):
        s.execute(text("SELECT pg_current_xact_id()"))  # as EventBus.record: the id before the event's id
        s.info["event_xid"] = True
    s.add(EventRow(kind=CREDENTIAL_ENDED, agent_id=None, data={"ends": keys, "reason": reason}, created_at=at))


class EventBus:
    """The ``events`` table as a stream: write with :meth:`record`/:meth:`publish`, read with :meth:`subscribe`."""

    def __init__(
        self,
        store: Store,
        clock: Clock = utc_now,
        maxsize: int = 1000,
        poll_interval: float = 0.1,
        retention_seconds: float = 3600.0,
        streams_per_principal: int = 20,
    ):
        self.store = store
        self.streams_per_principal = streams_per_principal
        self._streams: dict[str, int] = {}  # open streams per principal
        self.clock = clock
        self.maxsize = maxsize
        self.poll_interval = poll_interval
        self.retention_seconds = retention_seconds
        self._subs = SubscriberIndex()
        self._fanouts: dict[asyncio.AbstractEventLoop, LoopFanout] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._poll_lock = threading.Lock()  # one reader of the table at a time (poller or a committer)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._keep_running = False
        #: every event up to this id has been handed to the subscribers (or was before they came)
        self._delivered: int | None = None
        self._hole: tuple[int, int] | None = None  # (first missing id, snapshot xmax when it was seen)
        self._last_prune = 0.0

    # -- writing -----------------------------------------------------------------------------
    def record(self, s: Session, kind: str, data: dict[str, Any]) -> None:
        """Store an event in the caller's transaction (it commits with the change, or not at all)."""
        if not self.store.is_sqlite and not s.info.get("event_xid"):
            # the transaction gets its id before the event its id: the poller's hole check relies on it
            s.execute(text("SELECT pg_current_xact_id()"))
            s.info["event_xid"] = True
        agent_id = None if kind == "config" else data.get("agent_id", data.get("id"))
        s.add(EventRow(kind=kind, agent_id=agent_id, data=data, created_at=self.clock()))

    def record_all(
        self,
        conn: Connection,
        events: list[tuple[str, dict[str, Any]]],
        pending: statements.PendingWrites | None = None,
    ) -> None:
        """Store a change's events in its transaction on a plain connection (the change path's Core statements).

        Data that is an :class:`Encoded` dict goes in as the JSON text it carries (encoded once). With
        ``pending`` (PostgreSQL's change path) they go with the change's other inserts: its session row's
        update went first, so the transaction has its id before the events get theirs (see record)."""
        if not events:
            return
        if pending is not None:
            pending.add_events(
                [
                    (kind, None if kind == "config" else data.get("agent_id", data.get("id")), encoded(data))
                    for kind, data in events
                ],
                self.clock(),
            )
            return
        if not self.store.is_sqlite:
            # the id before the events' ids (see record); on the driver, so it can go out in a pipeline
            driver = conn.connection.driver_connection
            assert driver is not None  # a connection in a transaction has its driver's
            driver.execute("SELECT pg_current_xact_id()")
        statements.add_events(
            conn,
            [
                (kind, None if kind == "config" else data.get("agent_id", data.get("id")), encoded(data))
                for kind, data in events
            ],
            self.clock(),
        )

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Store an event in a transaction of its own, then wake this process's poller."""
        with self.store.write() as s:
            self.record(s, kind, data)
        self.wake()

    def wake(self) -> None:
        """A change committed here: read the table now rather than at the next poll.

        Thread subscribers (a WSGI server's streams, tests) are served in the caller's thread, so they
        have the change's events by the time its caller returns. The asyncio streams of ``serve`` are
        served by the poller thread, woken here: the request thread does not pay for the fan-out. With
        no subscriber in this process nothing is woken: the periodic poll keeps the watermark current.
        """
        if self._thread is None:
            return
        if self._subs.count:
            self._catch_up()
        elif self._fanouts:
            self._wake.set()

    def _catch_up(self) -> None:
        try:
            with self._poll_lock:
                self.poll_once()
        except Exception:  # the poller thread tries again at its next poll
            log.exception("reading live events failed")
            self._wake.set()

    # -- subscribing -------------------------------------------------------------------------
    def subscribe(
        self, loop: asyncio.AbstractEventLoop | None = None, principal: str | None = None, only: str | None = None
    ) -> Subscription | AsyncSubscription:
        """A new subscriber; events after its ``after`` id reach it. With ``loop``: an asyncio subscriber.

        With ``only`` it gets that agent's events and config events alone. With ``principal`` (a token
        or a signed-in user) it counts against ``streams_per_principal``: one more raises
        :class:`TooManyStreams`; closing the subscription gives the slot back.
        """
        self._ensure_started()
        self._catch_up()  # so ``after`` is what the store has now, not what the last poll saw
        with self._lock:
            if principal is not None:
                held = self._streams.get(principal, 0)
                if held >= self.streams_per_principal:
                    raise TooManyStreams(
                        f"this caller already has {held} open event streams (the limit is "
                        f"{self.streams_per_principal}, CONNECTOR_STREAMS_PER_PRINCIPAL); close a page or "
                        "try again later",
                        field="streams",
                    )
                self._streams[principal] = held + 1
            after = self._delivered or 0
            if loop is None:
                sub: Subscription | AsyncSubscription = Subscription(self._unsubscribe, self.maxsize, after)
                index = self._subs
            else:
                fanout = self._fanouts.get(loop)
                if fanout is None:
                    fanout = self._fanouts[loop] = LoopFanout(loop)
                sub = AsyncSubscription(self._unsubscribe, fanout, self.maxsize, after)
                index = fanout.subs
            sub.principal, sub.only = principal, only
            index.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription | AsyncSubscription) -> None:
        with self._lock:
            if isinstance(sub, AsyncSubscription):
                if not sub.fanout.subs.discard(sub):
                    return
                if not sub.fanout.subs.count:
                    self._fanouts.pop(sub.fanout.loop, None)
            elif not self._subs.discard(sub):
                return
            if sub.principal is not None:
                left = self._streams.get(sub.principal, 1) - 1
                if left > 0:
                    self._streams[sub.principal] = left
                else:
                    self._streams.pop(sub.principal, None)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return self._subs.count + sum(f.subs.count for f in self._fanouts.values())

    # -- replay (Last-Event-ID) --------------------------------------------------------------
    def replay(self, after: int, upto: int, agent_id: str | None, limit: int) -> list[dict] | None:
        """The stored events in (after, upto] (only ``agent_id``'s and config events when given).

        None when they cannot all be replayed: pruned, more than ``limit``, or an id this store never gave.
        """
        with self.store.read() as s:
            lowest, highest = s.execute(select(func.min(EventRow.id), func.max(EventRow.id))).one()
            if highest is None:  # nothing kept: fine only if nothing happened since
                return [] if after == upto else None
            if after > highest or after < lowest - 1:  # an id this store never gave, or pruned since
                return None
            if after >= upto:  # the poller hands the rest to the subscription
                return []
            query = select(EventRow.id, EventRow.kind, EventRow.agent_id, EventRow.data).where(
                EventRow.id > after, EventRow.id <= upto
            )
            if agent_id is not None:
                query = query.where(or_(EventRow.agent_id == agent_id, EventRow.kind == "config"))
            rows = s.execute(query.order_by(EventRow.id).limit(limit + 1)).all()
        if len(rows) > limit:
            return None
        return [{"id": r.id, "event": r.kind, "agent": r.agent_id, "data": r.data} for r in rows]

    # -- the poller --------------------------------------------------------------------------
    def start(self) -> None:
        """Run the poller for the life of the process (``serve``), not only while someone listens."""
        self._keep_running = True
        self._ensure_started()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._delivered is None:
                with self.store.read() as s:
                    self._delivered = s.scalar(select(func.max(EventRow.id))) or 0
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="event-poller", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        idle_since = time.monotonic()
        last_poll = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval)
            # under a stream of commits one read covers several of them: at most one per MIN_POLL_GAP
            gap = MIN_POLL_GAP - (time.monotonic() - last_poll)
            if gap > 0:
                self._stop.wait(gap)
            self._wake.clear()
            if self._stop.is_set():
                return
            last_poll = time.monotonic()
            try:
                with self._poll_lock:
                    while self.poll_once() >= BATCH:
                        pass
                if time.monotonic() - self._last_prune >= PRUNE_EVERY_SECONDS:
                    self._last_prune = time.monotonic()
                    self.prune()
            except Exception:  # the database may be restarting; the next poll tries again
                log.exception("reading live events failed")
                self._stop.wait(1.0)
            if self.subscriber_count or self._keep_running:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_STOP_SECONDS:
                with self._lock:
                    if not (self._subs.count or self._fanouts):
                        self._thread = None
                        return

    def poll_once(self) -> int:
        """Hand the newly committed events to the subscribers; returns how many rows were read.

        Plain statements on a pooled connection, the data as the JSON text it is stored as: the poller
        runs after every commit, so it must cost little; with no subscriber it only moves the watermark.
        """
        after = self._delivered or 0
        with self.store.reader.connect() as conn:
            rows = conn.execute(_NEW_EVENTS, {"after": after, "batch": BATCH}).all()
            snapshot = None
            if rows and not self.store.is_sqlite:
                snapshot = conn.execute(
                    text(
                        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
                        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
                    )
                ).one()
        ready, expected = 0, after + 1
        for row in rows:
            if row[0] != expected and snapshot is not None:
                xmin, xmax = snapshot
                if self._hole is None or self._hole[0] != expected:
                    self._hole = (expected, xmax)  # a transaction holding the missing id may still commit
                    break
                if xmin < self._hole[1]:
                    break  # still possible: wait
                self._hole = None  # every transaction that could fill it has ended: a rollback
            ready += 1
            expected = row[0] + 1
        if not ready:
            return len(rows)
        with self._lock:
            if not (self._subs.count or self._fanouts):
                self._delivered = rows[ready - 1][0]  # nobody listens in this process: nothing to format
                return len(rows)
        # formatted once here, not once per stream
        self._hand_out(
            [
                LiveEvent(id=id_, event=kind, agent=agent, raw=raw, sse=format_raw_event(kind, raw, id_))
                for id_, kind, agent, raw in rows[:ready]
            ]
        )
        return len(rows)

    def _hand_out(self, events: list[dict]) -> None:
        with self._lock:
            self._delivered = events[-1]["id"]
            routed = self._subs.route(events)
            fanouts = [(f, f.subs.route(events)) for f in self._fanouts.values()]
        for sub, mine in routed:
            sub.deliver(mine)
        for fanout, loop_routed in fanouts:
            if not loop_routed:
                continue
            try:
                fanout.loop.call_soon_threadsafe(fanout._deliver, loop_routed)
            except RuntimeError:  # the loop has closed
                pass

    @property
    def watermark(self) -> int:
        return self._delivered or 0

    def prune(self) -> int:
        """Delete events older than the retention window; returns how many."""
        cutoff = self.clock() - timedelta(seconds=self.retention_seconds)
        with self.store.write() as s:
            # ids grow with time: the oldest event still inside the window bounds the delete. Read in id
            # order, the scan stops there, after the rows it deletes anyway; an index on created_at would
            # cost every change one more page written
            kept = s.execute(
                select(EventRow.id).where(EventRow.created_at >= cutoff).order_by(EventRow.id).limit(1)
            ).scalar()
            expired = delete(EventRow) if kept is None else delete(EventRow).where(EventRow.id < kept)
            # a DML statement: a CursorResult (SQLAlchemy types Session.execute's answer as a plain Result)
            deleted = cast("CursorResult[Any]", s.execute(expired))
            return deleted.rowcount or 0
