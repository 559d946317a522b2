"""SIGTERM to one of two `presence-connector serve` instances on PostgreSQL: how long until it exits, and how
soon the other instance delivers the outbox row the stopping one had claimed (loopback only, bounded runs).

The webhook receiver holds the first push open, so the stopping instance holds a claimed row (a lease of
CONNECTOR_DISPATCH_LEASE = 120 s) when the signal comes; with a grace of 2 s it hands the row back and exits.
Without the hand-back the other instance would take the row when the 120 s lease lapsed (configured; not
measured here).

    .venv/bin/python bench/shutdown_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.cluster import Cluster, Receiver  # noqa: E402  (the repository root on the path first)
from tests.helpers.postgres import PostgresServer  # noqa: E402

LEASE = 120.0


def one_run(server: PostgresServer) -> tuple[float, float]:
    receiver = Receiver(hold_first=True)
    cluster = Cluster(
        server.new_database(),
        Path(tempfile.mkdtemp(prefix="pc-shutdown-")),
        receiver.url,
        extra_env={"CONNECTOR_SHUTDOWN_GRACE": "2", "CONNECTOR_DISPATCH_LEASE": str(LEASE), "WEBHOOK_TIMEOUT": "60"},
    )
    try:
        token = cluster.prepare(["agent0"])
        stopping = cluster.start(1)[0]
        requests.post(
            f"{stopping}/api/v1/agents/agent0/login",
            json={"device": "softphone"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if not receiver.held.wait(20):
            raise RuntimeError("the first push never reached the receiver")
        cluster.start(1)
        signalled = time.time()
        cluster.processes[0].send_signal(signal.SIGTERM)
        code = cluster.processes[0].wait(15)
        exited = time.time()
        while len(receiver.snapshot()) < 2 and time.time() - exited < 10:
            time.sleep(0.01)
        posts = receiver.snapshot()
        taken = posts[1]["at"] - exited if len(posts) > 1 else float("nan")
        print(
            f"exit code {code}: SIGTERM -> exit {exited - signalled:.2f} s, exit -> delivered by the survivor {taken:.3f} s"
        )
        return exited - signalled, taken
    finally:
        receiver.stop()
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = PostgresServer()
    try:
        results = [one_run(server) for _ in range(args.runs)]
    finally:
        server.stop()
    exit_s = statistics.median(r[0] for r in results)
    taken_s = statistics.median(r[1] for r in results)
    print(
        f"median of {args.runs}: SIGTERM -> exit {exit_s:.2f} s (grace 2 s); exit -> row delivered by the survivor "
        f"{taken_s:.3f} s (without the hand-back it would wait for the lease: {LEASE:.0f} s, configured, not measured)"
    )


if __name__ == "__main__":
    main()
