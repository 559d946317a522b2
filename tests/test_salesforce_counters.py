"""Daily counters into their own object, Presence_Counters__c (SF_COUNTER_FIELDS, SF_COUNTER_OBJECT): one
absolute record per agent and day, kept apart from the time per state in Presence_Time__c."""

from __future__ import annotations

import json
from datetime import date

import pytest

from connector.auth import accounts
from connector.parts import get_parts
from connector.salesforce.counters import SalesforceCounterSync
from connector.salesforce.status import status_text, sync_status
from connector.store.models import DailyCounter
from tests.helpers.fakes.salesforce import COUNTERS_UPSERT_URL, SF_ENV, TOKEN_URL, UPSERT_URL, add_totals

DAY = date(2026, 3, 6)
MAPPING = "calls_inbound_answered=Calls_Inbound_Answered__c, calls_ring_only=Calls_Ring_Only__c,logins=Logins__c"
COUNTER_ENV = {**SF_ENV, "SF_COUNTER_FIELDS": MAPPING}


def set_counters(parts, agent_id: str, day: date = DAY, **counts: int) -> None:
    """Set an agent's counters for a day to absolute values, as the service leaves them."""
    with parts.store.write() as s:
        for name, count in counts.items():
            row = s.query(DailyCounter).filter_by(agent_id=agent_id, day=day, counter=name).one_or_none()
            if row is None:
                s.add(DailyCounter(agent_id=agent_id, day=day, counter=name, count=count))
            else:
                row.count = count


def bodies(org) -> list[dict]:
    return [json.loads(c.request.body) for c in org.upsert_calls()]


def counter_record(agent_id: str, inbound: int, ring_only: int, logins: int) -> dict:
    return {
        "attributes": {"type": "Presence_Counters__c"},
        "Key__c": f"{agent_id}|2026-03-06",
        "Agent__c": agent_id,
        "Date__c": "2026-03-06",
        "Calls_Inbound_Answered__c": inbound,
        "Calls_Ring_Only__c": ring_only,
        "Logins__c": logins,
    }


def test_configured_counters_go_as_one_absolute_record_into_their_own_object_after_the_totals(make_app, org):
    app = make_app(**COUNTER_ENV)
    parts = get_parts(app)
    keys = add_totals(parts, agents=1)
    set_counters(parts, "agent00000", calls_inbound_answered=3, calls_ring_only=1, wrap_ups_completed=2)

    report = get_parts(app).salesforce.flush()

    assert [c.request.url for c in org.rsps.calls] == [TOKEN_URL, UPSERT_URL, COUNTERS_UPSERT_URL]
    totals, counters = (b["records"] for b in bodies(org))
    assert sorted(r["Key__c"] for r in totals) == sorted(keys) == sorted(org.records)
    assert all(r["attributes"]["type"] == "Presence_Time__c" for r in totals)
    # unmapped wrap_ups_completed is not sent; mapped logins with no count is sent as 0
    assert counters == [counter_record("agent00000", inbound=3, ring_only=1, logins=0)]
    assert list(org.counters) == ["agent00000|2026-03-06"]
    assert (report.written, report.pending) == (6, 6)
    status = sync_status(get_parts(app).salesforce)
    assert status["rows_pending"] == 0
    assert "daily counters   : calls_inbound_answered -> Calls_Inbound_Answered__c, calls_ring_only" in status_text(
        status
    )


def test_counter_records_go_in_calls_of_their_own_of_at_most_200(make_app, org):
    app = make_app(**COUNTER_ENV)
    parts = get_parts(app)
    add_totals(parts, agents=201, states=("ready",))  # 201 totals
    for i in range(201):
        set_counters(parts, f"agent{i:05d}", logins=1)

    report = get_parts(app).salesforce.flush()

    assert [(c.request.url, len(b["records"])) for c, b in zip(org.upsert_calls(), bodies(org))] == [
        (UPSERT_URL, 200),
        (UPSERT_URL, 1),
        (COUNTERS_UPSERT_URL, 200),
        (COUNTERS_UPSERT_URL, 1),
    ]
    assert (report.calls, report.written) == (4, 402)
    assert org.counters["agent00200|2026-03-06"]["Logins__c"] == 1


def test_unchanged_counters_make_no_call_and_a_change_resends_only_that_record(make_app, org, clock):
    app = make_app(**COUNTER_ENV)
    parts = get_parts(app)
    add_totals(parts, agents=2)
    set_counters(parts, "agent00000", calls_inbound_answered=3)
    set_counters(parts, "agent00001", calls_inbound_answered=5)
    sync = get_parts(app).salesforce
    sync.flush()
    calls = len(org.rsps.calls)

    clock.advance(60)
    assert sync.flush().pending == 0
    assert len(org.rsps.calls) == calls

    set_counters(parts, "agent00000", calls_inbound_answered=4, calls_ring_only=2)
    clock.advance(60)
    report = sync.flush()

    assert bodies(org)[-1] == {
        "allOrNone": False,
        "records": [counter_record("agent00000", inbound=4, ring_only=2, logins=0)],
    }
    assert report.written == 1
    assert org.accepted["agent00000|2026-03-06"] == 2 and org.accepted["agent00001|2026-03-06"] == 1


