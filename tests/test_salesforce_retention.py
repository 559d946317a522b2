"""SF_RETENTION_DAYS: the org's older Presence_Time__c (and counters) records deleted in batches, on the flush's
API budget, under a job lease, at most hourly; off by default.

The fake org (tests/helpers/fakes/salesforce.py) answers the SOQL query of old ids and the sObject
Collections delete at the HTTP layer. Today is 2026-03-06 (the clock fixture); 30 days kept means records
dated before 2026-02-05 go.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

from connector.parts import get_parts
from connector.salesforce.status import status_text, sync_status
from tests.helpers.fakes.salesforce import DELETE_URL, QUERY_URL, SF_ENV, TOKEN_URL, add_totals

KEEP_30 = {**SF_ENV, "SF_RETENTION_DAYS": "30"}
COUNTERS = {"SF_COUNTER_FIELDS": "logins=Logins__c"}


def seed(org, old: int, recent: int) -> None:
    """``old`` records dated from 2025-12-01 on (all before the cutoff) and ``recent`` ones from 2026-02-05 on."""
    for i in range(old):
        org.add_record(
            f"a{i}|{date(2025, 12, 1) + timedelta(days=i % 60)}|ready", str(date(2025, 12, 1) + timedelta(days=i % 60))
        )
    for i in range(recent):
        org.add_record(
            f"b{i}|{date(2026, 2, 5) + timedelta(days=i % 30)}|ready", str(date(2026, 2, 5) + timedelta(days=i % 30))
        )


def deleted_ids(call) -> list[str]:
    return parse_qs(urlsplit(call.request.url).query)["ids"][0].split(",")


def test_older_records_are_deleted_in_batches_of_200_and_the_kept_days_stay(make_app, org):
    sync = get_parts(make_app(**KEEP_30, **COUNTERS)).salesforce
    seed(org, old=450, recent=12)
    org.add_record("a|2026-01-01", "2026-01-01", "Presence_Counters__c", Logins__c=1)
    org.add_record("a|2026-03-01", "2026-03-01", "Presence_Counters__c", Logins__c=2)

    sync.tick()  # the scheduled job: a flush (nothing pending), then the retention

    queries = [parse_qs(urlsplit(c.request.url).query)["q"][0] for c in org.calls_to("GET", QUERY_URL)]
    assert queries == [
        "SELECT Id FROM Presence_Time__c WHERE Date__c < 2026-02-05 ORDER BY Date__c LIMIT 2000",
        "SELECT Id FROM Presence_Counters__c WHERE Date__c < 2026-02-05 ORDER BY Date__c LIMIT 2000",
    ]
    assert [len(deleted_ids(c)) for c in org.calls_to("DELETE", DELETE_URL)] == [200, 200, 50, 1]
    assert sorted(r["Date__c"] for r in org.records.values()) == sorted(
        str(date(2026, 2, 5) + timedelta(days=i % 30)) for i in range(12)
    )
    assert list(org.counters) == ["a|2026-03-01"]
    status = sync_status(sync)
    assert status["retention"]["records_deleted"] == 451 and status["retention"]["note"] is None
    assert status["api_calls_made"] == 6  # 2 queries + 4 deletes, counted with the flush's calls
    assert "30 days kept; last run 2026-03-06T09:00:00Z, 451 records deleted" in status_text(status)


def test_off_by_default_nothing_is_queried_or_deleted(make_app, org):
    parts = get_parts(make_app(**SF_ENV))
    sync = parts.salesforce
    add_totals(parts, agents=1, states=("ready",))
    seed(org, old=5, recent=0)

    sync.tick()
    sync.prune()

    assert not org.calls_to("GET", QUERY_URL) and not org.calls_to("DELETE", DELETE_URL)
    assert len(org.records) == 6  # the 5 old ones and the total the flush wrote
    assert "retention        : off (SF_RETENTION_DAYS not set)" in status_text(sync_status(sync))


def test_it_runs_at_most_hourly_across_instances(make_app, org, clock):
    first = get_parts(make_app(**KEEP_30)).salesforce
    second = get_parts(make_app(**KEEP_30)).salesforce  # another instance on the same store
    seed(org, old=3, recent=0)
    first.tick()
    assert len(org.calls_to("GET", QUERY_URL)) == 1

    seed(org, old=2, recent=0)  # (more old records appear)
    clock.advance(120)
    second.tick()
    first.tick()
    assert len(org.calls_to("GET", QUERY_URL)) == 1  # both flushed, neither ran the retention again

    clock.advance(3600)
    second.tick()
    assert len(org.calls_to("GET", QUERY_URL)) == 2 and org.records == {}


def test_it_stops_at_its_share_of_the_orgs_daily_api_limit_and_the_flush_goes_on(make_app, org):
    parts = get_parts(make_app(**KEEP_30, SF_RETENTION_API_PERCENT="50"))
    sync = parts.salesforce
    add_totals(parts, agents=1, states=("ready",))
    seed(org, old=5, recent=0)
    org.api_limit, org.api_used = 1000, 498  # the upsert answers 499/1000, the query 500/1000

    report = sync.tick()

    assert report.written == 1  # the flush is not held back by the retention's share
    assert len(org.calls_to("GET", QUERY_URL)) == 1 and not org.calls_to("DELETE", DELETE_URL)
    assert len(org.records) == 6
    note = sync_status(sync)["retention"]["note"]
    assert "API usage is 500/1000" in note and "SF_RETENTION_API_PERCENT" in note


def test_request_limit_exceeded_pauses_the_retention_and_the_flush_alike(make_app, org, clock):
    parts = get_parts(make_app(**KEEP_30))
    sync = parts.salesforce
    seed(org, old=5, recent=0)
    sync.tick()  # logs in, queries, deletes: all 5 gone
    assert org.records == {}
    seed(org, old=3, recent=0)
    org.fail_next = [(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])]

    clock.advance(3700)
    sync.tick()

    status = sync_status(sync)
    assert status["paused_until"] is not None and "REQUEST_LIMIT_EXCEEDED" in status["retention"]["note"]
    assert len(org.records) == 3
    calls = len(org.rsps.calls)
    add_totals(parts, agents=1, states=("ready",))
    clock.advance(120)  # a flush is due, the pause (SF_LIMIT_PAUSE_SECONDS, 1 h) holds
    assert "paused" in sync.tick().skipped and len(org.rsps.calls) == calls  # no call at all, flush included


def test_a_record_the_org_refuses_to_delete_is_reported_and_the_others_go(make_app, org):
    sync = get_parts(make_app(**KEEP_30)).salesforce
    seed(org, old=4, recent=0)
    locked = next(i for i, (_, k) in org.ids.items() if k.startswith("a2|"))
    org.reject_delete[locked] = ("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")

    report = sync.prune()

    assert (report.deleted, report.failed) == (3, 1)
    assert list(org.records) == ["a2|2025-12-03|ready"]
    assert len(org.calls_to("GET", QUERY_URL)) == 2  # asked once more, found only the refused one: done
    assert "INSUFFICIENT_ACCESS_OR_READONLY" in sync_status(sync)["retention"]["note"]


def test_retention_without_a_date_field_is_refused_naming_the_setting(make_app, org):
    status = sync_status(get_parts(make_app(**KEEP_30, SF_FIELD_DATE="-")).salesforce)
    assert status["configured"] is False and "SF_RETENTION_DAYS" in status["detail"]
    bad = sync_status(get_parts(make_app(**SF_ENV, SF_RETENTION_DAYS="a month")).salesforce)
    assert bad["configured"] is False and "SF_RETENTION_DAYS" in bad["detail"]
    assert len(org.rsps.calls) == 0


def test_the_token_is_asked_once_for_flush_and_retention(make_app, org):
    parts = get_parts(make_app(**KEEP_30))
    sync = parts.salesforce
    add_totals(parts, agents=1, states=("ready",))
    seed(org, old=1, recent=0)
    sync.tick()
    assert [c.request.url.split("?")[0] for c in org.rsps.calls] == [
        TOKEN_URL,
        org.upsert_calls()[0].request.url,
        QUERY_URL,
        DELETE_URL,
    ]
    assert json.loads(org.upsert_calls()[0].request.body)["records"][0]["Date__c"] == "2026-03-06"
