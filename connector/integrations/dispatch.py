"""Delivery of the outbox to the adapters, off the request path.

Guarantees (docs/architecture.md, "The outbox"):

* per agent and adapter, rows go out in the order they were written — a lane holds one row at a
  time and later rows wait behind it, also across several ``serve`` instances on one PostgreSQL
  database (lanes are claimed with a lease, see ``outbox_claims``; a lapsed lease is delivered again
  with the same idempotency key);
* a commit that wrote outbox rows wakes the dispatcher, and a finished delivery frees its lane and
  slot at once, so a change reaches a local adapter within milliseconds;
* a retryable failure is tried again after a capped exponential back-off (or the remote's own
  Retry-After); a non-retryable one parks the row with its reason and the lane moves on;
* presence rows waiting in one lane are coalesced: only the latest goes out, the others are marked
  ``superseded`` (five changes while Teams was down → Teams gets the latest once);
* a change is never sent back to the adapter it came from;
* each adapter has its own concurrency limit in one shared thread pool, so a hanging remote holds
  only its own slots and delays no other adapter;
* everything lives in the outbox table, so undelivered rows go out after a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from adapters.base import Adapter, AdapterError, Change, Host, StateInfo
from connector.auth.hashing import unseal
from connector.clock import Clock, iso, parse_iso
from connector.integrations import outbox_claims
from connector.integrations.enabled import AdapterSet
from connector.jobs.leases import Leases
from connector.observe import metrics
from connector.observe.logs import request_id
from connector.store import Store
from connector.store.models import OutboxRow
from connector.store.rows import outbox_row

_OUTBOX = OutboxRow.__table__

log = logging.getLogger(__name__)

#: how often the outbox is scanned for presence that needs renewing (well under any expiry)
RENEWAL_CHECK = timedelta(seconds=30)


@dataclass
class AdapterStats:
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    delivered: int = 0
    failed: int = 0
    in_flight_since: dict[int, datetime] = field(default_factory=dict)


class Dispatcher:
    """Delivers the outbox to the adapters of an :class:`AdapterSet`, each bound to ``host``.

    ``wake`` is set by the service after a commit that wrote outbox rows (and by every finished
    delivery), so a change goes out at once; ``poll_seconds`` is only the fallback that picks up
    retries, lapsed leases and rows other instances wrote. ``concurrency`` says how many pushes of an
    adapter may run at once on this instance (default: the adapter's ``max_concurrency``).
    """

    def __init__(
        self,
        store: Store,
        adapters: AdapterSet,
        host: Host,
        clock: Clock,
        secret_key: str,
        base_backoff: float = 2.0,
        max_backoff: float = 300.0,
        poll_seconds: float = 0.5,
        wake: threading.Event | None = None,
        leases: Leases | None = None,
        lease_seconds: float = 60.0,
        concurrency: Callable[[Adapter], int] | None = None,
    ):
        self.store = store
        self._adapters = adapters
        self.host = host
        self.clock = clock
        self._secret_key = secret_key
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.poll_seconds = poll_seconds
        self._wake = wake or threading.Event()
        self.leases = leases or Leases(store, clock)
        self.lease = timedelta(seconds=lease_seconds)
        self._concurrency = concurrency or (lambda adapter: adapter.max_concurrency)
        for adapter in adapters.current().values():
            adapter.bind(host)
        self.stats = {name: AdapterStats() for name in adapters.current()}
        self._pool_size = max(1, sum(self.concurrency(a) for a in adapters.current().values()))
        self._pool = ThreadPoolExecutor(max_workers=self._pool_size, thread_name_prefix="dispatch")
        self._lock = threading.Lock()
        self._record_lock = threading.Lock()
        self._outcomes: list[tuple] = []
        self._futures: list[Future] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def adapters(self) -> dict[str, Adapter]:
        """The enabled adapters now (a snapshot: the admin page may swap one at any time)."""
        return self._adapters.current()

    def concurrency(self, adapter: Adapter) -> int:
        """How many pushes of ``adapter`` may run at once on this instance."""
        return max(1, int(self._concurrency(adapter)))

    def set_adapter(self, name: str, adapter: Adapter | None) -> Adapter | None:
        """Replace, add or (None) remove one adapter while running; its queued rows stay in the outbox.

        The new adapter is bound to the host first. Deliveries already under way finish with the
        adapter they started with. Returns the adapter it replaced (not yet stopped).
        """
        if adapter is not None:
            adapter.bind(self.host)
        with self._lock:
            old = self._adapters.put(name, adapter)
            if adapter is not None:
                self.stats.setdefault(name, AdapterStats())
            adapters = self._adapters.current()
            needed = sum(self.concurrency(a) for a in adapters.values())
            if needed > self._pool_size:  # each adapter keeps its own slots: grow the shared pool
                old_pool, self._pool_size = self._pool, needed
                self._pool = ThreadPoolExecutor(max_workers=needed, thread_name_prefix="dispatch")
                old_pool.shutdown(wait=False)
        self._wake.set()
        return old

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def notify(self) -> None:
        """Outbox rows were committed: deliver them now rather than at the next poll."""
        self._wake.set()

    # -- running -----------------------------------------------------------------------------
    def dispatch_once(self) -> list[Future]:
        """Start delivering every lane whose head row is due and free; returns the deliveries started."""
        now = self.clock()
        adapters = self.adapters
        self.renew(now, adapters)
        with self._lock:
            free = {name: self.concurrency(a) - len(self.stats[name].in_flight_since) for name, a in adapters.items()}
        if not any(slots > 0 for slots in free.values()):
            return []  # no adapter, or every slot busy: a finished delivery wakes this again
        claims = outbox_claims.claim(
            self.store, outbox_claims.due_heads(self.store, free, now), now, self.leases.holder, self.lease
        )
        started = []
        with self._lock:  # under the lock: set_adapter may be swapping the pool for a bigger one
            for c in claims:
                adapter = adapters[c.adapter]
                self.stats[c.adapter].in_flight_since[c.row_id] = now
                started.append(self._pool.submit(self._deliver, adapter, c))
            self._futures = [f for f in self._futures if not f.done()] + started
        return started

    def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing due is left (tests, ``adapters flush``); waits at most ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.dispatch_once()
            with self._lock:
                running = [f for f in self._futures if not f.done()]
                self._futures = running
            if not running:
                return
            # a finished delivery may free a lane or a slot for the next row
            wait(running, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_COMPLETED)

    def start(self) -> None:
        """Run in the background (``serve``): woken by commits and finished deliveries, else every poll."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                started = self.dispatch_once()
            except Exception:  # the loop must survive a database hiccup; the log says why
                log.exception("dispatching the outbox failed")
                started = []
            if started:
                continue  # keep draining while rows are due and slots are free
            self._wake.wait(self.poll_seconds)

    def stop(self, wait_for_deliveries: bool = False) -> None:
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=wait_for_deliveries, cancel_futures=True)

    def stop_claiming(self) -> None:
        """Claim no more rows (``serve`` is stopping): the loop ends, finished deliveries claim no next row,
        deliveries under way go on (:meth:`wait_idle`)."""
        self._stop.set()
        self._wake.set()

    def wait_idle(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the deliveries under way; returns how many are still running
        (their rows stay claimed by this instance until :func:`outbox_claims.release` hands them back)."""
        with self._lock:
            running = [f for f in self._futures if not f.done()]
        if running:
            wait(running, timeout=max(0.0, timeout))
        with self._lock:
            self._futures = [f for f in self._futures if not f.done()]
            left = len(self._futures)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return left

    # -- renewals ----------------------------------------------------------------------------
    def renew(self, now: datetime, adapters: dict[str, Adapter]) -> None:
        """Every 30 s, on one instance of the cluster (a lease), queue the renewals that are due."""
        if not any(a.refresh_seconds for a in adapters.values()):
            return
        if self._renew_checked_at is not None and now - self._renew_checked_at < RENEWAL_CHECK / 10:
            return  # cheap local throttle: the lease is only tried every few seconds
        self._renew_checked_at = now
        every = RENEWAL_CHECK.total_seconds()
        self.leases.run("adapter-renewals", lambda: self._renew(now, adapters), hold=every, every=every)

    _renew_checked_at: datetime | None = None

    def _renew(self, now: datetime, adapters: dict[str, Adapter]) -> None:
        """Re-send the current presence to adapters whose remote presence lapses (``refresh_seconds``)."""
        with self.store.write() as s:
            for name, adapter in adapters.items():
                if not adapter.refresh_seconds:
                    continue
                latest_ids = (
                    select(func.max(OutboxRow.id))
                    .where(OutboxRow.adapter == name, OutboxRow.kind == "presence")
                    .group_by(OutboxRow.agent_id)
                )
                for row in s.execute(select(OutboxRow).where(OutboxRow.id.in_(latest_ids))).scalars():
                    if row.delivered_at is None or row.payload.get("state") is None:
                        continue
                    if row.delivered_at + timedelta(seconds=adapter.refresh_seconds) > now:
                        continue
                    s.add(
                        outbox_row(row.agent_id, name, "presence", {**row.payload, "cause": "renewal"}, row.source, now)
                    )

    # -- delivering one row ------------------------------------------------------------------
    def _deliver(self, adapter: Adapter, claim: outbox_claims.Claim) -> None:
        row_id, agent_id, payload, source, kind = claim.row_id, claim.agent_id, claim.payload, claim.source, claim.kind
        # the delivery's log lines carry the id of the request that made the change (connector/observe/logs.py)
        with request_id(payload.get("request_id") or None):
            self._deliver_row(adapter, row_id, agent_id, payload, source, kind, claim.lease_until)

    def _deliver_row(
        self,
        adapter: Adapter,
        row_id: int,
        agent_id: str,
        payload: dict,
        source: str,
        kind: str,
        lease_until: datetime | None,
    ) -> None:
        pin: str | None = None
        try:
            if lease_until is not None and self.clock() >= lease_until:
                # this thread started too late (a starved machine): the lease has lapsed and another instance
                # may already be delivering the lane's newer row; pushing this one now could overtake it
                log.warning(
                    "outbox row %s for %s: lease lapsed before delivery began; left to the next claim",
                    row_id,
                    adapter.name,
                )
                return
            info = self.host.agent(agent_id)
            options = self.host.active_config().options
            error: AdapterError | None = None
            try:
                if payload.get("pin_sealed"):
                    pin = self._unseal(payload["pin_sealed"])
                change = change_from_row(row_id, kind, payload, source, options, pin)
                if source == adapter.source or info is None:
                    pass  # never echo a change back where it came from; a removed agent has nothing to send
                elif adapter.wants(options):
                    adapter.push(info, change)
            except AdapterError as exc:
                error = exc
            except Exception as exc:  # an adapter bug or a library error it did not translate
                error = AdapterError(f"{type(exc).__name__}: {exc}", retryable=True)
            self._record(adapter.name, row_id, error, pin)
        except Exception:
            log.exception("delivering outbox row %s to %s failed", row_id, adapter.name)
        finally:
            with self._lock:
                self.stats[adapter.name].in_flight_since.pop(row_id, None)
            self._wake.set()  # a slot is free and the lane's next row may go

    def _unseal(self, sealed: str) -> str:
        try:
            return unseal(sealed, self._secret_key)
        except Exception:
            raise AdapterError(
                "the sealed PIN cannot be read (was CONNECTOR_SECRET_KEY changed?)", retryable=False
            ) from None

    def _record(self, name: str, row_id: int, error: AdapterError | None, pin: str | None) -> None:
        """Record an outcome; outcomes that finish together share one transaction (one commit, one fsync)."""
        with self._lock:
            self._outcomes.append((name, row_id, error, pin, self.clock()))
        with self._record_lock:  # whoever gets in writes every outcome queued so far, its own included
            with self._lock:
                batch, self._outcomes = self._outcomes, []
            if batch:
                self._record_and_claim_next(batch)

    def _record_and_claim_next(self, batch: list[tuple]) -> None:
        """Write the outcomes and, in the same transaction, claim rows for the slots they free."""
        adapters = self.adapters
        now = self.clock()
        reserved: list[tuple[str, int]] = []
        try:
            with self.store.write() as s:
                for outcome in batch:
                    self._apply(s, *outcome)
                with self._lock:
                    for name, row_id, *_ in batch:
                        self.stats[name].in_flight_since.pop(row_id, None)
                    free = {
                        name: self.concurrency(a) - len(self.stats[name].in_flight_since)
                        for name, a in adapters.items()
                        if name in {b[0] for b in batch}
                    }
                if self._stop.is_set():  # stopping: the rows stay for the other instances
                    free = {}
                claims = outbox_claims.claim_in(
                    s, outbox_claims.due_heads_in(s, free, now), now, self.leases.holder, self.lease
                )
                with self._lock:  # the slots are taken before the commit, so the loop cannot hand them out
                    for c in claims:
                        self.stats[c.adapter].in_flight_since[c.row_id] = now
                        reserved.append((c.adapter, c.row_id))
        except Exception:
            with self._lock:
                for name, row_id in reserved:
                    self.stats[name].in_flight_since.pop(row_id, None)
            raise
        with self._lock:
            started = [self._pool.submit(self._deliver, adapters[c.adapter], c) for c in claims]
            self._futures = [f for f in self._futures if not f.done()] + started

    def _apply(self, s, name: str, row_id: int, error: AdapterError | None, pin: str | None, now: datetime) -> None:
        """Write one outcome on the row (plain statements: this runs once per delivery)."""
        stats = self.stats[name]
        conn = s.connection()
        attempts, payload = conn.execute(
            select(_OUTBOX.c.attempts, _OUTBOX.c.payload).where(_OUTBOX.c.id == row_id)
        ).one()
        with request_id((payload or {}).get("request_id") or None):  # outcomes of a batch: each row's own id
            self._apply_outcome(conn, stats, name, row_id, attempts, payload, error, pin, now)

    def _apply_outcome(
        self, conn, stats: AdapterStats, name: str, row_id: int, attempts, payload, error, pin, now: datetime
    ) -> None:
        attempts = (attempts or 0) + 1
        values: dict = {"attempts": attempts, "claimed_by": None, "lease_until": None}
        if (error is None or not error.retryable) and "pin_sealed" in (payload or {}):
            values["payload"] = {k: v for k, v in payload.items() if k != "pin_sealed"}
        if error is None:
            values.update(delivered_at=now, last_error=None)
            metrics.delivered(name, "delivered")
            log.debug("adapter %s delivered row %s", name, row_id)
            stats.last_success_at, stats.delivered = now, stats.delivered + 1
        else:
            message = scrub(str(error), pin)[:500]
            values["last_error"] = message
            stats.last_error, stats.last_error_at, stats.failed = message, now, stats.failed + 1
            if not error.retryable:
                values["next_attempt_at"] = None  # parked: visible in health, the lane moves on
                metrics.delivered(name, "parked")
                log.warning("adapter %s refused row %s for good: %s", name, row_id, message)
            else:
                delay = min(self.max_backoff, self.base_backoff * 2 ** (attempts - 1))
                if error.retry_after is not None:  # the remote said when; honour it (within an hour)
                    delay = min(max(error.retry_after, 0.0), 3600.0)
                values["next_attempt_at"] = now + timedelta(seconds=delay)
                metrics.delivered(name, "retry")
                log.info(
                    "adapter %s failed row %s (attempt %s, next in %.0f s): %s", name, row_id, attempts, delay, message
                )
        conn.execute(update(_OUTBOX).where(_OUTBOX.c.id == row_id).values(**values))

    # -- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, dict]:
        """Per adapter: enabled ones, and disabled ones that still have undelivered rows."""
        out: dict[str, dict] = {}
        adapters: dict[str, Adapter | None] = dict(self.adapters)
        options = self.host.active_config().options
        with self.store.read() as s:
            waiting = s.execute(
                select(OutboxRow.adapter)
                .where(OutboxRow.delivered_at.is_(None), OutboxRow.superseded.is_(False))
                .distinct()
            ).scalars()
            for name in sorted(set(waiting) - set(adapters)):
                adapters[name] = None
            for name, adapter in adapters.items():
                pending = (OutboxRow.adapter == name, OutboxRow.delivered_at.is_(None), OutboxRow.superseded.is_(False))
                depth = s.scalar(select(func.count()).where(*pending, OutboxRow.next_attempt_at.is_not(None)))
                parked = s.scalar(select(func.count()).where(*pending, OutboxRow.next_attempt_at.is_(None)))
                oldest = s.scalar(
                    select(func.min(OutboxRow.created_at)).where(*pending, OutboxRow.next_attempt_at.is_not(None))
                )
                last_ok = s.scalar(select(func.max(OutboxRow.delivered_at)).where(OutboxRow.adapter == name))
                stats = self.stats.get(name) or AdapterStats()
                with self._lock:
                    in_flight = len(stats.in_flight_since)
                try:
                    details = adapter.health() if adapter is not None else {}
                except Exception as exc:
                    details = {"error": f"{type(exc).__name__}"}
                # an enabled adapter the presence configuration gives nothing says why ("not sent: ...")
                why_not = adapter.why_not(options) if adapter is not None else None
                out[name] = {
                    "queue_depth": depth,
                    "parked": parked,
                    "in_flight": in_flight,
                    "oldest_pending_at": _iso(oldest),
                    "last_success_at": _iso(last_ok),
                    "last_error": stats.last_error,
                    "last_error_at": _iso(stats.last_error_at),
                    "delivered": stats.delivered,
                    "failed": stats.failed,
                    "why_not": why_not,
                    **details,
                }
        return out


def change_from_row(row_id: int, kind: str, payload: dict, source: str, options, pin: str | None) -> Change:
    at = parse_iso(payload["at"]) if payload.get("at") else None
    return Change(
        kind=kind,
        at=at,
        source=source,
        cause=payload.get("cause", ""),
        state=StateInfo.from_dict(payload.get("state")),
        previous=StateInfo.from_dict(payload.get("previous")),
        number=payload.get("number"),
        options=options,
        pin=pin,
        extension=payload.get("extension"),
        renewal=payload.get("cause") == "renewal",
        key=f"outbox-{row_id}",
    )


def scrub(message: str, pin: str | None) -> str:
    """Remove the PIN from a message, whatever a library put into it."""
    return message.replace(pin, "****") if pin else message


_iso = iso
