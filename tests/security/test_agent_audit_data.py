"""Agents cannot write misleading audit (logon sources) or KPI (calls) data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.parts import get_parts
from connector.presence.engine import LogonSource
from connector.store.models import LogonEventRow, StateInterval
from tests.helpers.api import Api

SYSTEM_ONLY = ["Supervisor", "Scheduled Log Off", "Inactivity Timeout", "Softphone Connection Lost", "Duplicate Login"]


@pytest.mark.parametrize("source", SYSTEM_ONLY)
def test_an_agent_cannot_log_in_with_a_system_only_source(api, parts, source):
    api.agent("edred")
    res = api.call("POST", "/api/v1/agents/edred/login", api.token("agent", "edred"), {"logon_source": source})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "logon_source"
    with parts.store.read() as s:
        assert s.execute(select(LogonEventRow)).first() is None


def test_an_agent_may_still_log_in_with_its_own_sources(api):
    api.agent("edred")
    res = api.call("POST", "/api/v1/agents/edred/login", api.token("agent", "edred"), {"logon_source": "CRM"})
    assert res.status_code == 200 and res.get_json()["logged_in"]
    assert set(SYSTEM_ONLY) == set(LogonSource.FORCED)


def test_an_agent_cannot_post_its_own_calls(api, parts):
    api.agent("edred")
    agent = api.token("agent", "edred")
    api.call("POST", "/api/v1/agents/edred/login", agent, {})
    res = api.call(
        "POST", "/api/v1/agents/edred/calls", agent, {"call_id": "c1", "event": "started", "direction": "inbound"}
    )
    assert res.status_code == 403
    assert parts.service.presence("edred")["on_call"] is False
    pbx = api.call(
        "POST",
        "/api/v1/agents/edred/calls",
        api.token("integration"),
        {"call_id": "c1", "event": "started", "direction": "inbound"},
    )
    assert pbx.status_code == 200


def test_with_the_softphone_as_call_source_agent_calls_are_recorded_as_softphone(make_app):
    app = make_app(CONNECTOR_AGENT_CALLS="on")
    api = Api(app, app.test_client())
    api.agent("edred")
    agent = api.token("agent", "edred")
    api.call("POST", "/api/v1/agents/edred/login", agent, {})
    res = api.call(
        "POST", "/api/v1/agents/edred/calls", agent, {"call_id": "c1", "event": "started", "direction": "inbound"}
    )
    assert res.status_code == 200 and res.get_json()["on_call"] is True
    with get_parts(app).store.read() as s:
        last = s.execute(select(StateInterval).order_by(StateInterval.id.desc())).scalars().first()
    assert last.status == 6 and last.source == "softphone"
