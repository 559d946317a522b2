"""Delivery of the outbox to the adapters, off the request path.

Guarantees (DESIGN.md section 5; issue 4):

* per agent and adapter, rows go out in the order they were written — a lane holds one row at a
  time and later rows wait behind it;
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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from sqlalchemy import func, select

from adapters.base import Adapter, AdapterError, Change, Host, StateInfo
from .adapter_set import AdapterSet
from .clock import Clock, iso, parse_iso
from .security import unseal
from .store import Store
from .store.models import OutboxRow
from .store.rows import outbox_row

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
    """Delivers the outbox to the adapters of an :class:`AdapterSet`, each bound to ``host``."""

    def __init__(self, store: Store, adapters: AdapterSet, host: Host, clock: Clock, secret_key: str,
                 base_backoff: float = 2.0, max_backoff: float = 300.0, poll_seconds: float = 0.5):
        self.store = store
        self._adapters = adapters
        self.host = host
        self.clock = clock
        self._secret_key = secret_key
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.poll_seconds = poll_seconds
        for adapter in adapters.current().values():
            adapter.bind(host)
        self.stats = {name: AdapterStats() for name in adapters.current()}
        self._pool_size = max(1, sum(a.max_concurrency for a in adapters.current().values()))
        self._pool = ThreadPoolExecutor(max_workers=self._pool_size, thread_name_prefix="dispatch")
        self._lock = threading.Lock()
        self._busy_lanes: set[tuple[str, str]] = set()
        self._in_flight_rows: set[int] = set()
        self._futures: list[Future] = []
        self._renewed_at: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def adapters(self) -> dict[str, Adapter]:
        """The enabled adapters now (a snapshot: the admin page may swap one at any time)."""
        return self._adapters.current()

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
            needed = sum(a.max_concurrency for a in adapters.values())
            if needed > self._pool_size:  # each adapter keeps its own slots: grow the shared pool
                old_pool, self._pool_size = self._pool, needed
                self._pool = ThreadPoolExecutor(max_workers=needed, thread_name_prefix="dispatch")
                old_pool.shutdown(wait=False)
        return old

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    # -- running -----------------------------------------------------------------------------
    def dispatch_once(self) -> list[Future]:
        """Start delivering every lane whose head row is due; returns the deliveries started."""
        now = self.clock()
        adapters = self.adapters
        claimed: list[tuple[Adapter, int, tuple[str, str]]] = []
        with self.store.write() as s:
            self._renew(s, now, adapters)
            for row in self._coalesced_heads(s, adapters):
                lane = (row.adapter, row.agent_id)
                adapter = adapters[row.adapter]
                with self._lock:
                    if row.next_attempt_at is None or row.next_attempt_at > now or lane in self._busy_lanes:
                        continue
                    if len(self.stats[row.adapter].in_flight_since) >= adapter.max_concurrency:
                        continue
                    self._busy_lanes.add(lane)
                    self._in_flight_rows.add(row.id)
                    self.stats[row.adapter].in_flight_since[row.id] = now
                claimed.append((adapter, row.id, lane))
        # submitted only once the transaction (coalescing, renewals) is committed
        with self._lock:  # under the lock: set_adapter may be swapping the pool for a bigger one
            started = [self._pool.submit(self._deliver, adapter, row_id, lane) for adapter, row_id, lane in claimed]
            self._futures.extend(started)
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
        """Run in the background (``serve``): poll the outbox every ``poll_seconds``."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatch_once()
            except Exception:  # the loop must survive a database hiccup; the log says why
                log.exception("dispatching the outbox failed")
            self._stop.wait(self.poll_seconds)

    def stop(self, wait_for_deliveries: bool = False) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait_for_deliveries, cancel_futures=True)

    # -- choosing rows -----------------------------------------------------------------------
    def _coalesced_heads(self, s, adapters: dict[str, Adapter]) -> list[OutboxRow]:
        """Mark presence rows that a later one replaces as superseded; return each lane's first row."""
        rows = s.execute(select(OutboxRow).where(
            OutboxRow.adapter.in_(list(adapters)), OutboxRow.delivered_at.is_(None),
            OutboxRow.superseded.is_(False), OutboxRow.next_attempt_at.is_not(None))
            .order_by(OutboxRow.id)).scalars().all()
        lanes: dict[tuple[str, str], list[OutboxRow]] = {}
        for row in rows:
            lanes.setdefault((row.adapter, row.agent_id), []).append(row)
        heads = []
        for lane_rows in lanes.values():
            run: list[OutboxRow] = []
            for row in lane_rows + [None]:  # type: ignore[list-item]
                if row is not None and row.kind == "presence" and row.id not in self._in_flight_rows:
                    run.append(row)
                    continue
                if len(run) > 1:
                    latest = run[-1]
                    for older in run[:-1]:
                        older.superseded = True
                        # the newest keeps the back-off the remote earned, so coalescing is no retry storm
                        latest.attempts = max(latest.attempts or 0, older.attempts or 0)
                        latest.next_attempt_at = max(latest.next_attempt_at, older.next_attempt_at)
                run = []
            heads.append(next(r for r in lane_rows if not r.superseded))
        return heads

    def _renew(self, s, now: datetime, adapters: dict[str, Adapter]) -> None:
        """Re-send the current presence to adapters whose remote presence lapses (``refresh_seconds``)."""
        if self._renewed_at is not None and now - self._renewed_at < RENEWAL_CHECK:
            return  # a scan of the outbox every half second would cost more than it gains
        self._renewed_at = now
        for name, adapter in adapters.items():
            if not adapter.refresh_seconds:
                continue
            latest_ids = select(func.max(OutboxRow.id)).where(
                OutboxRow.adapter == name, OutboxRow.kind == "presence").group_by(OutboxRow.agent_id)
            for row in s.execute(select(OutboxRow).where(OutboxRow.id.in_(latest_ids))).scalars():
                if row.delivered_at is None or row.payload.get("state") is None:
                    continue
                if row.delivered_at + timedelta(seconds=adapter.refresh_seconds) > now:
                    continue
                s.add(outbox_row(row.agent_id, name, "presence", {**row.payload, "cause": "renewal"}, row.source,
                                 now))
        s.flush()

    # -- delivering one row ------------------------------------------------------------------
    def _deliver(self, adapter: Adapter, row_id: int, lane: tuple[str, str]) -> None:
        pin: str | None = None
        try:
            with self.store.read() as s:
                row = s.get(OutboxRow, row_id)
                agent_id, payload, source, kind = row.agent_id, dict(row.payload or {}), row.source, row.kind
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
                self._busy_lanes.discard(lane)
                self._in_flight_rows.discard(row_id)
                self.stats[adapter.name].in_flight_since.pop(row_id, None)

    def _unseal(self, sealed: str) -> str:
        try:
            return unseal(sealed, self._secret_key)
        except Exception:
            raise AdapterError("the sealed PIN cannot be read (was CONNECTOR_SECRET_KEY changed?)",
                               retryable=False) from None

    def _record(self, name: str, row_id: int, error: AdapterError | None, pin: str | None) -> None:
        now = self.clock()
        stats = self.stats[name]
        with self.store.write() as s:
            row = s.get(OutboxRow, row_id)
            row.attempts = (row.attempts or 0) + 1
            if error is None or not error.retryable:
                row.payload = {k: v for k, v in (row.payload or {}).items() if k != "pin_sealed"}
            if error is None:
                row.delivered_at = now
                row.last_error = None
                stats.last_success_at, stats.delivered = now, stats.delivered + 1
                return
            message = scrub(str(error), pin)[:500]
            row.last_error = message
            stats.last_error, stats.last_error_at, stats.failed = message, now, stats.failed + 1
            if not error.retryable:
                row.next_attempt_at = None  # parked: visible in health, the lane moves on
                log.warning("adapter %s refused row %s for good: %s", name, row_id, message)
                return
            delay = min(self.max_backoff, self.base_backoff * 2 ** (row.attempts - 1))
            if error.retry_after is not None:  # the remote said when; honour it (within an hour)
                delay = min(max(error.retry_after, 0.0), 3600.0)
            row.next_attempt_at = now + timedelta(seconds=delay)
            log.info("adapter %s failed row %s (attempt %s, next in %.0f s): %s", name, row_id, row.attempts,
                     delay, message)

    # -- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, dict]:
        """Per adapter: enabled ones, and disabled ones that still have undelivered rows."""
        out: dict[str, dict] = {}
        adapters: dict[str, Adapter | None] = dict(self.adapters)
        options = self.host.active_config().options
        with self.store.read() as s:
            waiting = s.execute(select(OutboxRow.adapter).where(
                OutboxRow.delivered_at.is_(None), OutboxRow.superseded.is_(False)).distinct()).scalars()
            for name in sorted(set(waiting) - set(adapters)):
                adapters[name] = None
            for name, adapter in adapters.items():
                pending = (OutboxRow.adapter == name, OutboxRow.delivered_at.is_(None),
                           OutboxRow.superseded.is_(False))
                depth = s.scalar(select(func.count()).where(*pending, OutboxRow.next_attempt_at.is_not(None)))
                parked = s.scalar(select(func.count()).where(*pending, OutboxRow.next_attempt_at.is_(None)))
                oldest = s.scalar(select(func.min(OutboxRow.created_at)).where(
                    *pending, OutboxRow.next_attempt_at.is_not(None)))
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
                out[name] = {"queue_depth": depth, "parked": parked, "in_flight": in_flight,
                             "oldest_pending_at": _iso(oldest), "last_success_at": _iso(last_ok),
                             "last_error": stats.last_error, "last_error_at": _iso(stats.last_error_at),
                             "delivered": stats.delivered, "failed": stats.failed, "why_not": why_not, **details}
        return out


def change_from_row(row_id: int, kind: str, payload: dict, source: str, options, pin: str | None) -> Change:
    at = parse_iso(payload["at"]) if payload.get("at") else None
    return Change(kind=kind, at=at, source=source, cause=payload.get("cause", ""),
                  state=StateInfo.from_dict(payload.get("state")), previous=StateInfo.from_dict(payload.get("previous")),
                  number=payload.get("number"), options=options, pin=pin, extension=payload.get("extension"),
                  renewal=payload.get("cause") == "renewal", key=f"outbox-{row_id}")


def scrub(message: str, pin: str | None) -> str:
    """Remove the PIN from a message, whatever a library put into it."""
    return message.replace(pin, "****") if pin else message


_iso = iso
