"""The Salesforce flush names the request ids of the changes behind the records it sends: per call (bounded,
with a count of the rest), per record at DEBUG, and on a parked record's warning."""

from __future__ import annotations

import io
import json

import pytest

from connector.salesforce import request_ids
from tests.helpers.api import Api
from tests.helpers.fakes.salesforce import SF_ENV

FLUSH_LOGGER = "connector.salesforce.flush"


def flush_lines(buffer: io.StringIO, level: str) -> list[dict]:
    found = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    return [x for x in found if x["logger"] == FLUSH_LOGGER and x["level"] == level]


@pytest.fixture
def sf_api(make_app):
    app = make_app(**SF_ENV)
    return Api(app, app.test_client())


def put_state(api: Api, token: dict, agent_id: str, state: str, request: str) -> None:
    answer = api.call(
        "PUT",
        f"/api/v1/agents/{agent_id}/presence",
        {**token, "X-Request-Id": request},
        json={"state": state, "source": "pbx"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["X-Request-Id"] == request


def test_a_flush_names_the_request_id_of_the_change_behind_the_record_it_sent(sf_api, org, clock, captured):
    api = sf_api
    api.agent("edred")
    api.parts.service.login("edred", "Softphone", "softphone")
    token = api.token("integration")
    put_state(api, token, "edred", "break", "abc")
    clock.advance(45)

    report = api.parts.salesforce.flush()

    key = "edred|2026-03-06|break"
    assert report.written >= 1 and org.seconds(key) == 45
    record_lines = [x for x in flush_lines(captured, "DEBUG") if x.get("record") == key]
    assert len(record_lines) == 1
    assert record_lines[0]["request_ids"] == ["abc"] and "abc" in record_lines[0]["message"]
    call_lines = flush_lines(captured, "INFO")
    assert len(call_lines) == 1 and call_lines[0]["request_ids"] == ["abc"]
    assert "changes: abc" in call_lines[0]["message"]

    # five seconds later the next change closes the break: the next flush names both changes behind the
    # break's new total, and only the new one for the ready state
    clock.advance(5)
    put_state(api, token, "edred", "ready", "def")
    clock.advance(10)
    captured.truncate(0)
    captured.seek(0)
    api.parts.salesforce.flush()
    by_record = {x["record"]: x["request_ids"] for x in flush_lines(captured, "DEBUG") if "record" in x}
    assert by_record["edred|2026-03-06|ready"] == ["def"]
    assert by_record[key] == ["abc", "def"] and org.seconds(key) == 50


def test_a_call_line_names_at_most_a_bounded_number_of_ids_and_counts_the_rest(sf_api, org, clock, captured):
    api = sf_api
    token = api.token("integration")
    agents = [api.agent(f"a{n:02d}") for n in range(request_ids.PER_LINE + 7)]
    for n, agent_id in enumerate(agents):
        api.parts.service.login(agent_id, "Softphone", "softphone")
        put_state(api, token, agent_id, "break", f"req-{n:02d}")
    clock.advance(30)

    api.parts.salesforce.flush()

    (line,) = flush_lines(captured, "INFO")
    assert line["records"] == len(agents)
    assert line["request_ids"] == [f"req-{n:02d}" for n in range(request_ids.PER_LINE)]
    assert line["request_ids_more"] == 7 and "(+7 more)" in line["message"]


def test_a_parked_record_names_the_changes_behind_it(sf_api, org, clock, captured):
    api = sf_api
    api.agent("edred")
    api.parts.service.login("edred", "Softphone", "softphone")
    put_state(api, api.token("integration"), "edred", "break", "pbx-call-77")
    clock.advance(20)
    org.reject["edred|2026-03-06|break"] = ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "no breaks on Fridays")

    report = api.parts.salesforce.flush()

    assert report.parked == 1
    (warning,) = [x for x in flush_lines(captured, "WARNING") if x.get("record") == "edred|2026-03-06|break"]
    assert warning["request_ids"] == ["pbx-call-77"] and "no breaks on Fridays" in warning["message"]
