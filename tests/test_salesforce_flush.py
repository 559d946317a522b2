"""The flush of time per state into Presence_Time__c: batching, retries, parking, restarts."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from connector.auth import accounts
from connector.parts import get_parts
from connector.salesforce.status import sync_status
from connector.store.models import DailyTotal
from tests.helpers.fakes.salesforce import CLIENT_SECRET, SF_ENV, TOKEN_URL, UPSERT_URL, add_totals


@pytest.fixture
def sf_app(make_app):
    return make_app(**SF_ENV)


def totals(parts) -> dict[str, DailyTotal]:
    with parts.store.read() as s:
        return {f"{t.agent_id}|{t.day.isoformat()}|{t.state_id}": t for t in s.query(DailyTotal).all()}


def test_450_changed_totals_go_in_three_calls_of_at_most_200(sf_app, org):
    parts = get_parts(sf_app)
    keys = add_totals(parts, agents=90)  # 90 agents x 5 states = 450 totals, none in Salesforce yet

    report = get_parts(sf_app).salesforce.flush()

    assert [c.request.url for c in org.rsps.calls] == [TOKEN_URL, UPSERT_URL, UPSERT_URL, UPSERT_URL]
    bodies = [json.loads(c.request.body) for c in org.upsert_calls()]
    assert [len(b["records"]) for b in bodies] == [200, 200, 50]
    assert all(b["allOrNone"] is False for b in bodies)
    assert all(c.request.headers["Authorization"] == "Bearer 00Dxx!token-1" for c in org.upsert_calls())
    first = next(r for r in bodies[0]["records"] if r["Key__c"] == "agent00000|2026-03-06|ready")
    assert first == {
        "attributes": {"type": "Presence_Time__c"},
        "Key__c": "agent00000|2026-03-06|ready",
        "Agent__c": "agent00000",
        "Date__c": "2026-03-06",
        "Presence_State__c": "Ready for Calls",
        "Presence_Status__c": 1,
        "Reason_Code__c": "",
        "Seconds__c": 600,
    }
    assert sorted(org.records) == sorted(keys)
    assert (report.written, report.parked, report.calls) == (450, 0, 3)
    assert {t.synced_seconds for t in totals(parts).values()} == {600, 601, 602, 603, 604}


def test_nothing_changed_means_no_call_at_all(sf_app, org, clock):
    parts = get_parts(sf_app)
    add_totals(parts, agents=3)
    sync = get_parts(sf_app).salesforce
    sync.flush()
    calls_after_first = len(org.rsps.calls)

    clock.advance(60)
    report = sync.flush()

    assert len(org.rsps.calls) == calls_after_first  # not even a token request
    assert (report.pending, report.calls) == (0, 0)


def test_an_empty_store_never_logs_in(sf_app, org):
    get_parts(sf_app).salesforce.flush()
    assert len(org.rsps.calls) == 0


def test_expired_session_logs_in_once_more_and_loses_nothing(sf_app, org, clock):
    parts = get_parts(sf_app)
    keys = add_totals(parts, agents=2)
    sync = get_parts(sf_app).salesforce
    sync.flush()
    org.expire_sessions()  # the token was revoked or timed out in Salesforce
    with parts.store.write() as s:
        for t in s.query(DailyTotal).all():
            t.seconds += 100

    clock.advance(60)
    report = sync.flush()

    urls = [c.request.url for c in org.rsps.calls]
    assert urls == [TOKEN_URL, UPSERT_URL, UPSERT_URL, TOKEN_URL, UPSERT_URL]  # 401, one re-login, retry
    assert org.rsps.calls[2].response.status_code == 401
    assert report.written == len(keys) and report.error == ""
    assert org.seconds(keys[0]) == 700
    assert all(t.synced_seconds == round(t.seconds) for t in totals(parts).values())


def test_503_for_several_runs_then_success_delivers_every_total_once_with_its_value(sf_app, org, clock):
    parts = get_parts(sf_app)
    keys = add_totals(parts, agents=50)  # 250 totals: two calls per successful flush
    sync = get_parts(sf_app).salesforce
    org.fail_next = [(503, "<html>Service Unavailable</html>")] * 3
    waits = []
    for _ in range(3):
        report = sync.flush()
        assert report.written == 0 and "503" in report.error
        with parts.store.read() as s:
            from connector.salesforce.state import sync_state

            st = sync_state(s)
            waits.append((st.next_attempt_at - clock()).total_seconds())
        before = len(org.rsps.calls)
        assert "waiting" in sync.flush().skipped  # the backoff holds: no call before the next attempt
        assert len(org.rsps.calls) == before
        clock.advance(seconds=waits[-1])

    assert waits == [60, 120, 240]  # exponential backoff on the 60 s tracking interval
    report = sync.flush()

    assert report.written == 250 and report.error == ""
    assert all(org.accepted[k] == 1 for k in keys) and len(org.accepted) == 250
    assert org.seconds(keys[0]) == 600 and org.seconds(keys[4]) == 604
    status = sync_status(sync)
    assert status["message"] == "ok" and status["rows_pending"] == 0 and status["consecutive_failures"] == 0


def test_one_bad_record_among_200_is_parked_and_the_other_199_are_written(sf_app, org, clock):
    parts = get_parts(sf_app)
    keys = add_totals(parts, agents=40)
    bad = keys[17]
    org.reject[bad] = ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")

    report = get_parts(sf_app).salesforce.flush()

    assert (report.written, report.parked, len(org.upsert_calls())) == (199, 1, 1)
    assert bad not in org.records and len(org.records) == 199
    row = totals(parts)[bad]
    assert row.synced_seconds is None
    assert row.parked_reason == "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id (User__c)"
    status = sync_status(get_parts(sf_app).salesforce)
    assert status["rows_parked"] == 1 and status["rows_pending"] == 0
    assert status["parked"][0]["key"] == bad and "INVALID_CROSS_REFERENCE_KEY" in status["parked"][0]["reason"]

    with parts.store.write() as s:  # the parked total keeps growing: still not retried by the flush
        s.query(DailyTotal).filter(
            DailyTotal.agent_id == "agent00003", DailyTotal.state_id == "break"
        ).one().seconds += 50
    clock.advance(60)
    get_parts(sf_app).salesforce.flush()
    assert len(org.upsert_calls()) == 1


def test_a_restart_between_a_failed_flush_and_the_next_still_sends_the_totals(make_app, org, clock):
    app = make_app(**SF_ENV)
    keys = add_totals(get_parts(app), agents=4)
    org.fail_next = [(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}])]
    assert get_parts(app).salesforce.flush().written == 0

    restarted = make_app(**SF_ENV)  # same SQLite file, new process state (no token, no memory)
    status = sync_status(get_parts(restarted).salesforce)
    assert status["rows_pending"] == 20 and status["consecutive_failures"] == 1
    assert "UNKNOWN_EXCEPTION" in status["last_error"]
    clock.advance(60)
    report = get_parts(restarted).salesforce.flush()

    assert report.written == 20
    assert sorted(org.records) == sorted(keys)
    assert org.tokens_issued == 2  # the restarted process logged in itself


def test_totals_of_an_agent_mid_state_include_the_open_interval(sf_app, org, clock, api):
    parts = get_parts(sf_app)
    api.agent("edred")
    parts.service.login("edred", "Softphone", "softphone")
    parts.service.set_state("edred", "break")
    clock.advance(45)

    get_parts(sf_app).salesforce.flush()

    key = "edred|2026-03-06|break"
    assert org.seconds(key) == 45
    assert org.records[key]["Presence_State__c"] == "Break" and org.records[key]["Presence_Status__c"] == 3
    assert totals(parts)[key].synced_seconds == 45  # the open interval's row now remembers what Salesforce holds

    clock.advance(30)
    parts.service.heartbeat("edred")
    get_parts(sf_app).salesforce.flush()
    assert org.seconds(key) == 75 and org.accepted[key] == 2 and len(org.records) == len(set(org.records))

    parts.service.set_state("edred", "ready")  # closing the interval adds 0 s more: nothing to send for break
    clock.advance(10)
    get_parts(sf_app).salesforce.flush()
    assert org.accepted[key] == 2 and org.seconds("edred|2026-03-06|ready") == 10


def test_request_limit_exceeded_stops_all_calls_until_the_next_window(sf_app, org, clock):
    parts = get_parts(sf_app)
    add_totals(parts, agents=2)
    sync = get_parts(sf_app).salesforce
    org.fail_next = [(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])]
    report = sync.flush()
    assert "REQUEST_LIMIT_EXCEEDED" in report.error
    calls = len(org.rsps.calls)

    clock.advance(600)
    assert "paused" in sync.flush(force=True).skipped  # not even "sync now" calls while paused
    assert len(org.rsps.calls) == calls
    status = sync_status(sync)
    assert status["message"].startswith("API request limit reached (REQUEST_LIMIT_EXCEEDED)")
    assert status["next_attempt_at"] == "2026-03-06T10:00:00Z"

    clock.advance(3000)  # one hour after the refusal
    assert sync.flush().written == 10


def test_a_locked_row_is_retried_on_a_later_run_not_parked(sf_app, org, clock):
    parts = get_parts(sf_app)
    keys = add_totals(parts, agents=1)
    org.reject[keys[0]] = ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
    report = get_parts(sf_app).salesforce.flush()
    assert (report.written, report.parked, report.retry_later) == (4, 0, 1)
    assert totals(parts)[keys[0]].parked_reason is None

    del org.reject[keys[0]]
    clock.advance(60)
    assert get_parts(sf_app).salesforce.flush().written == 1
    assert org.accepted[keys[0]] == 1


def test_api_usage_from_sforce_limit_info_is_kept(sf_app, org):
    add_totals(get_parts(sf_app), agents=1)
    get_parts(sf_app).salesforce.flush()
    usage = sync_status(get_parts(sf_app).salesforce)["api_usage"]
    assert (usage["used"], usage["limit"]) == (1001, 100000)


def test_user_lookup_is_filled_from_the_agents_salesforce_user_id(sf_app, org, clock):
    parts = get_parts(sf_app)
    add_totals(parts, agents=1, states=("ready",))
    accounts.add_agent(
        parts.store, {"id": "agent00000", "salesforce_user_id": "005000000000001AAA"}, clock(), update=True
    )
    get_parts(sf_app).salesforce.flush()
    assert org.records["agent00000|2026-03-06|ready"]["User__c"] == "005000000000001AAA"


def test_the_flush_follows_the_tracking_interval_of_the_active_config(sf_app, org, clock):
    import dataclasses

    from connector.presence.config import load_config

    parts = get_parts(sf_app)
    add_totals(parts, agents=1, states=("ready",))
    sync = get_parts(sf_app).salesforce

    def bump():
        with parts.store.write() as s:
            s.query(DailyTotal).one().seconds += 5

    assert sync.tick() is not None  # the first tick flushes
    bump()
    clock.advance(30)
    assert sync.tick() is None  # 30 s < 60 s
    clock.advance(30)
    assert sync.tick().written == 1
    config = load_config("default")
    parts.configs.apply(
        dataclasses.replace(config, options=dataclasses.replace(config.options, tracking_interval_seconds=15)),
        created_by="test",
        origin="test",
    )
    bump()
    clock.advance(15)
    assert sync.tick().written == 1  # the new interval applies without a restart


def test_a_refused_login_is_reported_without_the_secret(sf_app, caplog):
    add_totals(get_parts(sf_app), agents=1)
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            TOKEN_URL,
            status=400,
            json={"error": "invalid_client", "error_description": "invalid client credentials"},
        )
        report = get_parts(sf_app).salesforce.flush()
    status = sync_status(get_parts(sf_app).salesforce)
    assert "invalid_client" in report.error and "invalid_client" in status["last_error"]
    everything = json.dumps(status) + report.error + caplog.text
    assert CLIENT_SECRET not in everything
    assert status["connection"]["client_secret_set"] is True


def test_timeouts_and_dropped_connections_are_retried_and_nothing_is_dropped(sf_app, org, clock):
    parts = get_parts(sf_app)
    keys = add_totals(parts, agents=2)
    sync = get_parts(sf_app).salesforce
    org.fail_next = [
        (0, requests.exceptions.ReadTimeout("read timed out")),
        (0, requests.exceptions.ConnectionError("connection reset")),
    ]
    first = sync.flush()
    clock.advance(60)
    second = sync.flush()
    clock.advance(120)
    third = sync.flush()
    assert "did not answer within 30 s" in first.error and "ConnectionError" in second.error
    assert third.written == 10 and all(org.accepted[k] == 1 for k in keys)


def test_an_open_interval_across_midnight_is_sent_for_both_days(make_app, org, clock):
    clock.advance(hours=14, minutes=59, seconds=30)  # 23:59:30 UTC
    app = make_app(**SF_ENV)
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred"}, clock())
    parts.service.login("edred", "Softphone", "softphone")
    parts.service.set_state("edred", "lunch")
    clock.advance(60)
    get_parts(app).salesforce.flush()
    assert org.seconds("edred|2026-03-06|lunch") == 30 and org.seconds("edred|2026-03-07|lunch") == 30


def test_the_access_token_is_never_logged(sf_app, org, clock, caplog):
    caplog.set_level("DEBUG")
    add_totals(get_parts(sf_app), agents=1)
    org.fail_next = [(503, "unavailable")]
    get_parts(sf_app).salesforce.flush()
    assert "token-1" not in caplog.text and CLIENT_SECRET not in caplog.text
