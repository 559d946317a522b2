"""The presence change as `serve` answers it (connector/serve/fast_path.py): the plain case without Flask,
with the Flask route's very answer; every other case handed to Flask, which answers as before."""

from __future__ import annotations

import pytest
import requests

from connector.auth import accounts
from connector.serve.asgi import ConnectorAsgi
from tests.helpers.api import Api
from tests.helpers.web_server import uvicorn_server

IGNORED = (
    "date",
    "server",
    "content-length",
    "x-request-id",
)  # uvicorn's own, a different agent's name, each request's id


@pytest.fixture
def served(app):
    """The app behind `serve`'s ASGI app; yields (base URL, the fast path's answers: True taken, False handed on)."""
    asgi = ConnectorAsgi(app, threads=4)
    taken: list[bool] = []
    answer = asgi.fast.answer

    def counted(*args):
        found = answer(*args)
        taken.append(found is not None)
        return found

    asgi.fast.answer = counted
    with uvicorn_server(asgi) as base:
        yield base, taken


def setup(api: Api, *agents: str) -> None:
    for agent_id in agents:
        api.agent(agent_id)
        api.parts.service.login(agent_id, "Paired Device", "desk phone")


def put(base: str, agent_id: str, headers: dict, body, **kw) -> requests.Response:
    kw.setdefault("json", body)
    return requests.put(f"{base}/api/v1/agents/{agent_id}/presence", headers=headers, timeout=5, **kw)


def test_a_plain_change_gets_exactly_the_answer_the_flask_route_gives(api, served):
    base, taken = served
    setup(api, "ada1", "bob1")
    headers = api.token("integration")
    fast = put(base, "ada1", headers, {"state": "dnd", "source": "pbx"})
    flask = api.call("PUT", "/api/v1/agents/bob1/presence", headers, json={"state": "dnd", "source": "pbx"})
    assert taken == [True]
    assert fast.status_code == flask.status_code == 200
    assert fast.json() == {**flask.get_json(), "id": "ada1", "name": "Ada1"}
    assert fast.json()["state"]["id"] == "dnd"
    assert {k.lower(): v for k, v in fast.headers.items() if k.lower() not in IGNORED} == {
        k.lower(): v for k, v in flask.headers.items() if k.lower() not in IGNORED
    }
    # the change is the service's: recorded, live and in the store like any other
    assert api.parts.service.presence("ada1")["state"]["id"] == "dnd"
    assert api.call("GET", "/api/v1/agents/ada1/presence", headers).get_json()["state"]["id"] == "dnd"


def test_every_request_it_would_refuse_gets_the_flask_answer_and_changes_nothing(api, served):
    base, taken = served
    setup(api, "ada", "bob")
    integration = api.token("integration")
    ada = api.token("agent", agent_id="ada")
    cases = [
        ({"Authorization": "Bearer not-a-token"}, "ada", {"state": "dnd"}, 401, "Authorization"),
        (ada, "bob", {"state": "dnd"}, 403, "agent_id"),
        (ada, "ada", {"state": "dnd", "force": True}, 403, "force"),
        (integration, "ada", {"state": "dnd", "colour": "red"}, 422, "colour"),
        (integration, "ada", {"state": "dnd", "force": "yes"}, 422, "force"),
        (integration, "ada", {"state": "dnd", "source": "nowhere"}, 422, "source"),
        (integration, "ada", {"state": ""}, 422, "state"),
        (integration, "ada", {"state": "no-such-state"}, 422, "state"),
        (integration, "nobody", {"state": "dnd"}, 404, "agent_id"),
        (integration, "ada", ["dnd"], 400, "body"),
    ]
    for headers, agent_id, body, status, field in cases:
        res = put(base, agent_id, headers, body)
        assert (res.status_code, res.json()["error"]["field"]) == (status, field), (body, res.text)
    res = put(base, "ada", {**integration, "Content-Type": "application/json"}, None, data=b"{not json")
    assert res.status_code == 400 and res.json()["error"]["field"] == "body"
    assert not any(taken)  # each was handed to Flask
    assert api.parts.service.presence("ada")["state"]["id"] == "ready"
    assert api.parts.service.presence("bob")["state"]["id"] == "ready"


def test_a_request_outside_the_plain_case_is_not_taken_but_still_served(api, served):
    base, taken = served
    setup(api, "ada")
    headers = api.token("integration")
    assert put(base, "ada", headers, {"state": "dnd"}, params={"x": "1"}).status_code == 200  # a query
    assert put(base, "ada", {**headers, "Cookie": "session=x"}, {"state": "break"}).status_code == 200
    assert put(base, "ada", headers, {"state": "lunch", "source": "x" * 5000}).status_code == 422  # a long body
    assert put(base, "ada", {}, {"state": "dnd"}).status_code == 401  # no token
    assert taken == []
    assert api.parts.service.presence("ada")["state"]["id"] == "break"


def test_a_revoked_token_and_a_disabled_agent_are_refused_at_once(api, served):
    base, taken = served
    setup(api, "ada")
    headers = api.token("integration")
    assert put(base, "ada", headers, {"state": "dnd"}).status_code == 200  # its principal is cached now
    accounts.set_agent_active(api.parts.store, "ada", False, api.parts.clock())
    assert put(base, "ada", headers, {"state": "break"}).status_code == 404
    accounts.set_agent_active(api.parts.store, "ada", True, api.parts.clock())
    accounts.revoke_token(api.parts.store, accounts.list_tokens(api.parts.store)[0]["id"], api.parts.clock())
    res = put(base, "ada", headers, {"state": "break"})
    assert res.status_code == 401 and res.json()["error"]["field"] == "Authorization"
    assert taken == [True, False, False]
