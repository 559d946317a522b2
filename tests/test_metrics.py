"""GET /metrics: who may read it, what the process counted (every path `serve` answers, the fast path
included), and the gauges read from the store at scrape time."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from connector.observe import metrics
from connector.salesforce.state import note_api_usage
from connector.serve.asgi import ConnectorAsgi
from tests.helpers.adapter_doubles import Recorder, down
from tests.helpers.api import Api
from tests.helpers.web_server import uvicorn_server

METRICS_TOKEN = "m" * 40
PRESENCE_ROUTE = "/api/v1/agents/<agent_id>/presence"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels) -> float | None:
    return found.get((name, frozenset(labels.items())))


def scrape(api: Api, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else api.token("admin")
    answer = api.client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(answer.get_data(as_text=True))


@pytest.fixture
def metrics_app(make_app):
    return make_app(CONNECTOR_METRICS_TOKEN=METRICS_TOKEN)


def test_metrics_answer_the_metrics_token_and_admin_tokens_only(metrics_app):
    api = Api(metrics_app, metrics_app.test_client())
    api.agent("edred")
    for headers in ({}, api.token("integration"), api.token("supervisor"), api.token("agent", agent_id="edred")):
        refused = api.client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.get_json()["error"]["field"] == "Authorization"
        assert b"connector_" not in refused.data
    refused = api.client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
    assert refused.status_code == 401
    assert value(scrape(api, METRICS_TOKEN), "connector_build_info", version=metrics.__version__) == 1.0
    assert value(scrape(api), "connector_build_info", version=metrics.__version__) == 1.0


def test_a_short_metrics_token_stops_start_up_naming_it(make_app):
    with pytest.raises(Exception) as refused:
        make_app(CONNECTOR_METRICS_TOKEN="short")
    assert "CONNECTOR_METRICS_TOKEN" in str(refused.value)
    assert "short" not in str(refused.value)  # a secret's value is never repeated


def test_requests_on_the_fast_path_and_through_flask_are_counted_by_route(api):
    api.agent("ada2")
    api.parts.service.login("ada2", "Paired Device", "desk phone")
    headers = api.token("integration")
    before = scrape(api)
    asgi = ConnectorAsgi(api.app, threads=2)
    taken: list[bool] = []
    answer = asgi.fast.answer

    def counted(*args):
        found = answer(*args)
        taken.append(found is not None)
        return found

    asgi.fast.answer = counted
    with uvicorn_server(asgi) as base:
        fast = requests.put(
            f"{base}/api/v1/agents/ada2/presence", json={"state": "dnd", "source": "pbx"}, headers=headers, timeout=5
        )
        flask = requests.get(f"{base}/api/v1/agents/ada2/presence", headers=headers, timeout=5)
        refused = requests.put(
            f"{base}/api/v1/agents/ada2/presence", json={"state": "no-such-state"}, headers=headers, timeout=5
        )
        missing = requests.get(f"{base}/no/such/page/ada2", timeout=5)
    assert taken == [True, False]  # the PUT was answered by the fast path, the refused one handed to Flask
    assert fast.status_code == flask.status_code == 200 and missing.status_code == 404
    assert refused.status_code == 422
    after = scrape(api)

    def grew(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert grew("connector_http_requests_total", route=PRESENCE_ROUTE, method="PUT", status="200") == 1
    assert grew("connector_http_requests_total", route=PRESENCE_ROUTE, method="GET", status="200") == 1
    assert grew("connector_http_requests_total", route="(unmatched)", method="GET", status="404") == 1
    assert grew("connector_http_request_duration_seconds_count", route=PRESENCE_ROUTE, method="PUT") == 2
    assert grew("connector_presence_changes_total", source="pbx", outcome="changed") == 1
    assert grew("connector_presence_changes_total", source="api", outcome="refused") == 1  # once, not per path
    assert grew("connector_http_requests_total", route=PRESENCE_ROUTE, method="PUT", status="422") == 1
    # no label holds an agent id or a raw path
    assert not any("ada2" in v for (_, labels) in after for _, v in labels)


def test_outbox_depth_age_and_deliveries_per_adapter(make_app, clock):
    teams = Recorder("teams", failures=down(1))
    app = make_app(ADAPTERS=[teams])
    api = Api(app, app.test_client())
    api.agent("edred")
    before = scrape(api)
    api.parts.service.login("edred", "Softphone", "browser")
    clock.advance(90)
    found = scrape(api)
    assert value(found, "connector_outbox_pending", adapter="teams") == 1
    assert value(found, "connector_outbox_oldest_pending_age_seconds", adapter="teams") == pytest.approx(90)
    api.parts.dispatcher.drain()  # the remote is down: a retry later
    clock.advance(5)
    api.parts.dispatcher.drain()
    after = scrape(api)
    assert value(after, "connector_outbox_pending", adapter="teams") == 0
    assert value(after, "connector_outbox_oldest_pending_age_seconds", adapter="teams") == 0

    def grew(outcome):
        name = "connector_deliveries_total"
        return (value(after, name, adapter="teams", outcome=outcome) or 0) - (
            value(before, name, adapter="teams", outcome=outcome) or 0
        )

    assert (grew("retry"), grew("delivered")) == (1, 1)


def test_lease_holders_sign_in_trouble_and_salesforce_usage_come_from_the_store(api, clock):
    parts = api.parts
    api.agent("edred", pin="1234")
    assert parts.leases is not None and parts.leases.acquire("salesforce-flush", 60)
    for _ in range(3):
        parts.sign_in.attempt("agent:edred", "10.1.2.3", lambda: None)
    parts.sign_in.lock("user:mallory")
    parts.store.write_shared(lambda conn: note_api_usage(conn, 1200, 15000, clock()))
    found = scrape(api)
    assert value(found, "connector_job_lease_held", job="salesforce-flush", holder=parts.leases.holder) == 1
    assert value(found, "connector_sign_in_failures_last_hour", outcome="wrong") == 3
    assert value(found, "connector_locked_accounts") == 1
    assert value(found, "connector_salesforce_api_requests_used") == 1200
    assert value(found, "connector_salesforce_api_requests_limit") == 15000
    assert value(found, "connector_metrics_store_read_failed") == 0
    parts.leases.release("salesforce-flush")
    assert value(scrape(api), "connector_job_lease_held", job="salesforce-flush", holder=parts.leases.holder) == 0


def test_a_store_fault_is_counted_by_its_code(api, monkeypatch):
    before = value(scrape(api), "connector_store_errors_total", code="store_unavailable") or 0

    def down():
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(api.parts.store, "ping", down)  # the database went away under the health check
    assert api.client.get("/healthz").status_code == 503
    monkeypatch.undo()
    assert value(scrape(api), "connector_store_errors_total", code="store_unavailable") == before + 1
