"""The OpenAPI document says what the API really does."""

from __future__ import annotations

import pytest

from connector.api.openapi import spec


@pytest.fixture(scope="module")
def doc():
    return spec()


def _ops(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_every_operation_reading_a_body_documents_400(doc):
    for path, method, op in _ops(doc):
        if "requestBody" in op:
            assert "400" in op["responses"] and "415" in op["responses"], (method, path)


def test_required_text_fields_may_not_be_empty(doc):
    body = doc["paths"]["/api/v1/agents/{agent_id}/presence"]["put"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body["properties"]["state"]["minLength"] == 1
    pbx = doc["paths"]["/api/v1/pbx/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert pbx["properties"]["extension"]["minLength"] == 1 and pbx["properties"]["pin"]["minLength"] == 1


def test_the_366_day_range_limit_is_documented(doc):
    for path in ("/api/v1/time-tracking", "/api/v1/logon-events", "/api/v1/session-time"):
        assert "366 days" in doc["paths"][path]["get"]["description"], path


def test_health_endpoints_need_no_authentication(doc, client):
    for path in ("/healthz", "/healthz/live", "/healthz/ready"):
        assert doc["paths"][path]["get"]["security"] == []
        assert client.get(path).status_code == 200


def test_pin_checks_document_429_and_every_operation_503(doc):
    assert "429" in doc["paths"]["/api/v1/pbx/login"]["post"]["responses"]
    for path, method, op in _ops(doc):
        if path.startswith("/api/v1/") and path not in ("/api/v1/openapi.json", "/api/v1/events"):
            assert "503" in op["responses"], (method, path)


def test_405_names_the_allowed_methods(api):
    api.agent("edred")
    res = api.call("DELETE", "/api/v1/agents/edred/presence", api.token("admin"))
    assert res.status_code == 405
    assert set(res.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PUT"}
    assert res.get_json()["error"]["code"] == "method_not_allowed"
