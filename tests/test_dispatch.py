"""The dispatcher: order, retries with back-off, coalescing, no echo, isolation, restarts."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from connector.auth import accounts
from connector.auth.hashing import seal
from connector.parts import get_parts
from connector.store.models import OutboxRow
from tests.helpers.adapter_doubles import Recorder, down
from tests.helpers.polling import wait_until


def _agent(app, agent_id="edred", **fields):
    parts = get_parts(app)
    extension = "3000" if agent_id == "edred" else ""  # an extension belongs to one active agent
    accounts.add_agent(
        parts.store, {"id": agent_id, "name": agent_id.title(), "extension": extension, **fields}, parts.clock()
    )
    return agent_id


def _rows(app, adapter=None):
    with get_parts(app).store.read() as s:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if adapter:
            query = query.where(OutboxRow.adapter == adapter)
        rows = s.execute(query).scalars().all()
        s.expunge_all()
        return rows


def test_changes_reach_each_adapter_in_the_order_they_happened(make_app):
    rec = Recorder()
    app = make_app(ADAPTERS=[rec])
    service = get_parts(app).service
    _agent(app)
    service.login("edred", "Softphone", "browser")
    service.set_state("edred", "break")
    service.dial("edred", "0123")  # a dial between presence rows keeps them apart
    service.set_state("edred", "lunch")
    get_parts(app).dispatcher.drain()
    assert rec.sent == [("edred", "presence", "break"), ("edred", "dial", "0123"), ("edred", "presence", "lunch")]
    assert [r.superseded for r in _rows(app)] == [True, False, False, False]  # login's Ready gave way to Break


def test_five_changes_while_the_remote_was_down_arrive_once_as_the_latest(make_app, clock):
    rec = Recorder(failures=down(1))
    app = make_app(ADAPTERS=[rec])
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    _agent(app)
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()  # the remote is down: the login's state waits for a retry
    for state in ("break", "lunch", "meeting", "training", "dnd"):
        service.set_state("edred", state)
    dispatcher.drain()
    assert rec.sent == []  # still backing off: coalescing does not turn into a retry storm
    clock.advance(3)
    dispatcher.drain()
    assert rec.sent == [("edred", "presence", "dnd")]
    rows = _rows(app)
    assert [r.superseded for r in rows].count(True) == 5
    assert rows[-1].delivered_at is not None and rows[-1].attempts == 2


def test_retryable_failures_back_off_exponentially_up_to_the_cap(make_app, clock):
    rec = Recorder(failures=down(6, message="HTTP 503 from Teams"))
    app = make_app(ADAPTERS=[rec], CONNECTOR_DISPATCH_MAX_BACKOFF="10")
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    _agent(app)
    service.login("edred", "Softphone", "browser")
    delays = []
    for _ in range(6):
        dispatcher.drain()
        row = _rows(app)[0]
        delays.append((row.next_attempt_at - clock()).total_seconds())
        clock.advance(delays[-1])
    assert delays == [2, 4, 8, 10, 10, 10]
    assert row.attempts == 6 and row.last_error == "HTTP 503 from Teams" and row.delivered_at is None
    dispatcher.drain()
    assert rec.sent == [("edred", "presence", "ready")]
    assert _rows(app)[0].last_error is None


def test_a_refused_row_is_parked_with_its_reason_and_later_rows_still_go(make_app, client, clock):
    rec = Recorder(failures=down(1, retryable=False, message="user not found in Teams"))
    app = make_app(ADAPTERS=[rec])
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    _agent(app)
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    service.set_state("edred", "break")
    dispatcher.drain()
    assert rec.sent == [("edred", "presence", "break")]
    health = dispatcher.health()["recorder"]
    assert health["parked"] == 1 and health["queue_depth"] == 0
    assert health["last_error"] == "user not found in Teams"


def test_a_change_is_never_echoed_to_the_system_it_came_from(make_app):
    teams, pbx = Recorder("teams"), Recorder("pbx_http", echo_source="pbx")
    app = make_app(ADAPTERS=[teams, pbx])
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    _agent(app)
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    service.set_state("edred", "break", source="teams")
    dispatcher.drain()
    service.set_state("edred", "lunch", source="pbx")
    dispatcher.drain()
    assert teams.sent == [("edred", "presence", "ready"), ("edred", "presence", "lunch")]
    assert pbx.sent == [("edred", "presence", "ready"), ("edred", "presence", "break")]
    assert all(r.delivered_at is not None for r in _rows(app))


def test_a_hanging_adapter_does_not_delay_another(make_app):
    gate = threading.Event()
    slow, fast = Recorder("skype", gate=gate), Recorder("teams")
    app = make_app(ADAPTERS=[slow, fast])
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    for agent in ("edred", "ann", "bob"):
        _agent(app, agent)
        service.login(agent, "Softphone", "browser")
    started = time.monotonic()
    dispatcher.drain(timeout=0.5)  # waits for what it started, at most half a second
    deadline = time.monotonic() + 5
    while len(fast.sent) < 3 and time.monotonic() < deadline:
        dispatcher.drain(timeout=0.2)
    try:
        assert sorted(a for a, _, _ in fast.sent) == ["ann", "bob", "edred"]
        assert time.monotonic() - started < 3
        assert slow.sent == []
        assert dispatcher.health()["skype"]["in_flight"] == slow.max_concurrency
    finally:
        gate.set()
    dispatcher.drain()
    assert len(slow.sent) == 3


def test_undelivered_rows_go_out_after_a_restart(make_app, clock):
    app = make_app(ADAPTERS=[Recorder("teams", failures=down(1))])
    service = get_parts(app).service
    _agent(app)
    service.login("edred", "Softphone", "browser")
    service.set_state("edred", "break")
    get_parts(app).dispatcher.drain()  # fails once, then the process "dies"
    get_parts(app).dispatcher.stop()
    teams = Recorder("teams")
    restarted = make_app(ADAPTERS=[teams])
    get_parts(restarted).dispatcher.drain()
    assert teams.sent == []  # the back-off the row earned survives the restart too
    clock.advance(3)
    get_parts(restarted).dispatcher.drain()
    assert teams.sent == [("edred", "presence", "break")]


def test_pbx_login_codes_get_their_pin_and_the_pin_is_then_removed(make_app, clock):
    pbx = Recorder("pbx_http", echo_source="pbx", failures=down(1, message="refused code *35*3000*4711#"))
    app = make_app(ADAPTERS=[pbx])
    parts = get_parts(app)
    _agent(app)
    with parts.store.write() as s:  # the core writes these rows on a PBX login
        s.add(
            OutboxRow(
                agent_id="edred",
                adapter="pbx_http",
                kind="login",
                source="softphone",
                payload={"extension": "3000", "pin_sealed": seal("4711", parts.settings.secret_key)},
                created_at=clock(),
                next_attempt_at=clock(),
            )
        )
    get_parts(app).dispatcher.drain()
    row = _rows(app)[0]
    assert row.last_error == "refused code *35*3000*****#"  # the PIN never reaches an error or health
    assert "pin_sealed" in row.payload  # still needed for the retry
    clock.advance(5)
    get_parts(app).dispatcher.drain()
    assert pbx.sent == [("edred", "login", "3000")] and pbx.pins == ["4711"]
    assert "pin_sealed" not in _rows(app)[0].payload


def test_adapters_health_is_for_admins(make_app, clock):
    app = make_app(ADAPTERS=[Recorder("teams", failures=down(1, message="HTTP 503"))])
    from tests.helpers.api import Api

    api = Api(app, app.test_client())
    api.agent("edred")
    get_parts(app).service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    assert api.call("GET", "/api/v1/adapters", api.token("supervisor")).status_code == 403
    reply = api.call("GET", "/api/v1/adapters", api.token("admin"))
    assert reply.status_code == 200
    [teams] = reply.get_json()["adapters"]
    assert teams["name"] == "teams" and teams["queue_depth"] == 1 and teams["last_error"] == "HTTP 503"
    assert teams["last_success_at"] is None
    spec = api.call("GET", "/api/v1/openapi.json", {}).get_json()
    assert "/api/v1/adapters" in spec["paths"]


def test_the_background_dispatcher_started_by_serve_delivers_on_its_own(make_app):
    from connector.integrations.runtime import start

    rec = Recorder("teams")
    app = make_app(ADAPTERS=[rec])
    _agent(app)
    dispatcher = start(app)
    try:
        get_parts(app).service.login("edred", "Softphone", "browser")
        wait_until(lambda: rec.sent, 5, "a delivery by the background dispatcher")
        assert rec.sent == [("edred", "presence", "ready")]
    finally:
        dispatcher.stop()


def test_a_committed_change_wakes_the_running_dispatcher_without_waiting_for_a_poll(make_app):
    rec = Recorder()
    app = make_app(ADAPTERS=[rec])
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    _agent(app)
    dispatcher.poll_seconds = 3600  # only the commit's signal can get it going
    dispatcher.start()
    try:
        service.login("edred", "Softphone", "browser")
        wait_until(lambda: rec.sent == [("edred", "presence", "ready")], 5, "the login delivered")
        service.set_state("edred", "break")  # the next change too: the loop keeps listening
        wait_until(lambda: rec.sent[-1:] == [("edred", "presence", "break")], 5, "the break delivered")
    finally:
        dispatcher.stop()


def test_per_adapter_concurrency_comes_from_the_environment(make_app):
    gate = threading.Event()
    rec = Recorder(gate=gate)
    app = make_app(ADAPTERS=[rec], CONNECTOR_DISPATCH_CONCURRENCY_RECORDER="5")
    service, dispatcher = get_parts(app).service, get_parts(app).dispatcher
    for n in range(7):
        _agent(app, f"agent{n}")
        service.login(f"agent{n}", "Softphone", "browser")
    dispatcher.dispatch_once()
    assert dispatcher.health()["recorder"]["in_flight"] == 5  # five agents at once, the default is 2
    gate.set()
    dispatcher.drain()
    assert len(rec.sent) == 7


def test_a_bad_concurrency_setting_is_refused_naming_the_variable(make_app):
    import pytest

    from connector.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        make_app(ADAPTERS=[Recorder()], CONNECTOR_DISPATCH_CONCURRENCY_RECORDER="lots")
    assert err.value.field == "CONNECTOR_DISPATCH_CONCURRENCY_RECORDER"
    assert "whole number from 1 to 64" in err.value.message


def test_a_row_held_by_an_instance_that_died_goes_out_after_its_lease_with_the_same_key_and_in_order(make_app, clock):
    from datetime import timedelta

    from connector.integrations import outbox_claims

    keys: list[str] = []

    class KeyRecorder(Recorder):
        def push(self, agent, change):
            keys.append(change.key)
            super().push(agent, change)

    rec = KeyRecorder()
    app = make_app(ADAPTERS=[rec])
    parts = get_parts(app)
    _agent(app)
    parts.service.login("edred", "Softphone", "browser")
    head = _rows(app)[0].id
    assert outbox_claims.claim(parts.store, [head], clock(), "instance-that-died", timedelta(seconds=60))
    parts.service.dial("edred", "0123")  # the lane's next row waits behind the leased head
    parts.dispatcher.drain()
    assert rec.sent == []
    clock.advance(61)  # the lease lapsed: this instance takes the lane over
    parts.dispatcher.drain()
    assert rec.sent == [("edred", "presence", "ready"), ("edred", "dial", "0123")]
    assert keys == [f"outbox-{head}", f"outbox-{_rows(app)[1].id}"]
    assert all(r.claimed_by is None and r.delivered_at is not None for r in _rows(app))
