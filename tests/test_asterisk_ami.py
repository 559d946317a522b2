"""The Asterisk AMI adapter against a small AMI peer on 127.0.0.1, through the real dispatcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.asterisk_ami import AsteriskAmiAdapter
from adapters.base import AdapterConfigError, AdapterError, AgentInfo, Change
from connector.auth import accounts
from connector.parts import get_parts
from connector.store.models import OutboxRow
from tests.helpers.fakes.ami import AmiPeer
from tests.helpers.polling import wait_until


@pytest.fixture
def peer():
    peer = AmiPeer()
    yield peer
    peer.close()


def ami(peer, **settings) -> AsteriskAmiAdapter:
    return AsteriskAmiAdapter(
        {
            "host": "127.0.0.1",
            "port": str(peer.port),
            "username": "connector",
            "secret": "s3cret",
            "timeout": "2",
            **settings,
        }
    )


def app_with(make_app, adapter, preset="asterisk"):
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG=preset)
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000"}, parts.clock())
    return app, parts.service, get_parts(app).dispatcher


def outbox(app):
    with get_parts(app).store.read() as s:
        rows = s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars().all()
        s.expunge_all()
        return rows


def test_presence_changes_pause_and_unpause_the_queue_member(make_app, peer):
    app, service, dispatcher = app_with(make_app, ami(peer, queue="support"))
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    service.set_state("edred", "break")
    dispatcher.drain()
    assert peer.actions_named("Login") == [
        {"Action": "Login", "Username": "connector", "Secret": "s3cret", "Events": "off"}
    ]
    assert peer.actions_named("QueuePause") == [
        {
            "Action": "QueuePause",
            "Interface": "PJSIP/3000",
            "Paused": "false",
            "Reason": "Ready for Calls",
            "Queue": "support",
        },
        {"Action": "QueuePause", "Interface": "PJSIP/3000", "Paused": "true", "Reason": "Break", "Queue": "support"},
    ]
    assert all(r.delivered_at is not None for r in outbox(app))
    assert peer.logins == 1  # one connection kept for both actions


def test_refused_login_parks_the_row_with_the_reason_and_no_secret(make_app, peer):
    app, service, dispatcher = app_with(make_app, ami(peer, secret="wrong-secret"))
    service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    [row] = outbox(app)
    assert row.next_attempt_at is None and row.delivered_at is None
    assert row.last_error == "Asterisk refused the AMI login for 'connector': Authentication failed"
    assert "wrong-secret" not in str(dispatcher.health())


def test_originate_mode_dials_the_reason_code_from_the_agents_channel(make_app, peer):
    app, service, dispatcher = app_with(make_app, ami(peer, mode="originate", context="agents"), "avaya_ip_office")
    service.login("edred", "Softphone", "browser")
    service.dial("edred", "0049301234")
    dispatcher.drain()
    assert [(a["Channel"], a["Exten"], a["Context"], a["Priority"]) for a in peer.actions_named("Originate")] == [
        ("PJSIP/3000", "*60", "agents", "1"),
        ("PJSIP/3000", "0049301234", "agents", "1"),
    ]


def test_a_value_with_a_line_break_never_reaches_the_wire(peer):
    adapter = ami(peer)
    agent = AgentInfo("edred", extension="3000\r\nAction: Originate")
    change = Change("presence", at=None, state={"id": "break", "label": "Break", "status": 3, "adapters": {}})
    with pytest.raises(AdapterError) as caught:
        adapter.push(agent, change)
    assert not caught.value.retryable and "line break" in str(caught.value)
    with pytest.raises(AdapterError):
        adapter.client.action("QueuePause", Interface="PJSIP/1", Reason="Lunch\nAction: Logoff")
    # a marker on the same (single) connection: once the peer has answered it, it has read
    # everything the adapter wrote before, so what it did not record was never sent
    adapter.push(AgentInfo("edred", extension="3000"), change)
    assert peer.actions_named("QueuePause") == [
        {"Action": "QueuePause", "Interface": "PJSIP/3000", "Paused": "true", "Reason": "Break"}
    ]
    assert not any(b"Originate" in raw or b"Logoff" in raw for raw in peer.raw)
    assert adapter.health()["connections_made"] == 1


def test_the_adapter_reconnects_after_the_peer_drops(peer):
    adapter = ami(peer)
    agent = AgentInfo("edred", extension="3000")
    state = {"id": "ready", "label": "Ready", "status": 1, "adapters": {}}
    adapter.push(agent, Change("presence", at=None, state=state))
    peer.drop_all()
    wait_until(lambda: not adapter.client._alive(), 3, "the close to reach the adapter's socket")
    adapter.push(agent, Change("presence", at=None, state=state))
    assert peer.logins == 2 and len(peer.actions_named("QueuePause")) == 2
    assert adapter.health()["connections_made"] == 2


def test_an_error_response_is_reported_with_asterisks_message(peer):
    adapter = ami(peer)
    with pytest.raises(AdapterError, match="Asterisk refused QueuePause: Interface not found"):
        adapter.push(
            AgentInfo("x", extension="9999"),
            Change("presence", at=None, state={"id": "r", "label": "R", "status": 1, "adapters": {}}),
        )


def test_pauses_made_on_the_phone_change_the_agents_state(make_app, peer):
    adapter = ami(peer, events="on")
    app, service, dispatcher = app_with(make_app, adapter)
    service.login("edred", "Softphone", "browser")
    from connector.integrations.runtime import start

    start(app)
    try:
        wait_until(lambda: peer.listeners, 3, "the event listener to log in")
        peer.event(
            {
                "Event": "QueueMemberPause",
                "Queue": "support",
                "Interface": "PJSIP/3000",
                "Paused": "1",
                "PausedReason": "Follow-up",
            }
        )
        wait_until(lambda: service.presence("edred")["state"]["id"] == "follow-up", 3, "edred in follow-up")
        rows = [r for r in outbox(app) if r.source == "pbx"]
        assert len(rows) == 1  # written for the AMI adapter, but never sent back to the PBX
        dispatcher.drain()
        assert len(peer.actions_named("QueuePause")) == 1  # only the login's Ready, not the echo
    finally:
        adapter.stop()
        dispatcher.stop()


def test_missing_settings_are_named():
    with pytest.raises(AdapterConfigError, match="AMI_SECRET is required"):
        AsteriskAmiAdapter({"host": "pbx", "username": "u"})
    with pytest.raises(AdapterConfigError, match="AMI_PORT must be between 1 and 65535"):
        AsteriskAmiAdapter({"host": "pbx", "username": "u", "secret": "x", "port": "70000"})


# -- echo of our own QueuePause, per Asterisk version (apps/app_queue.c) ------------------------


def _listening(make_app, peer, config=None, **settings):
    adapter = ami(peer, events="on", **settings)
    app, service, dispatcher = app_with(make_app, adapter, config or "asterisk")
    from connector.integrations.runtime import start

    start(app)
    wait_until(lambda: peer.listeners, 3, "the event listener to log in")
    return app, adapter, service, dispatcher


def _wait_for_events(peer, adapter, count: int) -> None:
    """Wait until the listener has read ``count`` pause events (a Ping round-trip proves it read up to it)."""
    wait_until(lambda: len(adapter._seen_for_test) >= count, 3, f"the listener to read {count} pause events")


def _count_events(adapter):
    seen: list = []
    original = adapter.on_event

    def counting(event):
        result = original(event)
        if event.get("Event", "").startswith("QueueMemberPause"):
            seen.append((event, result))
        return result

    adapter.on_event = counting
    adapter._seen_for_test = seen
    return seen


@pytest.mark.parametrize("version", ["11", "18", "21"])
def test_late_events_of_our_own_pauses_never_change_the_agent(make_app, version):
    peer = AmiPeer(version=version)
    try:
        app, adapter, service, dispatcher = _listening(make_app, peer)
        seen = _count_events(adapter)
        try:
            peer.hold_events = True  # the event stream lags behind the actions
            service.login("edred", "Softphone", "browser")
            dispatcher.drain()
            for state in ("break", "ready", "follow-up"):
                service.set_state("edred", state)
                dispatcher.drain()
            peer.release_events()  # unpause, pause Break, unpause, pause Follow-up
            _wait_for_events(peer, adapter, 4)
            assert [result for _, result in seen] == [None] * 4  # each recognised as ours
            assert service.presence("edred")["state"]["id"] == "follow-up"
            assert [r for r in outbox(app) if r.source == "pbx"] == []
            if version == "18":  # the unpause events carried no reason at all
                assert [e.get("PausedReason") for e, _ in seen] == ["", "Break", "", "Follow-up"]
            if version == "11":
                assert {e["Event"] for e, _ in seen} == {"QueueMemberPaused"}
        finally:
            adapter.stop()
            dispatcher.stop()
    finally:
        peer.close()


@pytest.mark.parametrize("version", ["11", "18", "21"])
def test_a_pause_made_on_the_phone_is_applied_in_each_event_shape(make_app, version):
    peer = AmiPeer(version=version)
    try:
        app, adapter, service, dispatcher = _listening(make_app, peer)
        seen = _count_events(adapter)
        try:
            service.login("edred", "Softphone", "browser")
            dispatcher.drain()
            _wait_for_events(peer, adapter, 1)
            peer.pause_event("support", "PJSIP/3000", True, "Follow-up")  # pressed on the phone
            _wait_for_events(peer, adapter, 2)
            assert seen[-1][1] == "follow-up"
            assert service.presence("edred")["state"]["id"] == "follow-up"
        finally:
            adapter.stop()
            dispatcher.stop()
    finally:
        peer.close()


def test_a_label_of_80_or_more_characters_is_recognised_cut_to_79(make_app, tmp_path, peer):
    long_label = "Coaching session with the team lead about the quarterly quality review results and next steps"
    assert len(long_label) >= 80
    text = (Path(__file__).parent.parent / "presence_configs" / "asterisk.yaml").read_text()
    config = tmp_path / "long.yaml"
    config.write_text(text.replace("label: Follow-up", f"label: {long_label}"))
    app, adapter, service, dispatcher = _listening(make_app, peer, config=str(config))
    seen = _count_events(adapter)
    try:
        service.login("edred", "Softphone", "browser")
        dispatcher.drain()
        service.set_state("edred", "follow-up")
        dispatcher.drain()
        _wait_for_events(peer, adapter, 2)
        assert seen[-1][0]["PausedReason"] == long_label[:79].strip()
        assert seen[-1][1] is None  # ours, not a change made on the phone
        assert service.presence("edred")["state"]["id"] == "follow-up"
    finally:
        adapter.stop()
        dispatcher.stop()


def test_a_missing_manager_permission_is_named(peer):
    peer.deny = {"QueuePause"}
    with pytest.raises(AdapterError, match="give the AMI user 'connector' 'write = agent' in manager.conf"):
        ami(peer).push(
            AgentInfo("edred", extension="3000"),
            Change("presence", at=None, state={"id": "r", "label": "R", "status": 1, "adapters": {}}),
        )


# -- reconnecting and reading the pause state that changed meanwhile ---------------------


def test_the_listener_reconnects_within_a_few_seconds_however_long_the_pbx_was_away():
    from adapters.asterisk_ami import reconnect_delay

    delays = [reconnect_delay(attempt) for attempt in range(50)]
    assert delays[:3] == [1.0, 2.0, 4.0] and max(delays) == 5.0


def test_a_pause_made_while_the_pbx_connection_was_down_is_applied_after_the_reconnect(make_app, peer):
    app, adapter, service, dispatcher = _listening(make_app, peer)
    try:
        service.login("edred", "Softphone", "browser")
        dispatcher.drain()  # the PBX accepted "Ready for Calls" (unpaused)
        wait_until(lambda: adapter.status_syncs >= 1, 3, "the first queue status read")
        peer.down = True
        peer.drop_all()
        peer.set_member("PJSIP/3000", True, "Follow-up")  # on the phone; no listener hears the event
        peer.down = False
        wait_until(
            lambda: service.presence("edred")["state"]["id"] == "follow-up", 10, "the pause read after the reconnect"
        )
        assert len(peer.actions_named("QueueStatus")) >= 2  # at start and after the reconnect
        assert adapter.health()["events_listener"] == "connected"
        dispatcher.drain()
        assert [a["Reason"] for a in peer.actions_named("QueuePause")] == ["Ready for Calls"]  # nothing echoed
        # unchanged members are left alone: a connector change not yet delivered is not undone
        peer.down = True
        peer.drop_all()
        service.set_state("edred", "break")  # the PBX is away: the QueuePause waits in the outbox
        peer.down = False
        reads = adapter.status_syncs
        wait_until(lambda: adapter.status_syncs > reads, 10, "a queue status read after the reconnect")
        assert service.presence("edred")["state"]["id"] == "break"
    finally:
        adapter.stop()
        dispatcher.stop()