def test_the_counters_of_a_real_login_reach_salesforce_and_survive_a_restart(make_app, org, clock):
    app = make_app(**COUNTER_ENV)
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred"}, clock())
    parts.service.login("edred", "Softphone", "softphone")
    clock.advance(30)
    get_parts(app).salesforce.flush()
    assert org.counters["edred|2026-03-06"]["Logins__c"] == 1

    restarted = make_app(**COUNTER_ENV)  # what Salesforce holds is remembered in the store
    clock.advance(60)
    parts = get_parts(restarted)
    parts.service.heartbeat("edred")
    report = get_parts(restarted).salesforce.flush()
    assert [r["Key__c"] for r in bodies(org)[-1]["records"]] == ["edred|2026-03-06|ready"]  # only the time grew
    assert report.written == 1 and org.accepted["edred|2026-03-06"] == 1


def test_a_failed_flush_then_a_restart_still_sends_the_counters_once(make_app, org, clock):
    app = make_app(**COUNTER_ENV)
    parts = get_parts(app)
    add_totals(parts, agents=1, states=("ready",))
    set_counters(parts, "agent00000", calls_ring_only=7)
    org.fail_next = [(503, "unavailable")]
    assert get_parts(app).salesforce.flush().written == 0

    restarted = make_app(**COUNTER_ENV)
    assert sync_status(get_parts(restarted).salesforce)["rows_pending"] == 2
    clock.advance(60)
    assert get_parts(restarted).salesforce.flush().written == 2
    assert org.counters["agent00000|2026-03-06"]["Calls_Ring_Only__c"] == 7
    assert org.accepted["agent00000|2026-03-06"] == 1


def test_without_sf_counter_fields_no_counter_record_is_sent(make_app, org):
    app = make_app(**SF_ENV)
    parts = get_parts(app)
    keys = add_totals(parts, agents=1)
    set_counters(parts, "agent00000", calls_inbound_answered=3, logins=1)

    get_parts(app).salesforce.flush()

    assert sorted(r["Key__c"] for b in bodies(org) for r in b["records"]) == sorted(keys)
    assert sync_status(get_parts(app).salesforce)["rows_pending"] == 0
    with parts.store.read() as s:
        assert s.query(SalesforceCounterSync).count() == 0


@pytest.mark.parametrize(
    "mapping, expected",
    [
        ("calls_inbound=Calls_Inbound__c", "SF_COUNTER_FIELDS: unknown counter 'calls_inbound'"),
        ("logins=Logins c", "SF_COUNTER_FIELDS: 'Logins c' for logins must be a field API name"),
        ("logins", "SF_COUNTER_FIELDS: 'logins' must look like counter=Field__c"),
        ("logins=Logins__c,calls_ring_only=Logins__c", "SF_COUNTER_FIELDS: Logins__c is mapped twice"),
        ("logins=Seconds__c", "SF_COUNTER_FIELDS: a counter field is also one of the SF_FIELD_* fields"),
    ],
)
def test_a_bad_counter_mapping_is_reported_naming_the_setting_and_nothing_is_sent(make_app, org, mapping, expected):
    app = make_app(**SF_ENV, SF_COUNTER_FIELDS=mapping)
    add_totals(get_parts(app), agents=1)

    status = sync_status(get_parts(app).salesforce)
    report = get_parts(app).salesforce.flush()

    assert status["configured"] is False and expected in status["detail"]
    assert not report.configured and len(org.rsps.calls) == 0


def test_a_counter_record_rejected_for_invalid_field_is_parked_and_the_totals_are_written(make_app, org, clock):
    app = make_app(**COUNTER_ENV)
    parts = get_parts(app)
    keys = add_totals(parts, agents=1)
    set_counters(parts, "agent00000", logins=2)
    bad = "agent00000|2026-03-06"
    org.reject[bad] = ("INVALID_FIELD", "No such column 'Logins__c' on entity 'Presence_Counters__c'")
    sync = get_parts(app).salesforce

    report = sync.flush()

    assert (report.written, report.parked) == (5, 1) and sorted(org.records) == sorted(keys)
    status = sync_status(sync)
    assert (status["rows_parked"], status["rows_pending"]) == (1, 0)
    assert status["parked"][0]["key"] == bad
    assert status["parked"][0]["reason"].startswith("INVALID_FIELD: No such column 'Logins__c'")

    set_counters(parts, "agent00000", logins=3)  # parked: a change is not retried by the flush
    clock.advance(60)
    assert sync.flush().pending == 0 and len(org.upsert_calls()) == 2

    del org.reject[bad]  # the admin deployed the field; resync sends the day again
    report = sync.resync(DAY, DAY)
    assert report.written == 6 and org.counters[bad]["Logins__c"] == 3
    assert sync_status(sync)["rows_parked"] == 0
