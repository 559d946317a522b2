"""Log lines: JSON or text, the request id from X-Request-Id (checked) or made, returned in the answer and
carried into the delivery of the change; an access line per request; never a token, PIN or cookie."""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests

from connector.observe import logs
from connector.serve.asgi import ConnectorAsgi
from tests.helpers.adapter_doubles import Recorder, down
from tests.helpers.api import Api
from tests.helpers.cluster import Cluster, Receiver
from tests.helpers.polling import wait_until
from tests.helpers.web_server import uvicorn_server


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_request_id_is_returned_logged_and_carried_into_the_delivery_of_its_change(make_app, captured):
    teams = Recorder("teams", failures=down(1, message="Graph answered 503"))
    app = make_app(ADAPTERS=[teams])
    api = Api(app, app.test_client())
    api.agent("edred")
    api.parts.service.login("edred", "Softphone", "browser")
    token = api.token("integration")
    with uvicorn_server(ConnectorAsgi(app, threads=2)) as base:
        answer = requests.put(
            f"{base}/api/v1/agents/edred/presence",
            json={"state": "dnd", "source": "pbx"},
            headers={**token, "X-Request-Id": "pbx-7781.call:42"},
            timeout=5,
        )
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == "pbx-7781.call:42"
    api.parts.dispatcher.drain()  # the change's row (the login's gave way to it) fails: a retry later
    found = lines(captured)
    for line in found:
        assert {"time", "level", "logger", "instance", "request_id", "message"} <= set(line), line
        assert line["instance"] == "test-instance"
    access = [x for x in found if x["logger"] == "connector.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "pbx-7781.call:42"
    assert (access[0]["method"], access[0]["path"], access[0]["status"]) == (
        "PUT",
        "/api/v1/agents/edred/presence",
        200,
    )
    assert access[0]["duration_ms"] > 0
    delivery = [x for x in found if x["logger"] == "connector.integrations.dispatch" and "teams" in x["message"]]
    assert [x["request_id"] for x in delivery if "Graph answered 503" in x["message"]] == ["pbx-7781.call:42"]


@pytest.mark.parametrize("sent", ["x" * 65, "two words", "line\\nbreak", "<script>", ""])
def test_an_unsafe_or_missing_request_id_is_replaced_by_a_new_one(api, sent):
    headers = {"X-Request-Id": sent} if sent else {}
    answer = api.client.get("/healthz/live", headers=headers)
    made = answer.headers["X-Request-Id"]
    assert made != sent and len(made) == 32 and made.isalnum()
    assert api.client.get("/healthz/live").headers["X-Request-Id"] != made  # one per request


def test_text_lines_carry_the_request_id_too():
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure("text", "INFO", "i1", stream=buffer)
        with logs.request_id("abc-1"):
            logging.getLogger("connector.test").info("hello")
        logging.getLogger("connector.test").debug("not at INFO")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert buffer.getvalue().rstrip().endswith("INFO connector.test [abc-1]: hello")
    assert "not at INFO" not in buffer.getvalue()


def test_token_like_query_values_are_masked():
    assert logs.safe_query(b"stream_token=pcs1.abc&only=presence&access_token=x&code=123") == (
        "stream_token=***&only=presence&access_token=***&code=***"
    )


@pytest.mark.cluster
@pytest.mark.slow
def test_serve_writes_json_lines_and_no_secret_reaches_the_log(tmp_path):
    """`serve` with CONNECTOR_LOG_FORMAT=json: every line is JSON, each request has its access line, and the
    token, the PIN, a stream token and a cookie sent in the test appear nowhere in the log."""
    receiver = Receiver()
    cluster = Cluster(
        f"sqlite:///{tmp_path / 'presence.db'}",
        tmp_path,
        receiver.url,
        extra_env={"CONNECTOR_LOG_FORMAT": "json", "CONNECTOR_LOG_LEVEL": "DEBUG"},
    )
    pin, wrong_pin = "482913", "771904"
    stream_token, cookie = "pcs1.leakcheck-stream-token-value", "leakcheck-cookie-value"
    try:
        cluster.cli("init-db")
        (tmp_path / "agents.csv").write_text(f"id,name,extension,pin\nedred,Edred,3000,{pin}\n")
        cluster.cli("agents", "import", str(tmp_path / "agents.csv"))
        token = cluster.cli("tokens", "create", "--role", "integration", "--name", "pbx").strip().splitlines()[-1]
        (base,) = cluster.start(1, threads=4)
        bearer = {"Authorization": f"Bearer {token}"}
        ok = requests.post(
            f"{base}/api/v1/pbx/login", json={"extension": "3000", "pin": pin}, headers=bearer, timeout=5
        )
        assert ok.status_code == 200, ok.text
        bad = requests.post(
            f"{base}/api/v1/pbx/login", json={"extension": "3000", "pin": wrong_pin}, headers=bearer, timeout=5
        )
        assert bad.status_code == 403
        change = requests.put(
            f"{base}/api/v1/agents/edred/presence", json={"state": "dnd"}, headers={**bearer, "X-Request-Id": "r-1"}
        )
        assert change.status_code == 200 and change.headers["X-Request-Id"] == "r-1"
        refused = requests.get(f"{base}/api/v1/events?stream_token={stream_token}", timeout=5)
        assert refused.status_code == 401
        requests.get(f"{base}/softphone", headers={"Cookie": f"session={cookie}"}, timeout=5)
        wait_until(lambda: any(p["state"] == "dnd" for p in receiver.snapshot()), 10, "the webhook delivery")
        wait_until(lambda: '"r-1"' in cluster.log(0) and "delivered row" in cluster.log(0), 10, "the delivery line")
    finally:
        cluster.stop()
        receiver.stop()
    text = cluster.log(0)
    found = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert found and all(set(x) >= {"time", "level", "logger", "request_id", "message"} for x in found)
    access = [x for x in found if x["logger"] == "connector.access"]
    assert {(x["method"], x["path"], x["status"]) for x in access} >= {
        ("POST", "/api/v1/pbx/login", 200),
        ("POST", "/api/v1/pbx/login", 403),
        ("PUT", "/api/v1/agents/edred/presence", 200),
        ("GET", "/api/v1/events", 401),
    }
    assert [x["query"] for x in access if x["path"] == "/api/v1/events"] == ["stream_token=***"]
    assert any(x["request_id"] == "r-1" and "delivered row" in x["message"] for x in found)  # the dispatcher's line
    for secret in (token, pin, wrong_pin, stream_token, cookie):
        assert secret not in text
