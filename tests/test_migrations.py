"""The store's schema under Alembic: the revisions build what the models say, stores made by earlier versions
upgrade keeping every row, instances starting together migrate once, and the `db` commands."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from connector.app import create_app  # every model registered (the Salesforce tables too)
from connector.auth import accounts
from connector.cli import main
from connector.parts import get_parts
from connector.store import Store, schema

LEGACY = Path(__file__).parent / "fixtures" / "legacy_stores"

#: tables a revision drops on purpose (0002: the counters' sync state; counters go to their own Salesforce
#: object since 0.2.0 and are sent to it once again)
RETIRED_TABLES = {"salesforce_counter_sync"}


def _every_revision() -> list[str]:
    """What an empty store is brought through, oldest first."""
    return [revision for revision, _, _ in reversed(schema.history())]


def _all_rows(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table but the version table, sorted, as plain values."""
    rows = {}
    with store.reader.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table in ("alembic_version", "sqlite_sequence"):
                continue
            columns = [c["name"] for c in inspect(conn).get_columns(table)]
            selected = ", ".join(f'"{c}"' for c in columns)
            rows[table] = sorted(
                (tuple(zip(columns, r)) for r in conn.execute(text(f'SELECT {selected} FROM "{table}"'))), key=repr
            )
    return rows


def test_a_new_store_is_at_the_newest_revision_and_its_schema_is_the_models(database_url):
    """The migrated schema equals the models (autogenerate finds nothing): a model change without a revision
    fails here."""
    store = Store(database_url)
    assert store.create_all() == _every_revision()
    assert schema.current(store) == schema.head()
    assert schema.differences(store) == []
    assert store.create_all() == []  # a second start changes nothing
    store.dispose()


def test_a_new_postgresql_store_is_at_the_newest_revision_and_its_schema_is_the_models(postgres):
    store = Store(postgres.new_database())
    assert store.create_all() == _every_revision()
    assert schema.differences(store) == []
    store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_running_every_revision_on_an_empty_store_builds_the_models(backend, tmp_path, request):
    """A new store is made in one create_all and stamped at head; the revision chain run from nothing must end
    in the same schema, or an upgraded store would differ from a new one."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'presence.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    store = Store(url)
    assert schema.upgrade_through_revisions(store) == _every_revision()
    assert schema.differences(store) == []
    assert store.create_all() == []  # at head already: nothing more to run
    store.dispose()


def _legacy_store(commit: str, backend: str, tmp_path: Path, request) -> str:
    """A store as that commit's own code left it (tests/fixtures/legacy_stores/README.md); its URL."""
    if backend == "sqlite":
        path = tmp_path / "presence.db"
        with sqlite3.connect(path) as conn:
            conn.executescript((LEGACY / f"store_{commit}.sql").read_text())
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres").new_database()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute((LEGACY / f"store_{commit}.postgresql.sql").read_text())  # pg_dump --inserts
    return url


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("commit", ["c949ec5", "84b7936"])
def test_a_store_made_by_an_earlier_version_upgrades_keeping_every_row(commit, backend, tmp_path, request):
    url = _legacy_store(commit, backend, tmp_path, request)
    old = Store(url)
    before = _all_rows(old)
    assert schema.current(old) is None and before["agents"] and before["state_intervals"]
    old.dispose()

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "CONNECTOR_DATABASE_URL": url,
            "CONNECTOR_SECRET_KEY": "fixture-secret",
            "CONNECTOR_PEPPER": "fixture-pepper",
            "CONNECTOR_PASSWORD_HASH_COST": "test",
        }
    )
    store = get_parts(app).store
    try:
        assert schema.current(store) == schema.head()
        assert schema.differences(store) == []
        after = _all_rows(store)
        for table, rows in before.items():
            if table in RETIRED_TABLES:
                assert table not in after, table
                continue
            # each old row is still there with its values (columns added since are new, and empty)
            old_columns = {name for name, _ in rows[0]} if rows else set()
            kept = sorted((tuple(p for p in row if p[0] in old_columns) for row in after[table]), key=repr)
            assert kept == rows, table
        # the demo accounts still sign in: the agents with their PIN, the admin with the password
        assert accounts.authenticate_agent_pin(store, "edred", "1234") is not None
        assert accounts.authenticate_user(store, "admin", "admin-demo") is not None
        assert {"edred", "amira", "jonas"} <= {a["id"] for a in get_parts(app).service.agents()}
    finally:
        get_parts(app).bus.stop()
        store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_instances_starting_together_migrate_once(backend, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'presence.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres").new_database()
    )
    stores = [Store(url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    results: list = [None] * len(stores)

    def start_instance(n: int) -> None:
        start.wait()
        try:
            results[n] = stores[n].create_all()
        except Exception as exc:  # the assertion below names it
            results[n] = exc

    threads = [threading.Thread(target=start_instance, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(repr, results)) == sorted([repr(_every_revision())] + ["[]"] * (len(stores) - 1))
    with stores[0].reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    for s in stores:
        s.dispose()


def test_db_commands_say_the_revision_and_upgrade_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "no revision" in run("db", "current")
    assert f"applied: {', '.join(_every_revision())}" in run("db", "upgrade")
    assert run("db", "current").strip() == f"{schema.head()} (head)"
    assert "nothing to do" in run("db", "upgrade")
    history = run("db", "history")
    assert "<base> -> 0001: Baseline" in history and schema.head() in history
