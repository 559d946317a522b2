"""Inbound listeners survive their peer (issue 26): a failing optional step degrades the channel, it does not
stop it. The Asterisk listener against the local AMI peer (tests/helpers/fakes/ami.py)."""

from __future__ import annotations

from adapters.asterisk_ami import AsteriskAmiAdapter
from connector.auth import accounts
from connector.integrations.runtime import start
from connector.parts import get_parts
from tests.helpers.fakes.ami import AmiPeer
from tests.helpers.polling import wait_until


def test_a_refused_queue_status_is_shown_in_health_and_pause_events_are_still_read(make_app):
    peer = AmiPeer()
    peer.deny.add("QueueStatus")  # an older or restricted manager account
    adapter = AsteriskAmiAdapter(
        {"host": "127.0.0.1", "port": str(peer.port), "username": "connector", "secret": "s3cret", "events": "on"}
    )
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="asterisk")
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000"}, parts.clock())
    parts.service.login("edred", "Softphone", "browser")
    start(app)
    try:
        wait_until(lambda: adapter.health()["pause_state_read_error"], 5, "the refused QueueStatus in health")
        health = adapter.health()
        assert "QueueStatus refused" in health["pause_state_read_error"]
        assert "Permission denied" in health["pause_state_read_error"]
        assert health["events_listener"] == "connected"
        peer.event(
            {
                "Event": "QueueMemberPause",
                "Queue": "support",
                "Interface": "PJSIP/3000",
                "Paused": "1",
                "PausedReason": "Follow-up",
            }
        )
        wait_until(
            lambda: parts.service.presence("edred")["state"]["id"] == "follow-up", 5, "the pause made on the phone"
        )
        # one event connection, kept: no reconnect loop (each reconnect would log in and ask again)
        assert len(peer.listeners) == 1
        assert len(peer.actions_named("QueueStatus")) == 1
    finally:
        adapter.stop()
        parts.dispatcher.stop()
        peer.close()
