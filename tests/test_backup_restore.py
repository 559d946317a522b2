"""``backup FILE`` copies the SQLite store consistently while ``serve`` runs and writes; ``restore FILE`` brings it
back into a new instance (refused while a ``serve`` runs on the target), where every change accepted before the
backup began is found and the agents' PINs still work (with the pepper carried along)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time

import pytest
import requests

from connector import create_app
from connector.errors import ConnectorError
from connector.parts import get_parts
from connector.upkeep import backup as backups
from tests.helpers.cluster import CLI, Cluster
from tests.helpers.signin import try_pin

AGENTS = [f"agent{n}" for n in range(8)]


def _run(env: dict, cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_backup_under_write_load_restores_every_accepted_change_and_working_pins(tmp_path):
    source = tmp_path / "live"
    source.mkdir()
    cluster = Cluster(f"sqlite:///{source / 'presence.db'}", source, "http://127.0.0.1:9/", {"CONNECTOR_ADAPTERS": ""})
    cluster.cli("init-db")
    (source / "agents.csv").write_text(
        "id,name,pin\n" + "".join(f"{a},{a.title()},{4000 + n}\n" for n, a in enumerate(AGENTS))
    )
    cluster.cli("agents", "import", str(source / "agents.csv"))
    token = cluster.cli("tokens", "create", "--role", "integration", "--name", "load").strip().splitlines()[-1]
    [url] = cluster.start(1, threads=8)
    headers = {"Authorization": f"Bearer {token}"}
    accepted: dict[str, list[tuple[float, str]]] = {a: [] for a in AGENTS}  # (answered at, state_since)
    stop = threading.Event()

    def write(agent: str) -> None:
        with requests.Session() as http:
            assert http.post(f"{url}/api/v1/agents/{agent}/login", json={}, headers=headers, timeout=10).ok
            n = 0
            while not stop.is_set():
                state = ("ready", "break")[n % 2]
                res = http.put(
                    f"{url}/api/v1/agents/{agent}/presence", json={"state": state}, headers=headers, timeout=10
                )
                if res.status_code == 200:
                    accepted[agent].append((time.monotonic(), res.json()["state_since"]))
                n += 1

    writers = [threading.Thread(target=write, args=(a,)) for a in AGENTS]
    try:
        for t in writers:
            t.start()
        time.sleep(1.5)
        began = time.monotonic()
        made = _run(cluster.env, source, "backup", str(tmp_path / "copy.db"))
        time.sleep(0.5)  # writes go on after the backup
        stop.set()
        for t in writers:
            t.join(30)
        assert made.returncode == 0, made.stderr
        assert "integrity ok" in made.stdout and "pepper" in made.stderr
        # the running instance's store cannot be restored over
        refused = _run(cluster.env, source, "restore", str(tmp_path / "copy.db"), "--yes")
        assert refused.returncode == 2 and "is running" in refused.stderr, refused.stderr
    finally:
        stop.set()
        cluster.stop()

    before = {a: [since for at, since in rows if at < began] for a, rows in accepted.items()}
    assert all(len(v) > 5 for v in before.values()), {a: len(v) for a, v in before.items()}
    assert sum(map(len, accepted.values())) > sum(map(len, before.values()))  # and some after it began

    target = tmp_path / "new"
    target.mkdir()
    shutil.copy(source / "pepper", target / "pepper")  # what must travel with the backup (the secret key is in env)
    env = {
        **cluster.env,
        "CONNECTOR_DATABASE_URL": f"sqlite:///{target / 'presence.db'}",
        "CONNECTOR_INSTANCE_PATH": str(target),
    }
    restored = _run(env, target, "restore", str(tmp_path / "copy.db"), "--yes")
    assert restored.returncode == 0, restored.stderr

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(target),
            "CONNECTOR_DATABASE_URL": env["CONNECTOR_DATABASE_URL"],
            "CONNECTOR_SECRET_KEY": env["CONNECTOR_SECRET_KEY"],
            "CONNECTOR_PASSWORD_HASH_COST": "test",
        }
    )
    try:
        db = sqlite3.connect(target / "presence.db")
        for agent, sinces in before.items():
            started = {
                r[0]
                for r in db.execute(
                    "SELECT started_at FROM state_intervals WHERE agent_id = ? AND source = 'api'", (agent,)
                )
            }
            # every change answered before the backup began is there (started_at as the store keeps it)
            missing = [
                s
                for s in sinces
                if s.replace("T", " ").replace("+00:00", "").replace("Z", "") not in {x[:26] for x in started}
            ]
            assert not missing, (agent, missing[:3], sorted(started)[-3:])
        db.close()
        client = app.test_client()
        assert try_pin(client, "agent3", "4003").status_code == 302  # the PIN verifies on the new instance
    finally:
        get_parts(app).bus.stop()
        get_parts(app).store.dispose()


def test_a_backup_never_overwrites_and_postgres_is_told_to_use_pg_dump(tmp_path):
    db = tmp_path / "presence.db"
    sqlite3.connect(db).execute("CREATE TABLE agents (id TEXT)").connection.commit()
    (tmp_path / "exists.db").write_text("keep me")
    with pytest.raises(ConnectorError, match="exists already"):
        backups.backup(str(db), str(tmp_path / "exists.db"))
    assert (tmp_path / "exists.db").read_text() == "keep me"
    with pytest.raises(ConnectorError, match="pg_dump"):
        backups.backup(None, str(tmp_path / "x.db"))
    with pytest.raises(ConnectorError, match="pg_restore"):
        backups.restore(str(db), None)


def test_a_restore_refuses_a_file_that_is_not_a_store_and_leaves_the_target(tmp_path):
    target = tmp_path / "presence.db"
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE agents (id TEXT)")
    conn.execute("INSERT INTO agents VALUES ('edred')")
    conn.commit()
    conn.close()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ConnectorError, match="not a Presence Connector store"):
        backups.restore(str(other), str(target))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ConnectorError, match="not a SQLite database"):
        backups.restore(str(junk), str(target))
    assert sqlite3.connect(target).execute("SELECT id FROM agents").fetchall() == [("edred",)]
