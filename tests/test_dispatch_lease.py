"""A delivery that begins after its lease lapsed is not pushed: another instance may already hold the lane."""

from __future__ import annotations

from datetime import timedelta

from connector.auth import accounts
from connector.integrations import outbox_claims
from connector.parts import get_parts
from tests.helpers.adapter_doubles import Recorder


def test_a_delivery_started_after_its_lease_lapsed_is_left_to_the_next_claim(make_app, clock):
    rec = Recorder()
    app = make_app(ADAPTERS=[rec])
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000"}, clock())
    parts.service.login("edred", "Softphone", "browser")
    dispatcher = parts.dispatcher
    head = outbox_claims.due_heads(parts.store, {rec.name: 1}, clock())
    (claim,) = outbox_claims.claim(parts.store, head, clock(), dispatcher.leases.holder, timedelta(seconds=5))

    clock.advance(6)  # the delivery thread was starved past its lease
    dispatcher._deliver(rec, claim)
    assert rec.sent == []  # not pushed: a newer row of the lane may be on its way from another instance

    dispatcher.drain()  # the lapsed lease is claimed afresh and the row goes out once
    assert rec.sent == [("edred", "presence", "ready")]
