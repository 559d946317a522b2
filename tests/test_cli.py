"""The presence-connector command line against a real store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from connector.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CONNECTOR_PRESENCE_CONFIG", raising=False)
    monkeypatch.setenv("CONNECTOR_PASSWORD_HASH_COST", "test")  # full-cost scrypt would dominate these tests
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return run


def test_tokens_create_prints_the_token_alone_on_the_last_line(cli):
    cli("agents", "add", "edred", "--name", "Ed Redfern")
    result = cli("tokens", "create", "--role", "agent", "--agent", "edred")
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("pc_") and " " not in token


def test_an_agent_token_needs_an_agent(cli):
    result = cli("tokens", "create", "--role", "agent")
    assert result.exit_code == 2 and "--agent" in result.output


def test_agents_import_creates_then_updates_and_refuses_a_bad_row(cli, tmp_path):
    good = tmp_path / "agents.csv"
    good.write_text("id,name,team,extension,pin\nedred,Ed Redfern,Inbound,3000,1234\namira,Amira,Support,3001,\n")
    assert "2 agents created, 0 updated" in cli("agents", "import", str(good)).output
    assert "0 agents created, 2 updated" in cli("agents", "import", str(good)).output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,pin\ntom,Tom,987\n")
    result = cli("agents", "import", str(bad))
    assert result.exit_code == 2 and "line 2" in result.output and "PIN" in result.output
    assert "987" not in result.output  # the PIN itself is never echoed
    listed = json.loads(cli("agents", "list", "--json").output)
    assert [a["id"] for a in listed] == ["edred", "amira"]


def test_init_db_with_demo_data_prints_the_logins(cli):
    result = cli("init-db", "--demo")
    assert result.exit_code == 0 and "supervisor" in result.output and "PIN 1234" in result.output
    assert "demo data already present" in cli("init-db", "--demo").output


def test_export_time_tracking_as_json_to_a_file(cli, tmp_path):
    cli("init-db", "--demo")
    out = tmp_path / "tt.json"
    result = cli("export", "time-tracking", "--format", "json", "-o", str(out))
    assert result.exit_code == 0
    rows = json.loads(out.read_text())
    assert rows and {"agent_id", "date", "state_id", "seconds"} <= set(rows[0])


def test_export_rejects_an_unknown_logon_source(cli):
    result = cli("export", "logon-events", "--include", "Carrier Pigeon")
    assert result.exit_code == 2 and "unknown logon source" in result.output
