"""The smaller points of issue 25 (finding 8): ';' cells neutralised in CSV, two Content-Type headers
refused by `serve`'s fast path as Flask refuses them, CORS answering the canonical origin, and an
anonymous /healthz that does not write to the store on every call."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from connector.parts import get_parts
from connector.reports.exports import to_csv
from connector.serve.asgi import ConnectorAsgi
from connector.store.models import HealthProbe
from tests.helpers.web_server import uvicorn_server


def test_csv_cells_starting_with_a_semicolon_tab_or_return_are_neutralised():
    text = to_csv([{"device": ";=cmd|' /C calc'!A0"}, {"device": "\t=1+1"}, {"device": "desk;phone"}], ["device"])
    lines = text.splitlines()
    assert lines[1].startswith("\"';") or lines[1].startswith("';")
    assert "'\t=1+1" in text
    assert "desk;phone" in text and "'desk" not in text


def test_the_fast_path_hands_a_request_with_two_content_types_to_flask(api):
    api.agent("edred")
    api.parts.service.login("edred", "Paired Device", "desk phone")
    token = api.token("integration")["Authorization"]
    with uvicorn_server(ConnectorAsgi(api.app, threads=2)) as base:
        url = urlsplit(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        body = b'{"state": "dnd"}'
        conn.putrequest("PUT", "/api/v1/agents/edred/presence")
        for name, value in (
            ("Authorization", token),
            ("Content-Type", "application/json"),
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
        ):
            conn.putheader(name, value)
        conn.endheaders(body)
        reply = conn.getresponse()
        assert reply.status == 415
        conn.close()
    assert api.parts.service.presence("edred")["state"]["id"] != "dnd"


def test_cors_answers_the_canonical_origin(make_app):
    app = make_app(CONNECTOR_CORS_ORIGINS="https://*.lightning.force.com")
    client = app.test_client()
    for sent in (
        "https://acme.lightning.force.com.",
        "https://acme.lightning.force.com:443",
        "HTTPS://ACME.lightning.force.com",
    ):
        reply = client.options("/api/v1/events", headers={"Origin": sent, "Access-Control-Request-Method": "GET"})
        assert reply.headers["Access-Control-Allow-Origin"] == "https://acme.lightning.force.com", sent


def test_anonymous_healthz_does_not_write_to_the_store_on_every_call(app, client, clock):
    assert client.get("/healthz").status_code == 200
    with get_parts(app).store.read() as s:
        first = s.get(HealthProbe, 1).written_at
    clock.advance(30)
    for _ in range(20):
        assert client.get("/healthz").status_code == 200
    with get_parts(app).store.read() as s:
        assert s.get(HealthProbe, 1).written_at == first


def test_report_ranges_answer_as_the_schema_documents(api):
    headers = api.token("supervisor")
    old = api.call("GET", "/api/v1/session-time?from=2000-01-01", headers)
    assert old.status_code == 200  # a bare old 'from': a year from it
    assert (old.get_json()["from"], old.get_json()["to"]) == ("2000-01-01", "2000-12-31")
    assert api.call("GET", "/api/v1/session-time?to=", headers).status_code == 200
    spec = api.client.get("/api/v1/openapi.json").get_json()
    params = spec["paths"]["/api/v1/session-time"]["get"]["parameters"]
    to = next(p for p in params if p["name"] == "to")
    assert {"maxLength": 0} in to["schema"]["anyOf"]  # the empty value is documented as the default
