"""Odd but well-formed input gets a 4xx naming the field, never a 500."""

from __future__ import annotations

import pytest

from connector.auth import accounts
from tests.helpers.signin import PASSWORD, sign_in

EDGE_DATES = ["0001-01-01", "9999-12-31"]


@pytest.fixture
def sup(api):
    api.agent("edred")
    return api.token("supervisor")


@pytest.mark.parametrize("day", EDGE_DATES)
@pytest.mark.parametrize(
    "path, param",
    [
        ("/api/v1/agents/edred/stats", "date"),
        ("/api/v1/state-mix", "date"),
        ("/api/v1/counters", "date"),
        ("/api/v1/session-time", "from"),
        ("/api/v1/session-time", "to"),
        ("/api/v1/logon-events", "from"),
        ("/api/v1/logon-events", "to"),
        ("/api/v1/time-tracking", "from"),
        ("/api/v1/time-tracking", "to"),
    ],
)
def test_dates_at_the_edges_of_the_calendar_are_refused_naming_the_parameter(api, sup, path, param, day):
    res = api.call("GET", f"{path}?{param}={day}", sup)
    assert res.status_code == 422, res.get_data(as_text=True)
    assert res.get_json()["error"]["field"] == param


def test_the_supported_range_still_answers(api, sup):
    assert api.call("GET", "/api/v1/session-time?from=1900-01-01&to=1900-12-31", sup).status_code == 200
    assert api.call("GET", "/api/v1/state-mix?date=2999-12-31", sup).status_code == 200


DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT])
def test_json_nested_1000_deep_is_a_400_on_the_api(api, sup, payload):
    res = api.client.put("/api/v1/agents/edred/presence", data=payload, content_type="application/json", headers=sup)
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "body"


@pytest.mark.parametrize(
    "path", ["/admin/api/config", "/admin/api/users", "/admin/api/config/validate", "/admin/api/adapters/webhook"]
)
def test_json_nested_1000_deep_is_a_400_on_admin_endpoints(client, parts, path):
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    token = sign_in(client, "ada")
    res = client.post(path, data=DEEP_OBJECT, content_type="application/json", headers={"X-CSRF-Token": token})
    assert res.status_code == 400, res.get_data(as_text=True)
    assert res.get_json()["error"]["field"] == "body"
