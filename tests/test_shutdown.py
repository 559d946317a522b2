"""SIGTERM to `presence-connector serve`: new connections refused, open streams told to reconnect, the request in
flight answered, what the instance held handed back to the survivor at once, exit 0 with no ERROR line.

Two real instances on a throwaway PostgreSQL server; the webhook receiver holds the first push open, so
the stopping instance has a claimed outbox row (a lease of CONNECTOR_DISPATCH_LEASE = 120 s) it cannot finish.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests

from connector.auth import accounts
from connector.clock import utc_now
from connector.integrations import outbox_claims
from connector.jobs.leases import Leases
from connector.store import Store
from connector.store.rows import outbox_row
from tests.helpers.cluster import Cluster, Receiver
from tests.helpers.polling import wait_until


def _open_stream(base: str, token: str) -> tuple[socket.socket, bytes]:
    """GET /api/v1/events on a raw socket; returns it with what arrived first (the opening snapshot)."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    opening = sock.recv(65536)
    assert opening.startswith(b"HTTP/1.1 200"), opening[:200]
    return sock, opening


def _read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.cluster
def test_sigterm_hands_everything_over_and_exits_cleanly(postgres, tmp_path):
    receiver = Receiver(hold_first=True)
    cluster = Cluster(
        postgres.new_database(),
        tmp_path,
        receiver.url,
        extra_env={"CONNECTOR_SHUTDOWN_GRACE": "3", "CONNECTOR_DISPATCH_LEASE": "120", "WEBHOOK_TIMEOUT": "60"},
    )
    try:
        token = cluster.prepare(["agent0"])
        admin = cluster.cli("tokens", "create", "--role", "admin").strip().splitlines()[-1]
        (stopping,) = cluster.start(1)
        auth = {"Authorization": f"Bearer {token}"}
        put = requests.post(f"{stopping}/api/v1/agents/agent0/login", json={"device": "softphone"}, headers=auth)
        assert put.status_code == 200, put.text
        assert receiver.held.wait(20), "the first push never reached the receiver"
        survivor = cluster.start(1)[-1]
        stream, opening = _open_stream(stopping, admin)

        # a request in flight: its headers are in, its body comes after the signal
        url = urlsplit(stopping)
        body = json.dumps({"state": "lunch"}).encode()
        in_flight = socket.create_connection((url.hostname, url.port), timeout=10)
        in_flight.sendall(
            f"PUT /api/v1/agents/agent0/presence HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        time.sleep(0.3)  # the server has read the headers

        cluster.processes[0].send_signal(signal.SIGTERM)
        signalled = time.monotonic()

        # the open stream is told to reconnect, then closed
        stream.settimeout(5)
        rest = _read_to_end(stream)
        assert b"\nretry: " in rest, rest[-300:]
        assert rest.endswith(b"\r\n0\r\n\r\n"), rest[-100:]  # the response's last chunk: a clean close
        assert time.monotonic() - signalled < 2

        # no new connections
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{stopping}/healthz", timeout=2)

        # the request in flight is answered
        in_flight.sendall(body)
        in_flight.settimeout(10)
        answer = _read_to_end(in_flight)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]

        # the instance gives up its held push at the end of the grace and exits 0
        assert cluster.processes[0].wait(15) == 0
        exited = time.monotonic()
        exited_at = time.time()  # the receiver stamps posts with the wall clock
        assert exited - signalled < 3 + 2  # the grace, and the exit

        # the survivor takes the released row at once (not after the 120 s lease): the lane's latest state
        wait_until(lambda: len(receiver.snapshot()) >= 2, 5, "the survivor to deliver agent0's lane")
        taken = receiver.snapshot()[1]
        assert taken["at"] - exited_at < 1.0, f"taken {taken['at'] - exited_at:.2f} s after the exit"
        assert taken["state"] == "lunch"
        assert requests.get(f"{survivor}/healthz", timeout=5).status_code == 200

        log = cluster.log(0)
        assert " ERROR " not in log and "Traceback" not in log, log
        assert "1 open event streams told to reconnect" in log
        assert "1 outbox rows" in log
    finally:
        receiver.stop()
        cluster.stop()


def test_released_job_leases_are_taken_by_another_instance_at_once(tmp_path):
    """Without ``release_all`` the other instance would wait for the lease to lapse (an hour here)."""
    store = Store(f"sqlite:///{tmp_path / 'presence.db'}")
    store.create_all()
    stopping, survivor = Leases(store, utc_now, "stopping:1"), Leases(store, utc_now, "survivor:2")
    assert stopping.acquire("job:flush", hold=3600)
    assert not survivor.acquire("job:flush", hold=3600)
    assert stopping.release_all() == 1
    assert survivor.acquire("job:flush", hold=3600)
    assert survivor.holder_of("job:flush") == "survivor:2"
    store.dispose()


def test_released_outbox_claims_go_to_another_instance_at_once(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'presence.db'}")
    store.create_all()
    now = datetime.now(UTC)
    accounts.add_agent(store, {"id": "agent0", "name": "Agent Zero"}, now)
    with store.write() as s:
        s.add(outbox_row("agent0", "webhook", "presence", {"state": "ready"}, "api", now))
    heads = outbox_claims.due_heads(store, {"webhook": 5}, now)
    assert len(outbox_claims.claim(store, heads, now, "stopping:1", timedelta(hours=1))) == 1
    assert outbox_claims.due_heads(store, {"webhook": 5}, now) == []  # leased: nobody else may take it
    assert outbox_claims.release(store, "stopping:1") == 1
    assert outbox_claims.release(store, "stopping:1") == 0
    heads = outbox_claims.due_heads(store, {"webhook": 5}, now)
    assert [c.agent_id for c in outbox_claims.claim(store, heads, now, "survivor:2", timedelta(hours=1))] == ["agent0"]
    store.dispose()
