"""How ``serve`` stops on SIGTERM (or Ctrl-C), within ``CONNECTOR_SHUTDOWN_GRACE`` seconds, exiting 0.

1. At the signal the listening socket closes (new connections are refused: a load balancer sends them to
   another instance), every open event stream gets an SSE ``retry:`` and is closed (the page reconnects,
   to another instance), the scheduler stops starting jobs and the dispatcher claims no more outbox rows.
2. Requests in flight finish (uvicorn waits for their connections, up to the grace), then deliveries
   and scheduled jobs under way (up to what is left of it).
3. What this instance still holds goes back to the others at once, not after its lease: the outbox rows
   it claimed and not delivered, and its job leases. Then the adapters stop and the store is closed; work
   still running past the grace is abandoned (the process ends; the rows it held go out again elsewhere,
   with the same idempotency key).

uvicorn re-raises a caught SIGTERM once it has stopped, so the process would end "killed by SIGTERM";
:class:`GracefulServer` does not, and ``serve`` exits 0 after a clean stop. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import concurrent.futures.thread
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from connector.integrations import outbox_claims
from connector.parts import get_parts
from connector.serve.asgi import ConnectorAsgi

log = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, telling the app first when it starts to stop (``on_stop``), in the loop's thread."""

    def __init__(self, config: uvicorn.Config, asgi: ConnectorAsgi, on_stop: Callable[[], None]):
        super().__init__(config)
        self.asgi = asgi
        self.on_stop = on_stop
        #: ``time.monotonic()`` when the stop signal came (None: still serving)
        self.stop_requested_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # not recorded in uvicorn's list of captured signals: that list is raised again after the stop
        if self.should_exit:
            if sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop now
            return
        self.stop_requested_at = time.monotonic()
        self.should_exit = True

    async def shutdown(self, sockets=None) -> None:
        for server in self.servers:
            server.close()  # first: no new connection while the streams are sent away
        told = self.asgi.stop_streams()
        log.info("stopping: new connections refused, %d open event streams told to reconnect", told)
        self.on_stop()
        await super().shutdown(sockets)


class Shutdown:
    """The app's side of a stop: :meth:`begin` at the signal, :meth:`finish` once the server has stopped."""

    def __init__(self, app: Flask, scheduler: BaseScheduler | None, grace: float):
        self.app = app
        self.scheduler = scheduler
        self.grace = grace

    def begin(self) -> None:
        """No new work: the scheduler starts no job, the dispatcher claims no row (work under way goes on)."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        get_parts(self.app).dispatcher.stop_claiming()

    def finish(self, stop_requested_at: float | None, wait: bool = True) -> list[str]:
        """Wait for deliveries and jobs under way (within the grace), give back what this instance holds, close.

        Returns the names of the threads still running past the grace (their work was handed back to the
        other instances; the caller ends the process without waiting for them), [] after a clean stop.
        """
        parts = get_parts(self.app)
        # wait False (a second Ctrl-C): hand back and go, waiting for nothing
        deadline = (stop_requested_at or time.monotonic()) + (self.grace if wait else 0.0)
        running = parts.dispatcher.wait_idle(deadline - time.monotonic())
        for thread in exit_blockers():  # scheduled jobs (their lease is released below, not under them)
            thread.join(max(0.0, deadline - time.monotonic()))
        busy = sorted({t.name for t in exit_blockers()})
        rows = outbox_claims.release(parts.store, parts.dispatcher.leases.holder)
        leases = parts.dispatcher.leases.release_all()
        for adapter in parts.dispatcher.adapters.values():
            try:
                adapter.stop()
            except Exception as exc:  # one adapter failing to stop must not keep the others running
                log.warning("adapter %s did not stop cleanly: %s", adapter.name, type(exc).__name__)
        parts.bus.stop()
        parts.store.dispose()
        log.info(
            "stopped: %d outbox rows and %d job leases handed back to the other instances%s",
            rows,
            leases,
            f"; {running} deliveries still running were left (the rows go out again)" if running else "",
        )
        return busy


def exit_blockers() -> list[threading.Thread]:
    """The threads Python waits for at exit: non-daemon ones, and every thread pool's workers (daemon or not)."""
    pool_workers = set(getattr(concurrent.futures.thread, "_threads_queues", {}))
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and (not t.daemon or t in pool_workers)
    ]
