"""An extension belongs to one active agent (PBX short-code login and logout find the
agent by it): adding, importing, editing and re-enabling refuse a clash naming the field (and the line),
and the store itself refuses one (a partial unique index, also on a store made by an older version)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from connector.auth import accounts
from connector.errors import Conflict
from connector.parts import get_parts
from connector.store import Store, schema
from connector.store.models import Agent
from tests.helpers.signin import PASSWORD, sign_in


def test_adding_a_second_active_agent_with_the_same_extension_is_refused(parts, clock):
    accounts.add_agent(parts.store, {"id": "edred", "extension": "3000"}, clock())
    with pytest.raises(Conflict) as exc:
        accounts.add_agent(parts.store, {"id": "amira", "extension": "3000"}, clock())
    assert exc.value.field == "extension" and "'edred'" in exc.value.message
    assert [a["id"] for a in accounts.list_agents(parts.store)] == ["edred"]
    accounts.add_agent(parts.store, {"id": "amira", "extension": ""}, clock())  # no extension: fine, twice
    accounts.add_agent(parts.store, {"id": "bo", "extension": ""}, clock())
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000"}, clock(), update=True)


def test_a_disabled_agents_extension_can_be_reused_but_not_when_re_enabled(parts, clock):
    accounts.add_agent(parts.store, {"id": "edred", "extension": "3000"}, clock())
    accounts.set_agent_active(parts.store, "edred", False)
    accounts.add_agent(parts.store, {"id": "amira", "extension": "3000"}, clock())
    with pytest.raises(Conflict) as exc:
        accounts.set_agent_active(parts.store, "edred", True)
    assert exc.value.field == "extension"
    assert accounts.agent_for_extension(parts.store, "3000") == "amira"


def test_import_names_the_line_of_a_clash_and_imports_nothing(parts, clock):
    accounts.add_agent(parts.store, {"id": "edred", "extension": "3000"}, clock())
    with pytest.raises(Conflict) as exc:
        accounts.import_agents(parts.store, "id,extension\nann,3001\nbo,3001\n", clock())
    assert exc.value.field == "extension" and exc.value.message.startswith("line 3:") and "line 2" in exc.value.message
    with pytest.raises(Conflict) as exc:
        accounts.import_agents(parts.store, "id,extension\nann,3001\nbo,3000\n", clock())
    assert exc.value.message.startswith("line 3:") and "'edred'" in exc.value.message
    assert [a["id"] for a in accounts.list_agents(parts.store)] == ["edred"]
    assert accounts.import_agents(parts.store, "id,extension\nedred,3000\nann,3001\n", clock()) == (1, 1)


def test_the_admin_page_add_and_edit_answer_409_naming_the_extension(make_app, clock):
    app = make_app()
    parts = get_parts(app)
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", clock())
    accounts.add_agent(parts.store, {"id": "edred", "extension": "3000"}, clock())
    accounts.add_agent(parts.store, {"id": "amira", "extension": "3001"}, clock())
    client = app.test_client()
    headers = {"X-CSRF-Token": sign_in(client, "ada")}
    res = client.post("/admin/api/agents", json={"id": "bo", "extension": "3000"}, headers=headers)
    assert res.status_code == 409 and res.get_json()["error"]["field"] == "extension"
    res = client.patch("/admin/api/agents/amira", json={"extension": "3000"}, headers=headers)
    assert res.status_code == 409 and res.get_json()["error"]["field"] == "extension"
    res = client.patch("/admin/api/agents/amira", json={"extension": "3002", "team": "Sales"}, headers=headers)
    assert res.status_code == 200
    amira = next(a for a in accounts.list_agents(parts.store) if a["id"] == "amira")
    assert (amira["extension"], amira["team"]) == ("3002", "Sales")


def test_the_store_refuses_a_clash_itself(parts, clock):
    accounts.add_agent(parts.store, {"id": "edred", "extension": "3000"}, clock())
    with pytest.raises(IntegrityError):
        with parts.store.write() as s:
            s.add(Agent(id="amira", name="Amira", extension="3000", active=True, created_at=clock()))


def test_an_older_store_gets_the_new_columns_and_the_index(database_url):
    """A store made before extensions were unique: the columns and index are added at start-up; its rows stay."""
    url = database_url
    old = create_engine(url)
    with old.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE agents (id VARCHAR(64) PRIMARY KEY, name VARCHAR(200), team VARCHAR(100), "
            "extension VARCHAR(32), email VARCHAR(200), salesforce_user_id VARCHAR(18), "
            "pin_hash VARCHAR(255), active BOOLEAN, created_at TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO agents VALUES ('edred','Edred','','3000','','',NULL,TRUE,'2026-03-06 09:00:00')"
        )
        conn.exec_driver_sql(
            "CREATE TABLE agent_sessions (agent_id VARCHAR(64) PRIMARY KEY, logons JSON, "
            "state_id VARCHAR(64), state_since TIMESTAMP, wrap_up_until TIMESTAMP, call_id VARCHAR(128), "
            "call_direction VARCHAR(16), last_activity_at TIMESTAMP, last_heartbeat_at TIMESTAMP, "
            "connection_lost_at TIMESTAMP, state_before_loss VARCHAR(64), logoff_pending BOOLEAN, "
            "next_due_at TIMESTAMP, version INTEGER)"
        )
    old.dispose()
    store = Store(url)
    store.create_all()
    columns = {c["name"] for c in inspect(store.writer).get_columns("agent_sessions")}
    assert {"call_since", "next_state_id", "next_state_source"} <= columns
    assert "uq_agents_active_extension" in {i["name"] for i in inspect(store.writer).get_indexes("agents")}
    with store.read() as s:
        assert s.execute(text("SELECT extension FROM agents")).scalar_one() == "3000"
    store.create_all()  # a second start changes nothing
    store.dispose()


def test_an_older_store_loses_the_retired_interval_index(database_url):
    """Stores made before it was retired carry ix_intervals_agent_open; start-up drops it, rows stay."""
    store = Store(database_url)
    schema.upgrade(store, "0001")  # the schema stores had when revisions began (0001 upgrades older ones)
    with store.writer.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_intervals_agent_open ON state_intervals (agent_id, ended_at)")
        conn.exec_driver_sql("DROP TABLE alembic_version")  # as a store made before revisions
    store.create_all()
    assert "ix_intervals_agent_open" not in {i["name"] for i in inspect(store.writer).get_indexes("state_intervals")}
    assert "ix_intervals_open" in {i["name"] for i in inspect(store.writer).get_indexes("state_intervals")}
    store.dispose()
