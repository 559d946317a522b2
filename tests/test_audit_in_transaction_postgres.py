"""On PostgreSQL too an audited change and its audit row commit together: a supervisor's forced state is
written in the change's pipelined piece (Store.write_shared) with its row, or not at all."""

from __future__ import annotations

import pytest

from connector.audit import trail
from tests.helpers.api import Api
from tests.helpers.signin import signed_in_caller


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()


def break_the_audit_trail(parts) -> None:
    with parts.store.write_connection() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION audit_broken() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit trail disk gone'; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_broken()"
        )


def test_a_forced_state_and_its_row_commit_together_or_not_at_all(people, app, api: Api):
    sue = signed_in_caller(app, "sue")
    agent = api.token("agent", "edred")
    assert api.call("POST", "/api/v1/agents/edred/login", agent).status_code == 200
    assert api.call("PUT", "/api/v1/agents/edred/presence", agent, json={"state": "ready"}).status_code == 200

    assert sue("PUT", "/api/v1/agents/edred/presence", {"state": "break"}).status_code == 200
    [row] = trail.every(people.store, trail.Filters(action="presence.force"))
    assert (row["actor"], row["before"], row["after"]["state"]) == ("sue", {"state": "ready"}, "break")

    break_the_audit_trail(people)
    res = sue("PUT", "/api/v1/agents/edred/presence", {"state": "lunch"})
    assert res.status_code == 503 and res.get_json()["error"]["code"] == "audit_unavailable"
    assert people.service.presence("edred")["state"]["id"] == "break"
    # the agent's own changes (not audited) still go through
    assert api.call("PUT", "/api/v1/agents/edred/presence", agent, json={"state": "ready"}).status_code == 200
